"""Fit the answer-or-refuse decision and write rag/params/answerability.json, and the same
decision without the words matched in context and the joint read,
rag/params/answerability_without_words.json (read where the evidence lacks them: a remote
embedder, rag.answerability.Models).

    .venv/bin/python -m rag.params.fit_answerability            # LOSO figures, fit, write
    .venv/bin/python -m rag.params.fit_answerability --report   # figures only

A logistic regression over the features of rag.answerability, among them the answer-bearing
sentence model's best score (rag.params.fit_sentences: fit that first). The figures printed are
honest: each set's row comes from a model fitted without that set (leave one set out), with a
threshold chosen on the other sets alone, from their own leave-one-set-out probabilities, for a
false refusal rate of `--false-refusal` there; the sentence scores it reads come from sentence
models fitted without the row's set too. The shipped model is fitted on every set, its threshold
chosen the same way. The hand rules it replaced are scored on the same questions for comparison.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np

from rag.answerability import FEATURES, PARAMS, PARAMS_WITHOUT_WORDS, WITHOUT_WORDS
from rag.params.fit_sentences import answer_order, loso_candidate_scores
from rag.params.fitting import FIT_SETS, Row, fit, leave_one_set_out, margins, pool, print_weights, provenance, write

C = 1.0  # L2 strength; 0.3 and 3 gave the same leave-one-set-out figures within 0.01


def with_answer_scores(rows: list[Row]) -> list[Row]:
    """The rows with the sentence model's out-of-set scores among their features."""
    scores = loso_candidate_scores(rows)
    out = []
    for r in rows:
        s = scores[r["qid"]]
        best = [v for v, c in zip(s, r["candidates"], strict=True) if c["paper"] == 0]
        extra = {
            "answer_score": _sigmoid(max(s, default=-10.0)),
            "answer_score_best": _sigmoid(max(best, default=-10.0)),
        }
        out.append({**r, "features": {**r["features"], **extra}, "contradicted": contradicted(r, s)})
    return out


def contradicted(row: Row, scores: np.ndarray[Any, Any]) -> bool:
    """rag.answerability.contradiction on a pool row: the best paper's likeliest answer sentence,
    by the sentence model's out-of-set scores, says the opposite of a "why" question's premise."""
    cands = row["candidates"]
    at = next((k for k in answer_order(row, scores) if cands[k]["paper"] == 0), None)
    return bool(row["premise"] and at is not None and cands[at]["direction"] == -row["premise"])


def _sigmoid(z: float) -> float:
    return float(1.0 / (1.0 + np.exp(-z)))


def _matrix(rows: list[Row], names: Sequence[str]) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    x = np.array([[r["features"][f] for f in names] for r in rows], dtype=float)
    return x, np.array([1 if r["answerable"] else 0 for r in rows])


def _loso_margins(rows: list[Row], names: Sequence[str]) -> np.ndarray[Any, Any]:
    index = {id(r): k for k, r in enumerate(rows)}
    out = np.zeros(len(rows))

    def score(train: set[str], held: str) -> dict[int, float]:
        params = fit(*_matrix([r for r in rows if r["set"] in train], names), names, C)
        held_rows = [r for r in rows if r["set"] == held]
        for r, m in zip(held_rows, margins(params, _matrix(held_rows, names)[0]), strict=True):
            out[index[id(r)]] = m
        return {}

    leave_one_set_out([r["set"] for r in rows], score)
    return out


def threshold_for(scores: np.ndarray[Any, Any], answerable: np.ndarray[Any, Any], false_refusal: float) -> float:
    """The highest margin at which at most `false_refusal` of the answerable are refused."""
    ordered = np.sort(scores[answerable == 1])
    k = int(np.floor(false_refusal * len(ordered)))
    return float(ordered[min(k, len(ordered) - 1)])


def evaluate(rows: list[Row], false_refusal: float, names: Sequence[str] = FEATURES) -> dict[str, bool]:
    """Leave one set out, threshold included: each set decided by a fit that never saw it."""
    answered: dict[str, bool] = {}
    for held in sorted({r["set"] for r in rows}):
        train = [r for r in rows if r["set"] != held]
        threshold = threshold_for(_loso_margins(train, names), _matrix(train, names)[1], false_refusal)
        params = fit(*_matrix(train, names), names, C)
        held_rows = [r for r in rows if r["set"] == held]
        for r, m in zip(held_rows, margins(params, _matrix(held_rows, names)[0]), strict=True):
            # the premise rule refuses whatever the model says (rag.answerability.decide)
            answered[r["qid"]] = bool(m >= threshold) and not r.get("contradicted", False)
    return answered


