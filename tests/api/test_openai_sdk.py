"""The official openai SDK, unchanged, against a real uvicorn on 127.0.0.1: streaming and not,
with the scripted model. (With the real bundled model under `rag serve`: tests/e2e.)"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import openai
import pytest
from api_helpers import GROKKING
from openai import OpenAI
from openai.types.chat import ChatCompletionMessageParam

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
