"""POST /v1/chat/completions through the real app: shapes, streaming, refusals, citations."""

from __future__ import annotations

from typing import Any

import pytest
from api_helpers import GROKKING, ScriptedModel, sse_events
from fastapi.testclient import TestClient

from rag.prompts import CANNOT_ANSWER
from rag.service import RagService


def chat(question: str, **extra: Any) -> dict[str, Any]:
    return {"model": "rag", "messages": [{"role": "user", "content": question}], **extra}


def test_answer_carries_markers_and_citations(client: TestClient) -> None:
    response = client.post("/v1/chat/completions", json=chat("What is grokking?"))

    assert response.status_code == 200
    body = response.json()
    assert body["object"] == "chat.completion" and body["id"].startswith("chatcmpl-")
    assert body["model"] == "fake"
    assert body["query"] == "What is grokking?"
    choice = body["choices"][0]
    assert choice["finish_reason"] == "stop"
    message = choice["message"]
    assert message["role"] == "assistant" and message["refused"] is False
    assert "[1]" in message["content"]
    assert [c["title"] for c in message["citations"]] == [GROKKING]
    citation = message["citations"][0]
    assert citation["n"] == 1 and citation["paper_id"] and citation["snippet"]


def test_stream_sends_chunks_then_citations_then_done(client: TestClient) -> None:
    plain = client.post("/v1/chat/completions", json=chat("What is grokking?")).json()

    response = client.post("/v1/chat/completions", json=chat("What is grokking?", stream=True))

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = sse_events(response.text)
    assert events[-1] == "[DONE]"
    chunks = events[:-1]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert len({c["id"] for c in chunks}) == 1
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    pieces = [c["choices"][0]["delta"].get("content") for c in chunks[1:-1]]
    assert len(pieces) >= 2, "each verified sentence is its own chunk"
    streamed, whole = "".join(pieces), plain["choices"][0]["message"]["content"]
    assert streamed.split() == whole.split(), "the stream adds up to the non-streamed answer"
    final = chunks[-1]
    assert final["choices"][0]["finish_reason"] == "stop"
    assert [c["title"] for c in final["choices"][0]["delta"]["citations"]] == [GROKKING]
    assert final["choices"][0]["delta"]["refused"] is False
    assert final["query"] == "What is grokking?"


@pytest.mark.parametrize("stream", [False, True])
def test_refusal_is_an_ordinary_message_with_a_flag(client: TestClient, model: ScriptedModel, stream: bool) -> None:
    response = client.post("/v1/chat/completions", json=chat("Who wrote the novel Pride and Prejudice?", stream=stream))

    assert response.status_code == 200
    if stream:
        chunks = sse_events(response.text)[:-1]
        content = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
        final = chunks[-1]["choices"][0]["delta"]
        refused, citations = final["refused"], final["citations"]
    else:
        message = response.json()["choices"][0]["message"]
        content, refused, citations = message["content"], message["refused"], message["citations"]
        assert message["refusal"] is None
    assert refused is True
    assert content.startswith(CANNOT_ANSWER)
    assert citations == []
    assert model.calls == [], "a refusal is decided before the model runs"


