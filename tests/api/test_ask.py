"""POST /v1/ask: the `rag ask --json` shape over HTTP, a summary for a request for one."""

from __future__ import annotations

import re

from api_helpers import GROKKING, ScriptedModel
from fastapi.testclient import TestClient

from rag.service import RagService


def test_ask_returns_the_cli_json_shape(client: TestClient, api_service: RagService) -> None:
    expected = api_service.ask("What is grokking?").to_dict()

    response = client.post("/v1/ask", json={"question": "What is grokking?"})

    assert response.status_code == 200
    body = response.json()
    assert list(body) == list(expected)
    for key in (
        "question",
        "answer",
        "refused",
        "citations",
        "retrieved",
        "sentences",
        "mode",
        "prompt",
    ):
        assert body[key] == expected[key], key
    assert body["citations"][0]["title"] == GROKKING


def test_ask_extractive_quotes_without_the_model(client: TestClient, model: ScriptedModel) -> None:
    response = client.post("/v1/ask", json={"question": "What is grokking?", "mode": "extractive", "k": 3})

    assert response.status_code == 200
    body = response.json()
    assert body["mode"] == "extractive" and body["model"] == "none"
    assert len(body["retrieved"]) <= 3
    assert body["citations"][0]["title"] == GROKKING
    assert model.calls == []
    assert body["usage"] == {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}


def test_ask_reports_the_models_tokens(client: TestClient, model: ScriptedModel) -> None:
    body = client.post("/v1/ask", json={"question": "What is grokking?"}).json()

    assert body["usage"]["completion_tokens"] == model.tokens_sent > 0
    assert body["usage"]["prompt_tokens"] == sum(len(m["content"].split()) for call in model.calls for m in call)


def test_ask_refuses_what_the_collection_does_not_cover(client: TestClient) -> None:
    response = client.post("/v1/ask", json={"question": "What is the boiling point of water on Everest?"})

    assert response.status_code == 200
    assert response.json()["refused"] is True


def test_ask_answers_a_summary_request_with_a_summary(client: TestClient, model: ScriptedModel) -> None:
    response = client.post(
        "/v1/ask", json={"question": "Summarize what the collection says about grokking", "mode": "extractive"}
    )

    assert response.status_code == 200
    body = response.json()
    assert body["kind"] == "summary" and body["refused"] is False
    assert (
        re.match(r'\d+ papers? in the collection match(?:es)? "grokking"', body["answer"])
        and "**Sources**" in body["answer"]
    )
    assert GROKKING in {c["title"] for c in body["citations"]}
    assert model.calls == []
