"""Citations you can check: the model's `[n]` markers read off each sentence, and markers that
map to no numbered source dropped and counted."""

from __future__ import annotations

import pytest

from rag.citations import map_citations, parse_sentences
from rag.types import AnswerSentence, Source


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("claim. [1] Next", [("claim.", [1]), ("Next", [])]),
        (
            "First claim [1]. Second claim [2, 3].",
            [("First claim.", [1]), ("Second claim.", [2, 3])],
        ),
        ("A claim [1][2][1].", [("A claim.", [1, 2])]),
        ("Claim.[1]", [("Claim.", [1])]),
        (
            "No markers at all. None here either.",
            [("No markers at all.", []), ("None here either.", [])],
        ),
        ("Line one [1].\nLine two [2].", [("Line one.", [1]), ("Line two.", [2])]),
        ("", []),
    ],
)
def test_parse_sentences_attaches_markers_to_their_sentence(text: str, expected: list[tuple[str, list[int]]]) -> None:
    assert [(s.text, s.citations) for s in parse_sentences(text)] == expected


def test_parse_sentences_does_not_double_the_period() -> None:
    assert [(s.text, s.citations) for s in parse_sentences("A claim. [1]. Next claim [2].")] == [
        ("A claim.", [1]),
        ("Next claim.", [2]),
    ]


def test_map_citations_keeps_markers_that_name_a_source_and_counts_the_rest() -> None:
    sources = [Source(1, "a", "A", ("x",)), Source(2, "b", "B", ("y",))]
    sentences = [AnswerSentence("One.", [1, 7]), AnswerSentence("Two.", [3]), AnswerSentence("Three.", [2])]
    assert map_citations(sentences, sources) == 2
    assert [s.citations for s in sentences] == [[1], [], [2]]
