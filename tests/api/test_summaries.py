"""POST /v1/summaries, streamed and not, and chat messages routed to summaries."""

from __future__ import annotations

import re

import pytest
from api_helpers import GROKKING, ScriptedModel, sse_events
from fastapi.testclient import TestClient
from summary_phrasings import PHRASINGS, opening_names


def test_topic_summary_cites_every_sentence(client: TestClient, model: ScriptedModel) -> None:
    response = client.post("/v1/summaries", json={"topic": "grokking and generalization", "mode": "extractive"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert not body["refused"] and body["coverage"]["used"] >= 1
    assert GROKKING in {c["title"] for c in body["citations"]}
    assert all(s["citations"] for s in body["sentences"])
    assert "**Sources**" in body["markdown"]


def test_named_papers_and_unknown_title(client: TestClient, model: ScriptedModel) -> None:
    ok = client.post("/v1/summaries", json={"papers": [GROKKING], "mode": "extractive"})
    assert ok.status_code == 200 and [c["title"] for c in ok.json()["citations"]] == [GROKKING]
    missing = client.post("/v1/summaries", json={"papers": ["Grokking beyond the horizon of nothing"]})
    assert missing.status_code == 404
    assert "nearest titles" in missing.json()["error"]["message"]


def test_off_collection_topic_is_refused(client: TestClient, model: ScriptedModel) -> None:
    body = client.post(
        "/v1/summaries", json={"topic": "the history of medieval French poetry", "mode": "extractive"}
    ).json()
    assert body["refused"] and body["markdown"].startswith("Nothing in the collection matches")


def test_bad_summary_requests(client: TestClient) -> None:
    assert client.post("/v1/summaries", json={}).status_code == 400
    wrong_type = client.post("/v1/summaries", json={"topic": 5})
    assert wrong_type.status_code == 400 and wrong_type.json()["error"]["type"] == "invalid_request_error"


def test_streamed_summary_reports_progress(client: TestClient, model: ScriptedModel) -> None:
    response = client.post(
        "/v1/summaries", json={"topic": "grokking and generalization", "stream": True, "mode": "extractive"}
    )
    assert response.status_code == 200
    events = sse_events(response.text)
    assert events[-1] == "[DONE]"
    kinds = [e["type"] for e in events[:-1]]
    assert kinds[0] == "progress" and kinds[-1] == "summary"


def test_chat_summary_request_is_routed_to_summaries(client: TestClient, model: ScriptedModel) -> None:
    response = client.post(
        "/v1/chat/completions",
        json={"messages": [{"role": "user", "content": "Summarize what the collection says about grokking"}]},
    )
    assert response.status_code == 200, response.text
    message = response.json()["choices"][0]["message"]
    assert re.match(r'\d+ papers? in the collection match(?:es)? "grokking"', message["content"])
    assert "**Sources**" in message["content"] and GROKKING in {c["title"] for c in message["citations"]}


@pytest.mark.parametrize(("request_text", "topic"), PHRASINGS)
def test_every_phrasing_gives_the_same_topic_in_summaries_and_chat(
    client: TestClient, model: ScriptedModel, request_text: str, topic: str
) -> None:
    summary = client.post("/v1/summaries", json={"topic": request_text, "mode": "extractive"})
    assert summary.status_code == 200, summary.text
    assert summary.json()["topic"] == topic and opening_names(summary.json()["markdown"], topic)

    chat = client.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": request_text}]})
    assert chat.status_code == 200, chat.text
    assert opening_names(chat.json()["choices"][0]["message"]["content"], topic)
