"""The official openai SDK, unchanged, against a real uvicorn on 127.0.0.1: streaming and not,
with the scripted model, and once end to end with the real bundled model under `rag serve`."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from api_helpers import API_CORPUS, GROKKING
from openai import OpenAI
from openai.types.chat import ChatCompletionMessageParam
from servers import free_port, running

QUESTION: list[ChatCompletionMessageParam] = [{"role": "user", "content": "What is grokking?"}]


def citations_of(obj: Any) -> list[dict[str, Any]]:
    """The `citations` extra field, as the SDK keeps unknown fields."""
    return list((obj.model_extra or {}).get("citations") or [])


def test_sdk_non_streaming(live_server: Callable[..., Any]) -> None:
    with live_server() as url:
        client = OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)
        completion = client.chat.completions.create(model="rag", messages=QUESTION)
        models = client.models.list()

    message = completion.choices[0].message
    assert message.role == "assistant" and "[1]" in (message.content or "")
    assert completion.choices[0].finish_reason == "stop"
    assert [c["title"] for c in citations_of(message)] == [GROKKING]
    assert (message.model_extra or {})["refused"] is False
    assert [m.id for m in models.data] == ["fake"]


def test_sdk_streaming(live_server: Callable[..., Any]) -> None:
    with live_server() as url:
        client = OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)
        stream = client.chat.completions.create(model="rag", messages=QUESTION, stream=True)
        chunks = list(stream)

    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert "[1]" in text
    final = chunks[-1].choices[0]
    assert final.finish_reason == "stop"
    assert [c["title"] for c in citations_of(final.delta)] == [GROKKING]


def test_sdk_sees_openai_errors(live_server: Callable[..., Any]) -> None:
    with live_server(api_key="k3y") as url:
        anonymous = OpenAI(base_url=f"{url}/v1", api_key="wrong", max_retries=0)
        keyed = OpenAI(base_url=f"{url}/v1", api_key="k3y", max_retries=0)
        with pytest.raises(openai.AuthenticationError):
            anonymous.models.list()
        with pytest.raises(openai.NotFoundError) as not_found:
            keyed.chat.completions.create(model="gpt-4o", messages=QUESTION)
        with pytest.raises(openai.BadRequestError) as bad:
            keyed.chat.completions.create(model="rag", messages=[])
        ok = keyed.chat.completions.create(model="rag", messages=QUESTION)

    assert not_found.value.code == "model_not_found"
    assert bad.value.param == "messages"
    assert ok.choices[0].message.content


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
    chunks = list(client.chat.completions.create(model="rag", messages=question, stream=True))

    for message_text, extra in [
        (
            completion.choices[0].message.content or "",
            completion.choices[0].message.model_extra or {},
        ),
        (
            "".join(c.choices[0].delta.content or "" for c in chunks),
            chunks[-1].choices[0].delta.model_extra or {},
        ),
    ]:
        assert message_text.strip()
        cited = {c["n"]: c["title"] for c in extra["citations"]}
        assert set(cited.values()) <= titles, "a cited title the store never returned"
        assert {int(n) for n in re.findall(r"\[(\d+)\]", message_text)} <= set(cited), "a marker without a citation"
        assert extra["refused"] in (True, False)
        if not extra["refused"]:
            assert cited
    assert chunks[-1].choices[0].finish_reason == "stop"
