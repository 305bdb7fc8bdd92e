"""Fit the answer-bearing sentence model and write rag/params/answer_sentence.json.

    .venv/bin/python -m rag.params.fit_sentences            # LOSO figures, fit, write
    .venv/bin/python -m rag.params.fit_sentences --report   # figures only

The model scores each sentence of the two best papers by how likely it holds the answer; the
answer opens with the best one (rag.evidence.answer_candidates). It is fitted on the pool's
answerable one-paper questions (factoid, which_paper): a sentence is positive when it holds one
of the question's answer facts and belongs to a gold paper. Figures are leave one set out: how
often the top-scored sentence holds a fact, against the sentence closest by cosine in the best
paper (what the answer quoted first before).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import numpy as np

from rag.evidence import SENTENCE_FEATURES, definition_first
from rag.params.fitting import (
    DEFINITION_SETS,
    FIT_SETS,
    Row,
    fit,
    leave_one_set_out,
    margins,
    pool,
    print_weights,
    provenance,
    write,
)
from rag.settings import PACKAGE_DIR

PARAMS = PACKAGE_DIR / "params" / "answer_sentence.json"
KINDS = ("factoid", "which_paper")
C = 1.0


def _trainable(rows: list[Row]) -> list[Row]:
    return [r for r in rows if r["answerable"] and r["kind"] in KINDS and any(c["label"] for c in r["candidates"])]


def _xy(rows: list[Row]) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    cands = [c for r in rows for c in r["candidates"]]
    x = np.array([[c["features"][f] for f in SENTENCE_FEATURES] for c in cands], dtype=float)
    return x, np.array([1 if c["label"] else 0 for c in cands])


def _scores(params: dict[str, Any], row: Row) -> np.ndarray[Any, Any]:
    if not row["candidates"]:
        return np.zeros(0)
    x = np.array([[c["features"][f] for f in SENTENCE_FEATURES] for c in row["candidates"]], dtype=float)
    return margins(params, x)


def loso_candidate_scores(rows: list[Row]) -> dict[str, np.ndarray[Any, Any]]:
    """Every question's candidate scores (answerable or not) from a model fitted without its set."""
    trainable = _trainable(rows)
    out: dict[str, np.ndarray[Any, Any]] = {}

    def score(train: set[str], held: str) -> dict[int, float]:
        params = fit(*_xy([r for r in trainable if r["set"] in train]), SENTENCE_FEATURES, C)
        for r in rows:
            if r["set"] == held:
                out[r["qid"]] = _scores(params, r)
        return {}

    leave_one_set_out([r["set"] for r in rows], score)
    return out


def answer_order(row: Row, scores: np.ndarray[Any, Any]) -> list[int]:
    """The candidates in the order the answer takes them (rag.evidence.answer_candidates)."""
    cands = row["candidates"]
    order = sorted(range(len(scores)), key=lambda k: (-scores[k], cands[k]["paper"], cands[k]["i"]))
    return definition_first(order, [c["paper"] for c in cands], [c["features"]["defines"] for c in cands])


def _top_holds(row: Row, scores: np.ndarray[Any, Any]) -> bool:
    """Whether the lead the answer would take holds a fact."""
    order = answer_order(row, scores)
    return bool(order) and row["candidates"][order[0]]["label"]


def _cosine_first(row: Row) -> bool:
    best = [c for c in row["candidates"] if c["paper"] == 0]
    return bool(best) and max(best, key=lambda c: c["features"]["cos"])["label"]


def _with_quotes(
    questions: list[Row], scored: dict[str, np.ndarray[Any, Any]], budget: int
) -> tuple[float, tuple[float, float]]:
    """How often the lead or its quotes (at most two, added while lead and quotes stay within
    `budget` words) hold a fact, and the words shown (p50, p90): the trade rag.evidence.compose makes."""
    holds, words = [], []
    for r in questions:
        c, order = r["candidates"], answer_order(r, scored[r["qid"]])
        if not order:
            continue
        chosen, count = [order[0]], c[order[0]]["features"]["words"] * 50
        for k in order[1:]:
            extra = c[k]["features"]["words"] * 50
            if len(chosen) == 3 or count + extra > budget:
                break
            chosen.append(k)
            count += extra
        holds.append(any(c[k]["label"] for k in chosen))
        words.append(count)
    return float(np.mean(holds)), (float(np.percentile(words, 50)), float(np.percentile(words, 90)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--report", action="store_true", help="print the figures; write nothing")
    parser.add_argument("--refresh", action="store_true", help="recompute the pool's features")
    args = parser.parse_args()
    every = pool(args.refresh)
    rows = [r for r in every if r["set"] in FIT_SETS]
    scored = loso_candidate_scores(rows)
    questions = [r for r in rows if r["answerable"] and r["kind"] in KINDS]
    print(f"{'set':<10}{'questions':>10}{'cosine':>9}{'model':>9}   (share whose first sentence holds a fact)")
    figures: dict[str, Any] = {}
    for name in [*FIT_SETS, "pooled"]:
        chosen = questions if name == "pooled" else [r for r in questions if r["set"] == name]
        if not chosen:
            continue
        cosine = np.mean([_cosine_first(r) for r in chosen])
        model = np.mean([_top_holds(r, scored[r["qid"]]) for r in chosen])
        figures[name] = round(float(model), 3)
        print(f"{name:<10}{len(chosen):>10}{cosine:>9.3f}{model:>9.3f}")
    # whole sentences, no markers: a rough guide. The shipped limit (RAG_MAX_WORDS) is chosen on
    # real answers by benchmarks/answer_words.py
    print("\nlead plus quotes within a word budget (whole sentences): a fact shown, and words")
    for budget in (0, 50, 60, 65, 70, 90):
        shown, words = _with_quotes(questions, scored, budget)
        print(
            f"  budget {budget:>3}: a fact in lead or quotes {shown:.3f}, words p50 {words[0]:.0f} p90 {words[1]:.0f}"
        )
    params = fit(*_xy(_trainable(rows)), SENTENCE_FEATURES, C)
    print_weights(SENTENCE_FEATURES, params["coef"])
    # "what is X?" questions, never fitted on: how often the fit above opens with the definition
    for name in DEFINITION_SETS:
        held = [r for r in every if r["set"] == name and r["answerable"] and r["kind"] in KINDS]
        share = np.mean([_top_holds(r, _scores(params, r)) for r in held]) if held else float("nan")
        print(f"never fitted on: {name} ({len(held)}), the top sentence defines what is asked in {share:.3f}")
    if args.report:
        return 0
    params["provenance"] = provenance(
        "fit_sentences",
        FIT_SETS,
        questions=len(_trainable(rows)),
        C=C,
        leave_one_set_out_first_sentence_holds_fact=figures,
    )
    write(PARAMS, params)
    return 0


if __name__ == "__main__":
    sys.exit(main())
