"""The "Sources" footer: written from citations, read back from a client's echoed content."""

from __future__ import annotations

from rag.api.sources import answer_footer, footer, split_footer
from rag.types import Answer, Citation

GROKKING = Citation(1, "Grokking: Generalization Beyond Overfitting", "a1", "Grokking is ...")
TVERSKY = Citation(2, "Tversky Neural\n Networks", "b2", "We develop ...")


def test_the_footer_lists_each_citation_on_one_line() -> None:
    assert footer([GROKKING, TVERSKY]) == (
        "\n\nSources:\n[1] Grokking: Generalization Beyond Overfitting\n[2] Tversky Neural Networks"
    )
    assert footer([]) == ""


def test_refusals_that_cite_nothing_and_summaries_get_no_footer() -> None:
    answer = Answer("q", "text [1]", refused=False, mode="generative", model="m", prompt="p", citations=[GROKKING])

    assert answer_footer(answer).endswith("[1] Grokking: Generalization Beyond Overfitting")
    # a refusal that quotes the source contradicting the question's premise cites it
    answer.refused = True
    assert answer_footer(answer).endswith("[1] Grokking: Generalization Beyond Overfitting")
    answer.citations = []
    assert answer_footer(answer) == ""
    answer.refused, answer.kind, answer.citations = False, "summary", [GROKKING]
    assert answer_footer(answer) == ""


def test_a_footer_reads_back_into_the_text_and_its_titles() -> None:
    text = "Grokking is delayed generalization. [1] It needs more steps on less data. [2]"

    assert split_footer(text + footer([GROKKING, TVERSKY])) == (
        text,
        ("Grokking: Generalization Beyond Overfitting", "Tversky Neural Networks"),
    )


def test_text_without_a_footer_at_its_end_is_left_alone() -> None:
    mentions = "The paper lists its Sources:\n[1] in a table. More text follows."
    assert split_footer(mentions) == (mentions, ())
    inside = "Answer. [1]\n\nSources:\n[1] A title\n\nAnd a later paragraph."
    assert split_footer(inside) == (inside, ())
    assert split_footer("Answer. [1]\n\nSources:\n[1] A title\n") == ("Answer. [1]", ("A title",))
