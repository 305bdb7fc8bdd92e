"""The domain types: how an answer sentence shows its markers, and what an answer serializes to."""

from __future__ import annotations

from rag.generation import TokenUsage
from rag.types import Answer, AnswerSentence, Citation, Coverage


def test_a_sentence_carrying_its_markers_inline_is_not_marked_twice() -> None:
    inline = AnswerSentence("Two themes: graphs [1][2] and speed [3].", [1, 2, 3], True, 1.0)
    assert inline.rendered() == "Two themes: graphs [1][2] and speed [3]."
    assert AnswerSentence("A claim.", [2], True, 1.0).rendered() == "A claim. [2]"


def test_an_answer_serializes_its_kind_coverage_and_rounded_figures() -> None:
    answer = Answer(
        "q?",
        "a",
        False,
        "extractive",
        "none",
        "extractive",
        citations=[Citation(1, "T", "p", "s")],
        sentences=[AnswerSentence("A claim.", [1], True, 0.12345, kind="quote")],
        coverage=Coverage(True, 0.71234, {"dense": 0.5}, ("X",)),
        timings={"total_ms": 12.345, "first_token_ms": None},
    )
    data = answer.to_dict()
    assert data["kind"] == "answer" and data["citations"] == [{"n": 1, "title": "T", "paper_id": "p", "snippet": "s"}]
    assert data["sentences"][0] == {
        "text": "A claim.",
        "citations": [1],
        "supported": True,
        "support": 0.123,
        "kind": "quote",
        "check": "",
    }
    assert data["coverage"] == {
        "covered": True,
        "score": 0.712,
        "signals": {"dense": 0.5},
        "missing_terms": ["X"],
        "contradiction": None,
    }
    refused = Coverage(False, 0.9, {}, ("a premise its source contradicts",), ("p", "X is faster."))
    assert refused.to_dict()["contradiction"] == {"paper_id": "p", "sentence": "X is faster."}
    assert data["timings"] == {"total_ms": 12.3, "first_token_ms": None}


def test_an_answer_reports_its_token_usage_and_none_by_default() -> None:
    quoted = Answer("q", "a", refused=False, mode="extractive", model="none", prompt="none")
    written = Answer("q", "a", refused=False, mode="generative", model="m", prompt="p", usage=TokenUsage(40, 12, 1))

    assert quoted.to_dict()["usage"] == {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
    assert written.to_dict()["usage"] == {"prompt_tokens": 40, "completion_tokens": 12, "total_tokens": 52}