def test_chat_calls_the_service_like_the_cli(
    client: TestClient, api_service: RagService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The route hands the question to `respond`, as `rag ask` does (which routes a request for a
    summary to the summarizer), streaming through `on_text`."""
    calls: list[tuple[str, bool]] = []
    real_respond = api_service.respond

    def spy(question: str, k: int | None = None, mode: str | None = None, on_text: Any = None) -> Any:
        calls.append((question, on_text is not None))
        return real_respond(question, k=k, mode=mode, on_text=on_text)

    monkeypatch.setattr(api_service, "respond", spy)
    client.post("/v1/chat/completions", json=chat("What is grokking?", stream=True))

    assert calls == [("What is grokking?", True)]


def test_system_prompt_and_sampling_fields_are_accepted(client: TestClient) -> None:
    body = chat("What is grokking?", temperature=0.7, max_tokens=50, top_p=1, n=1, user="u1", seed=3)
    body["messages"].insert(0, {"role": "system", "content": "You are a helpful assistant."})

    response = client.post("/v1/chat/completions", json=body)

    assert response.status_code == 200
    assert response.json()["query"] == "What is grokking?"


def test_content_as_text_parts(client: TestClient) -> None:
    body = {
        "model": "rag",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "What is grokking?"}]}],
    }

    response = client.post("/v1/chat/completions", json=body)

    assert response.status_code == 200
    assert response.json()["choices"][0]["message"]["citations"][0]["title"] == GROKKING


@pytest.mark.parametrize("name", ["rag", "fake", None])
def test_model_may_be_the_configured_name_or_the_alias(client: TestClient, name: str | None) -> None:
    body = chat("What is grokking?")
    if name is None:
        del body["model"]
    else:
        body["model"] = name

    response = client.post("/v1/chat/completions", json=body)

    assert response.status_code == 200
    assert response.json()["model"] == "fake"


# ---- what ordinary OpenAI clients read: usage, the Sources footer, refused parameters ----------


def test_usage_is_the_models_own_count(client: TestClient, model: ScriptedModel) -> None:
    body = client.post("/v1/chat/completions", json=chat("What is grokking?")).json()

    usage = body["usage"]
    # the scripted model counts a word as a token (FakeGenerator.count_tokens)
    assert usage["prompt_tokens"] == sum(len(m["content"].split()) for call in model.calls for m in call) > 0
    assert usage["completion_tokens"] == model.tokens_sent > 0
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_a_refusal_asks_no_model_and_uses_no_tokens(client: TestClient, model: ScriptedModel) -> None:
    body = client.post("/v1/chat/completions", json=chat("What is the boiling point of tungsten?")).json()

    assert body["choices"][0]["message"]["refused"] is True
    assert model.calls == []
    assert body["usage"] == {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}


def test_include_usage_adds_a_last_chunk_without_choices(client: TestClient, model: ScriptedModel) -> None:
    asked = chat("What is grokking?", stream=True, stream_options={"include_usage": True})

    events = sse_events(client.post("/v1/chat/completions", json=asked).text)
    tokens_sent = model.tokens_sent
    plain = sse_events(client.post("/v1/chat/completions", json=chat("What is grokking?", stream=True)).text)

    assert events[-1] == "[DONE]"
    last = events[-2]
    assert last["choices"] == [] and last["object"] == "chat.completion.chunk"
    assert last["usage"]["completion_tokens"] == tokens_sent > 0
    assert last["usage"]["total_tokens"] == last["usage"]["prompt_tokens"] + last["usage"]["completion_tokens"]
    assert events[-3]["choices"][0]["finish_reason"] == "stop"
    assert all("usage" not in e for e in events[:-2])
    assert all("usage" not in e for e in plain[:-1]), "usage only when asked for, as OpenAI does"


def test_content_ends_with_the_cited_titles(client: TestClient) -> None:
    message = client.post("/v1/chat/completions", json=chat("What is grokking?")).json()["choices"][0]["message"]

    answer, footer = message["content"].split("\n\nSources:\n")
    assert "[1]" in answer
    assert footer == f"[1] {GROKKING}"
    assert [c["title"] for c in message["citations"]] == [GROKKING], "the structured field stays"


def test_the_streamed_footer_is_the_last_content_before_the_citations(client: TestClient) -> None:
    events = sse_events(client.post("/v1/chat/completions", json=chat("What is grokking?", stream=True)).text)
    plain = client.post("/v1/chat/completions", json=chat("What is grokking?")).json()

    text = "".join(e["choices"][0]["delta"].get("content") or "" for e in events[:-1])
    assert events[-3]["choices"][0]["delta"]["content"] == f"\n\nSources:\n[1] {GROKKING}"
    assert text == plain["choices"][0]["message"]["content"]


@pytest.mark.parametrize(
    ("extra", "headers"),
    [({"sources_footer": False}, {}), ({}, {"X-Sources-Footer": "off"})],
    ids=["body-field", "header"],
)
@pytest.mark.parametrize("stream", [False, True])
def test_a_client_turns_the_footer_off(
    client: TestClient, extra: dict[str, Any], headers: dict[str, str], stream: bool
) -> None:
    response = client.post(
        "/v1/chat/completions", json=chat("What is grokking?", stream=stream, **extra), headers=headers
    )

    if stream:
        events = sse_events(response.text)
        text = "".join(e["choices"][0]["delta"].get("content") or "" for e in events[:-1])
        citations = events[-2]["choices"][0]["delta"]["citations"]
    else:
        message = response.json()["choices"][0]["message"]
        text, citations = message["content"], message["citations"]
    assert "[1]" in text and "Sources:" not in text
    assert [c["title"] for c in citations] == [GROKKING]


def test_a_refusal_has_no_footer(client: TestClient) -> None:
    message = client.post("/v1/chat/completions", json=chat("What is the boiling point of tungsten?")).json()
    assert "Sources:" not in message["choices"][0]["message"]["content"]


def test_a_premise_its_source_contradicts_is_refused_with_the_source_quoted_and_listed(
    client: TestClient, model: ScriptedModel
) -> None:
    # the Tversky abstract: "... reduces perplexity by 7.5% ..."
    asked = chat("Why do Tversky projection layers make the language model's perplexity higher?")
    message = client.post("/v1/chat/completions", json=asked).json()["choices"][0]["message"]
    assert message["refused"] is True and model.calls == []
    assert "says otherwise" in message["content"] and "reduces perplexity by 7.5%" in message["content"]
    assert "higher" not in message["content"]
    assert [c["title"] for c in message["citations"]][0].startswith("Tversky")
    assert message["content"].rstrip().splitlines()[-1].startswith("[1] Tversky")  # the footer lists it


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("tools", [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]),
        ("tool_choice", "required"),
        ("tool_choice", {"type": "function", "function": {"name": "lookup"}}),
        ("functions", [{"name": "lookup", "parameters": {"type": "object"}}]),
        ("function_call", "auto"),
        ("response_format", {"type": "json_object"}),
        ("response_format", {"type": "json_schema", "json_schema": {"name": "x", "schema": {}}}),
    ],
)
@pytest.mark.parametrize("stream", [False, True])
def test_parameters_that_would_change_the_answer_are_refused(
    client: TestClient, model: ScriptedModel, field: str, value: Any, stream: bool
) -> None:
    response = client.post("/v1/chat/completions", json=chat("What is grokking?", stream=stream, **{field: value}))

    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and error["code"] == "unsupported_parameter"
    assert error["param"] == field and field in error["message"]
    assert model.calls == []


@pytest.mark.parametrize(
    "harmless",
    [{"response_format": {"type": "text"}}, {"tool_choice": "none"}, {"tools": []}],
    ids=["text-format", "no-tool-choice", "empty-tools"],
)
def test_parameters_that_change_nothing_are_accepted(client: TestClient, harmless: dict[str, Any]) -> None:
    response = client.post("/v1/chat/completions", json=chat("What is grokking?", **harmless))
    assert response.status_code == 200, response.text


def test_the_responses_api_is_a_404_that_names_the_chat_api(client: TestClient) -> None:
    response = client.post("/v1/responses", json={"model": "rag", "input": "What is grokking?"})

    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "unsupported_api" and "/v1/chat/completions" in error["message"]
