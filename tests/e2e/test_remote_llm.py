"""Generation through an OpenAI-compatible server (`RAG_LLM_BASE_URL`), streaming included.

The server is llama-cpp-python's own (`python -m llama_cpp.server`) serving the bundled GGUF on
a free 127.0.0.1 port, started once for this module (CI too), with an API key so that the key
is tested as well. Its extra dependencies (sse-starlette, starlette-context) are in the test
extra; the rest it needs (fastapi, uvicorn, pydantic-settings) the project already has.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from servers import free_port, running

from rag.embedding import Embedder
from rag.errors import ModelError
from rag.generation import OpenAICompatibleGenerator, load_generator
from rag.service import RagService
from rag.settings import Settings, bundled_model_path

KEY = "test-key"
ALIAS = "smollm2-remote"


@pytest.fixture(scope="module")
def llm_base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """llama_cpp.server with the bundled model; yields its `/v1` URL."""
    port = free_port()
    log_path = tmp_path_factory.mktemp("llm-server") / "server.log"
    command = [
        sys.executable, "-m", "llama_cpp.server",
        "--model", str(bundled_model_path()),
        "--model_alias", ALIAS,
        "--host", "127.0.0.1",
        "--port", str(port),
        "--n_ctx", "2048",
        "--n_threads", str(min(2, os.cpu_count() or 1)),
        "--api_key", KEY,
    ]  # fmt: skip
    url = f"http://127.0.0.1:{port}/v1"
    with running(command, f"{url}/models", log_path, timeout_s=120, headers={"Authorization": f"Bearer {KEY}"}):
        yield url


def _generator(url: str, key: str | None = KEY) -> OpenAICompatibleGenerator:
    settings = Settings(llm_base_url=url, llm_model=ALIAS, llm_api_key=key)
    generator = load_generator(settings)
    assert isinstance(generator, OpenAICompatibleGenerator)
    return generator


def test_the_remote_model_streams_its_answer_piece_by_piece(llm_base_url: str) -> None:
    messages = [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "Name three colours of the rainbow."},
    ]
    pieces = list(_generator(llm_base_url).stream(messages, max_tokens=24))
    assert len(pieces) > 3  # streamed token by token, not one block at the end
    assert "".join(pieces).strip()


def test_rag_ask_through_the_remote_model(
    llm_base_url: str, fixture_store: Path, fixture_corpus: Path, embedder: Embedder
) -> None:
    """What `rag ask` does with RAG_LLM_BASE_URL set: retrieval here, generation there."""
    settings = Settings(
        store_path=fixture_store,
        corpus_path=fixture_corpus,
        llm_base_url=llm_base_url,
        llm_model=ALIAS,
        llm_api_key=KEY,
        max_tokens=60,
    )
    service = RagService(settings, embedder=embedder)  # the session's embedder: no second load
    shown: list[str] = []
    answer = service.ask("Which paper proposes a differentiable Tversky similarity?", on_text=shown.append)

    assert service.model_name == ALIAS and answer.model == ALIAS
    assert not answer.refused
    assert answer.timings["first_token_ms"] is not None  # the remote stream delivered tokens
    assert answer.timings["generate_ms"] > 0
    assert shown  # the answer reached the caller as it streamed
    titles = {c.title for c in answer.citations}
    assert titles and all("Tversky" in t for t in titles)


def test_a_wrong_api_key_is_one_clear_error(llm_base_url: str) -> None:
    with pytest.raises(ModelError, match="401") as raised:
        list(_generator(llm_base_url, key="wrong").stream([{"role": "user", "content": "hi"}], max_tokens=4))
    assert "RAG_LLM_API_KEY" in str(raised.value)


def test_an_unreachable_server_is_one_clear_error() -> None:
    generator = _generator(f"http://127.0.0.1:{free_port()}/v1")
    with pytest.raises(ModelError, match="cannot reach the model server"):
        list(generator.stream([{"role": "user", "content": "hi"}], max_tokens=4))