def old_rule(row: Row) -> bool:
    """The hand rules this replaces (refusal.py at d2cce7d): a weighted score over 0.30, and vetoes."""
    f = row["features"]
    dense = min(1.0, max(0.0, (f["dense"] - 0.25) / 0.40))
    score = 0.4 * dense + 0.45 * f["terms"] + 0.15 * f["agreement"]  # its weighted coverage score
    vetoed = f["names_missing"] or f["names_apart"] or f["subject_missing"] or f["person_missing"]
    return score >= 0.30 and not vetoed


def figures(rows: list[Row], answered: dict[str, bool]) -> dict[str, Any]:
    def refused(selected: list[Row]) -> float | None:
        return round(sum(not answered[r["qid"]] for r in selected) / len(selected), 3) if selected else None

    unanswerable = [r for r in rows if not r["answerable"]]
    answerable = [r for r in rows if r["answerable"]]
    out: dict[str, Any] = {
        "n": len(rows),
        "refusal_accuracy": refused(unanswerable),
        "false_refusal_rate": refused(answerable),
    }
    for sort in sorted({r["sort"] for r in unanswerable if r["sort"]}):
        out[f"refused:{sort}"] = refused([r for r in unanswerable if r["sort"] == sort])
    for phrasing in sorted({r["phrasing"] for r in answerable if r["phrasing"]}):
        out[f"false_refusal:{phrasing}"] = refused([r for r in answerable if r["phrasing"] == phrasing])
    return out


def table(rows: list[Row], answered: dict[str, bool]) -> str:
    by_set: dict[str, list[Row]] = defaultdict(list)
    for r in rows:
        by_set[r["set"]].append(r)
    pooled = figures(rows, answered)
    columns = list(pooled)
    short = [c.replace("refusal_accuracy", "refuse").replace("false_refusal_rate", "false.ref") for c in columns]
    widths = [max(6, len(s) + 1) for s in short]
    lines = [f"{'set':<10}" + "".join(f"{s:>{w}}" for s, w in zip(short, widths, strict=True))]
    for name in [*FIT_SETS, "pooled"]:
        f = pooled if name == "pooled" else figures(by_set[name], answered)
        cells = "".join(f"{'-' if f.get(c) is None else f[c]!s:>{w}}" for c, w in zip(columns, widths, strict=True))
        lines.append(f"{name:<10}{cells}")
    return "\n".join(lines)


def fitted(rows: list[Row], names: Sequence[str], false_refusal: float) -> dict[str, Any]:
    """The model fitted on every set, its threshold from the sets' own out-of-set margins."""
    params = fit(*_matrix(rows, names), names, C)
    margin = threshold_for(_loso_margins(rows, names), _matrix(rows, names)[1], false_refusal)
    params["threshold"] = round(_sigmoid(margin), 6)  # rag.linear compares probabilities
    print()
    print_weights(names, params["coef"])
    print(f"threshold: probability {params['threshold']} (margin {margin:.4f})")
    return params


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--report", action="store_true", help="print the figures; write nothing")
    parser.add_argument("--refresh", action="store_true", help="recompute the pool's features")
    parser.add_argument("--false-refusal", type=float, default=0.05, help="target on the training sets [0.05]")
    args = parser.parse_args()
    rows = with_answer_scores([r for r in pool(args.refresh) if r["set"] in FIT_SETS])

    flagged = [r for r in rows if r["contradicted"]]
    unanswerable = sum(not r["answerable"] for r in flagged)
    premises = sum(r["sort"] == "false_premise" for r in flagged)
    print(
        "The premise rule (a source that says the opposite of a 'why' question's premise) refuses"
        f" {len(flagged)} questions: {unanswerable} unanswerable ({premises} false premises),"
        f" {len(flagged) - unanswerable} answerable.\n"
    )
    print("The hand rules this replaces, on the same questions:")
    print(table(rows, {r["qid"]: old_rule(r) for r in rows}))
    for names, path, what in (
        (FEATURES, PARAMS, "every feature"),
        (WITHOUT_WORDS, PARAMS_WITHOUT_WORDS, "without the words matched in context and the joint read"),
    ):
        answered = evaluate(rows, args.false_refusal, names)
        print(f"\n{what}: leave one set out (threshold for {args.false_refusal} false refusal on the other sets):")
        print(table(rows, answered))
        params = fitted(rows, names, args.false_refusal)
        if args.report:
            continue
        params["provenance"] = provenance(
            "fit_answerability",
            FIT_SETS,
            questions=len(rows),
            C=C,
            false_refusal_target=args.false_refusal,
            leave_one_set_out=figures(rows, answered),
        )
        write(path, params)
    return 0


if __name__ == "__main__":
    sys.exit(main())
