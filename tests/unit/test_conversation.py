"""rag.conversation: which questions are follow-ups, and how they are rewritten."""

from __future__ import annotations

import pytest

from rag.conversation import Turn, condense, follow_up_reason, key_terms, rewrite

TITLE = '"Grokking: Generalization Beyond Overfitting"'


@pytest.mark.parametrize(
    "question",
    [
        "and what dataset did it use?",
        "What are its main results?",
        "Who wrote that paper?",
        "How does this method work?",
        "Which dataset did the authors use?",
        "And what about the training data?",
        "And the limitations?",
        "Why?",
    ],
)
def test_follow_ups_are_recognised(question: str) -> None:
    assert follow_up_reason(question) is not None


@pytest.mark.parametrize(
    "question",
    [
        "What is grokking?",
        "Which paper proposes a differentiable Tversky similarity?",
        "What about KANs?",
        "What about the triplet network?",
        "Which paper introduces KANs and how are they trained?",
        "On which scene-understanding benchmark was TopoNet evaluated?",
    ],
)
def test_standalone_questions_are_left_alone(question: str) -> None:
    assert follow_up_reason(question) is None


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("and what dataset did it use?", f"What dataset did {TITLE} use?"),
        ("What are its main results?", f"What are the main results of {TITLE}?"),
        ("Who wrote that paper?", f"Who wrote {TITLE}?"),
        ("Who are the authors of that paper?", f"Who are the authors of {TITLE}?"),
        ("Which dataset did the authors use?", f"Which dataset did the authors of {TITLE} use?"),
        ("How does this method work?", f"How does {TITLE} work?"),
        ("And the limitations?", f"The limitations in {TITLE}?"),
        ("Why?", f"{TITLE}: Why?"),
    ],
)
def test_rewrite_replaces_the_reference(question: str, expected: str) -> None:
    assert rewrite(question, TITLE) == expected


def test_cited_title_is_the_subject() -> None:
    turns = [
        Turn("user", "What is grokking?"),
        Turn("assistant", "Grokking is ... [1]", ("Grokking: Generalization Beyond Overfitting",)),
        Turn("user", "and what dataset did it use?"),
    ]

    condensed = condense(turns)

    assert condensed.rewritten and condensed.subject == TITLE
    assert condensed.query == f"What dataset did {TITLE} use?"
    assert condensed.question == "and what dataset did it use?"


def test_without_citations_the_previous_question_names_the_subject() -> None:
    turns = [
        Turn("user", "What is grokking?"),
        Turn("assistant", "..."),
        Turn("user", "who wrote it?"),
    ]

    assert condense(turns).query == "Who wrote the paper on grokking?"


def test_the_subject_survives_a_chain_of_follow_ups() -> None:
    turns = [
        Turn("user", "What is grokking?"),
        Turn("assistant", "...", ("Grokking: Generalization Beyond Overfitting",)),
        Turn("user", "and what dataset did it use?"),
        Turn("assistant", "..."),
        Turn("user", "who wrote it?"),
    ]

    condensed = condense(turns)

    assert condensed.query == f"Who wrote {TITLE}?"
    assert len(condensed.history) == 3


def test_first_question_and_topic_changes_are_kept_verbatim() -> None:
    assert condense([Turn("user", "  What is grokking? ")]).query == "What is grokking?"
    turns = [
        Turn("user", "What is grokking?"),
        Turn("assistant", "...", ("G",)),
        Turn("user", "What about KANs?"),
    ]
    assert condense(turns).query == "What about KANs?"
    assert condense(turns).reason == "stands on its own"


def test_a_rewrite_over_the_length_limit_falls_back_to_the_question() -> None:
    turns = [
        Turn("user", "What is grokking?"),
        Turn("assistant", "...", ("x" * 500,)),
        Turn("user", "who wrote it?"),
    ]

    condensed = condense(turns, max_chars=100)

    assert condensed.query == "who wrote it?" and not condensed.rewritten


def test_no_user_turn_is_an_error() -> None:
    with pytest.raises(ValueError):
        condense([Turn("assistant", "hello")])


def test_key_terms_drop_question_words_and_repeats() -> None:
    assert key_terms("Which paper proposes a differentiable Tversky similarity for Tversky?") == [
        "differentiable",
        "Tversky",
        "similarity",
    ]
