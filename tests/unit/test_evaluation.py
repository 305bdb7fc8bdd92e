"""`rag eval` metrics on a tiny hand-made question file, and the command end to end."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from rag.evaluation import LabelledQuestion, Outcome, evaluate, fact_found, load_questions

A, B, C, D = "Paper A", "Paper B", "Paper C", "Paper D"
CORPUS = [A, B, C, D]


def outcome(
    q: LabelledQuestion,
    retrieved: list[str],
    cited: list[str],
    answer: str = "",
    refused: bool = False,
    sentences: int = 1,
    unsupported: int = 0,
    latency: float = 100.0,
    opening: str | None = None,
) -> Outcome:
    return Outcome(q, retrieved, cited, answer, refused, sentences, unsupported, 0, latency, 50.0, opening=opening)


def test_metrics_on_a_hand_made_question_file(tmp_path: Path) -> None:
    rows = [
        {
            "qid": "q1",
            "kind": "factoid",
            "question": "one?",
            "gold_titles": [A],
            "also_relevant": [],
            "answer_facts": ["Divide-Conquer-Reunion | DCR", "42"],
        },
        {
            "qid": "q2",
            "kind": "multi",
            "question": "two?",
            "gold_titles": [B, C],
            "also_relevant": [D],
            "answer_facts": [],
        },
        {
            "qid": "q3",
            "kind": "unanswerable",
            "question": "three?",
            "gold_titles": [],
            "also_relevant": [],
            "answer_facts": [],
        },
        {
            "qid": "q4",
            "kind": "unanswerable",
            "question": "four?",
            "gold_titles": [],
            "also_relevant": [],
            "answer_facts": [],
        },
    ]
    path = tmp_path / "questions.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    q1, q2, q3, q4 = load_questions(path)
    outcomes = {
        # gold at rank 2; cites the gold paper and an irrelevant one; finds one fact of two (via "DCR")
        "q1": outcome(
            q1, [B, A, C], [A, C], answer="It uses DCR training. [1]", sentences=2, unsupported=1, opening="It uses"
        ),
        # both gold in the top 5, first at rank 1; cites B and the also-relevant D; misses C
        "q2": outcome(q2, [B, D, C], [B, D], sentences=2),
        "q3": outcome(q3, [A], [], refused=True, sentences=0),
        "q4": outcome(q4, [A], ["Invented Title"], answer="Invented. [1]", sentences=1),
    }
    result = evaluate([q1, q2, q3, q4], lambda q: outcomes[q.qid], CORPUS)

    assert result["recall_at_5"] == pytest.approx((1 + 1) / 2)
    assert result["mrr"] == pytest.approx((1 / 2 + 1) / 2)
    assert result["citation_precision"] == pytest.approx((1 / 2 + 2 / 2) / 2)
    assert result["citation_recall"] == pytest.approx((1 + 1 / 2) / 2)
    assert result["answer_fact_accuracy"] == pytest.approx(1 / 2)
    assert result["first_sentence_fact_accuracy"] == 0.0  # "DCR" is in the answer, not its opening
    assert result["by_kind"]["multi"]["first_sentence_fact_accuracy"] is None  # no opening given
    assert result["refusal_accuracy"] == pytest.approx(1 / 2)
    assert result["false_refusal_rate"] == pytest.approx(0.0)
    assert result["invented_citations"] == 1
    assert result["unsupported_sentence_rate"] == pytest.approx(1 / 5)  # 1 of 2 + 2 + 0 + 1 sentences
    assert result["latency_ms_p50"] == 100.0 and result["first_token_ms_p50"] == 50.0
    assert set(result["by_kind"]) == {"factoid", "multi", "unanswerable"}
    assert [r["qid"] for r in result["per_question"]] == ["q1", "q2", "q3", "q4"]


def test_recall_at_5_is_capped_by_five_gold_titles() -> None:
    gold = tuple(f"P{i}" for i in range(7))
    q = LabelledQuestion("q", "summary", "s?", gold)
    result = evaluate([q], lambda q: outcome(q, list(gold[:5]), []), gold)
    assert result["recall_at_5"] == 1.0


def test_fact_alternatives_and_case() -> None:
    assert fact_found("Divide-Conquer-Reunion | DCR", "it is called dcr")
    assert not fact_found("Heisenberg", "an Ising model")


def test_eval_command_end_to_end(
    run: Callable[..., Result], tmp_path: Path, fixture_store: Path, fixture_corpus: Path
) -> None:
    questions = tmp_path / "q.jsonl"
    questions.write_text(
        json.dumps(
            {
                "qid": "a",
                "kind": "which_paper",
                "question": "Which paper learns similarity from the common and distinctive features of objects?",
                "gold_titles": [
                    "Tversky Neural Networks: Psychologically Plausible Deep Learning with Differentiable Tversky Similarity"
                ],
                "also_relevant": [],
                "answer_facts": ["Tversky"],
            }
        )
        + "\n"
        + json.dumps(
            {
                "qid": "b",
                "kind": "unanswerable",
                "question": "Who wrote the novel Pride and Prejudice?",
                "gold_titles": [],
                "also_relevant": [],
                "answer_facts": [],
            }
        )
        + "\n",
        encoding="utf-8",
    )
    env = {"RAG_STORE_PATH": str(fixture_store), "RAG_CORPUS_PATH": str(fixture_corpus)}
    result = run("eval", questions, "--mode", "extractive", "--json", env=env)
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output[result.output.index("{") :])
    for key in (
        "recall_at_5",
        "mrr",
        "citation_precision",
        "citation_recall",
        "answer_fact_accuracy",
        "refusal_accuracy",
        "false_refusal_rate",
        "invented_citations",
        "unsupported_sentence_rate",
        "latency_ms_p50",
        "latency_ms_p95",
        "first_token_ms_p50",
        "per_question",
    ):
        assert key in figures
    assert figures["first_sentence_fact_accuracy"] == 1.0  # the quote opens under the paper's title
    assert figures["recall_at_5"] == 1.0 and figures["refusal_accuracy"] == 1.0
    assert figures["invented_citations"] == 0

    table = run("eval", questions, "--mode", "extractive", env=env)
    assert table.exit_code == 0 and "overall" in table.output and "which_paper" in table.output


PROJECT = Path(__file__).resolve().parents[2]


def test_every_shipped_question_set_passes_the_table_of_checks() -> None:
    """Exact corpus titles, facts found in gold abstracts, unanswerable terms absent, the promised
    counts: a question file that drifted from the corpus would measure nothing."""
    checker = PROJECT / "eval" / "check_sets.py"
    done = subprocess.run([sys.executable, str(checker)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "pool-pa: 100 questions, ok" in done.stdout


def test_the_set_checker_finds_a_fact_missing_from_its_abstract(tmp_path: Path) -> None:
    """The checker can fail: a fact that is not in the gold abstract is reported."""
    sys.path.insert(0, str(PROJECT / "eval"))
    try:
        import check_sets
    finally:
        sys.path.pop(0)
    corpus = check_sets.Corpus()
    title = next(iter(corpus.abstracts))
    row = {
        "qid": "x1",
        "kind": "factoid",
        "question": "q?",
        "gold_titles": [title],
        "also_relevant": [],
        "answer_facts": ["a phrase no abstract holds 12345"],
    }
    errors = check_sets.check("x", [row], {"rules": {"keys", "titles", "facts"}}, corpus)
    assert errors == ["x1: fact not in a gold abstract: 'a phrase no abstract holds 12345'"]
