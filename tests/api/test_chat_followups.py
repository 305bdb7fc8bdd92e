"""Follow-up questions through the chat endpoint: "it" resolves to the paper of the last turn."""

from __future__ import annotations

from typing import Any

import pytest
from api_helpers import GROKKING, TVERSKY
from fastapi.testclient import TestClient


def ask(client: TestClient, messages: list[dict[str, Any]]) -> dict[str, Any]:
    response = client.post("/v1/chat/completions", json={"model": "rag", "messages": messages})
    assert response.status_code == 200, response.text
    return dict(response.json())


@pytest.mark.parametrize("echo_citations", [True, False], ids=["web-page", "plain-openai-client"])
def test_follow_up_is_answered_about_the_same_paper(client: TestClient, echo_citations: bool) -> None:
    messages: list[dict[str, Any]] = [{"role": "user", "content": "What is grokking?"}]
    first = ask(client, messages)["choices"][0]["message"]
    assert first["citations"][0]["title"] == GROKKING
    assistant: dict[str, Any] = {"role": "assistant", "content": first["content"]}
    if echo_citations:
        assistant["citations"] = first["citations"]
    # a follow-up its abstract answers ("smaller datasets require increasing amounts of optimization")
    follow_up = "and how much optimization does it need on smaller datasets?"
    messages += [assistant, {"role": "user", "content": follow_up}]

    second = ask(client, messages)

    assert second["query"] != follow_up
    assert "grokking" in second["query"].casefold()
    message = second["choices"][0]["message"]
    assert message["refused"] is False
    assert [c["title"] for c in message["citations"]][0] == GROKKING


def test_a_new_standalone_question_changes_the_subject(client: TestClient) -> None:
    first = ask(client, [{"role": "user", "content": "What is grokking?"}])["choices"][0]["message"]
    question = "Which paper proposes a differentiable Tversky similarity?"
    messages = [
        {"role": "user", "content": "What is grokking?"},
        {"role": "assistant", "content": first["content"], "citations": first["citations"]},
        {"role": "user", "content": question},
    ]

    second = ask(client, messages)

    assert second["query"] == question
    assert second["choices"][0]["message"]["citations"][0]["title"] == TVERSKY


def test_the_subject_carries_over_several_turns(client: TestClient) -> None:
    messages: list[dict[str, Any]] = [
        {"role": "user", "content": "Which paper proposes a differentiable Tversky similarity?"}
    ]
    for follow_up in ["What problem does this paper address?", "And what about its results?"]:
        reply = ask(client, messages)["choices"][0]["message"]
        messages += [
            {"role": "assistant", "content": reply["content"], "citations": reply["citations"]},
            {"role": "user", "content": follow_up},
        ]

    last = ask(client, messages)

    assert "Tversky" in last["query"]
    assert last["choices"][0]["message"]["citations"][0]["title"] == TVERSKY


def test_the_footer_sent_back_resolves_it_like_citations(client: TestClient) -> None:
    """`llm` and LangChain drop `citations` but send the content back, footer included."""
    first = ask(client, [{"role": "user", "content": "What is grokking?"}])["choices"][0]["message"]
    assert first["content"].endswith(f"Sources:\n[1] {GROKKING}")
    follow_up = "and how much optimization does it need on smaller datasets?"
    history = [{"role": "user", "content": "What is grokking?"}]

    with_footer = ask(
        client, [*history, {"role": "assistant", "content": first["content"]}, {"role": "user", "content": follow_up}]
    )
    with_citations = ask(
        client,
        [
            *history,
            {
                "role": "assistant",
                "content": first["content"].split("\n\nSources:")[0],
                "citations": first["citations"],
            },
            {"role": "user", "content": follow_up},
        ],
    )

    assert GROKKING in with_footer["query"]
    assert with_footer["query"] == with_citations["query"]
