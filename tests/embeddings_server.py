"""A small OpenAI-compatible /v1/embeddings server over the real bundled embedder, for the tests
of `RemoteEmbedder` (run as a child process: `python tests/embeddings_server.py --port N`).

It serves `MODEL` (the bundled all-MiniLM-L6-v2, 384 dimensions) and `TRUNCATED`, the same
vectors cut to 128 dimensions but reported under `MODEL`'s name: a server whose model changed
under a store built with it. Any other model name is a 404, as OpenAI's API answers.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from pydantic import BaseModel

MODEL = "all-MiniLM-L6-v2"
TRUNCATED = "all-MiniLM-L6-v2-128"
DIMENSIONS = {MODEL: 384, TRUNCATED: 128}


class EmbeddingRequest(BaseModel):
    model: str
    input: str | list[str]


def create_app() -> Any:
    from fastapi import FastAPI
    from fastapi.responses import JSONResponse

    from rag.embedding import Embedder
    from rag.settings import bundled_embedder_path

    embedder = Embedder(bundled_embedder_path())
    app = FastAPI()

    @app.get("/v1/models")
    def models() -> dict[str, Any]:
        return {"object": "list", "data": [{"id": name, "object": "model"} for name in DIMENSIONS]}

    @app.post("/v1/embeddings", response_model=None)
    def embeddings(body: EmbeddingRequest) -> dict[str, Any] | JSONResponse:
        if body.model not in DIMENSIONS:
            error = {"message": f"model {body.model!r} not found", "type": "invalid_request_error"}
            return JSONResponse({"error": error}, status_code=404)
        texts = [body.input] if isinstance(body.input, str) else body.input
        vectors = embedder.embed(texts)[:, : DIMENSIONS[body.model]]
        data = [{"object": "embedding", "index": i, "embedding": v.tolist()} for i, v in enumerate(vectors)]
        return {"object": "list", "model": MODEL, "data": data, "usage": {"prompt_tokens": 0, "total_tokens": 0}}

    return app


if __name__ == "__main__":
    import uvicorn

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run(create_app(), host="127.0.0.1", port=args.port, log_level="warning")
