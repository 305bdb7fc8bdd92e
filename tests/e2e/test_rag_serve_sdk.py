"""The official openai SDK end to end: `rag serve` in a subprocess with the real bundled model,
over the API corpus. The model's wording is never asserted, only what the API guarantees."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from api_helpers import API_CORPUS
from openai import OpenAI
from openai.types.chat import ChatCompletionMessageParam
from servers import free_port, running


@pytest.fixture
def rag_serve(tmp_path: Path) -> Iterator[str]:
    """`rag serve` in a subprocess with the real bundled model, on a free loopback port."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env.update(RAG_STORE_PATH=str(tmp_path / "store"), RAG_CORPUS_PATH=str(API_CORPUS), RAG_N_THREADS="2")
    rag = Path(sys.executable).parent / "rag"
    url = f"http://127.0.0.1:{port}"
    command = [str(rag), "serve", "--port", str(port)]
    with running(command, f"{url}/healthz", tmp_path / "serve.log", timeout_s=180, env=env):
        yield url


@pytest.mark.slow
def test_real_model_through_rag_serve_and_the_sdk(rag_serve: str) -> None:
    client = OpenAI(base_url=f"{rag_serve}/v1", api_key="unused", max_retries=0, timeout=120)
    titles = {p["title"] for p in httpx.get(f"{rag_serve}/v1/papers", params={"limit": 100}).json()["data"]}
    model_id = client.models.list().data[0].id
    assert model_id.endswith(".gguf")
    question: list[ChatCompletionMessageParam] = [
        {"role": "user", "content": "Which paper proposes a differentiable Tversky similarity?"}
    ]

    completion = client.chat.completions.create(model=model_id, messages=question)
    chunks = list(
        client.chat.completions.create(
            model="rag", messages=question, stream=True, stream_options={"include_usage": True}
        )
    )
    usage_chunk, chunks = chunks[-1], chunks[:-1]

    for message_text, extra, usage in [
        (
            completion.choices[0].message.content or "",
            completion.choices[0].message.model_extra or {},
            completion.usage,
        ),
        (
            "".join(c.choices[0].delta.content or "" for c in chunks),
            chunks[-1].choices[0].delta.model_extra or {},
            usage_chunk.usage,
        ),
    ]:
        # the model's own counts (llama.cpp's tokens, chat template included): it was asked
        # for the lead unless the answer is a refusal, which is decided before any generation
        assert usage is not None and usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
        assert (usage.prompt_tokens > 0) == (not extra["refused"])
        assert message_text.strip()
        cited = {c["n"]: c["title"] for c in extra["citations"]}
        assert set(cited.values()) <= titles, "a cited title the store never returned"
        answer, _, footer = message_text.partition("\n\nSources:\n")
        assert {int(n) for n in re.findall(r"\[(\d+)\]", answer)} <= set(cited), "a marker without a citation"
        assert footer.splitlines() == [f"[{n}] {title}" for n, title in cited.items()]
        assert extra["refused"] in (True, False)
        if not extra["refused"]:
            assert cited
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert usage_chunk.choices == []
