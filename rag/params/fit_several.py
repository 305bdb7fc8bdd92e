"""Fit which of a topic's members a several-paper answer cites; write rag/params/several_sources.json.

    .venv/bin/python -m rag.params.fit_several            # LOSO figures, fit, write
    .venv/bin/python -m rag.params.fit_several --report   # figures only

A question about several papers ("Which papers use CBCT?") cites the members of its topic, as
the summaries' membership model (rag/params/membership.json, fitted on the topic sets) scores
them. Summaries list every member above that model's threshold. An answer shows only a few
papers, so it may want a higher bar and a cap: this script chooses both, a membership
probability and a number of papers, on the several-paper questions of the fitting pool. Each
(probability, count) is judged by citation precision and recall per question, averaged, and
their harmonic mean. When no candidate passes, the answer falls back to the score margins
(rag.evidence.relevant), and so does this script. Figures are leave one set out: each set is
cited with the pair chosen on the other sets.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

from rag.evaluation import load_questions
from rag.params.fitting import FIT_SETS, SETS, cached, provenance, write
from rag.settings import PACKAGE_DIR, PROJECT_DIR

PARAMS = PACKAGE_DIR / "params" / "several_sources.json"
CACHE = PROJECT_DIR / "benchmarks" / "results" / "several-candidates.json"
THRESHOLDS = (0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.7)
COUNTS = (2, 3, 4, 5)
CANDIDATES = 15  # kept per question: more than any count tried
Row = dict[str, Any]


def compute() -> list[Row]:
    """Per several-paper question of the pool: its candidates with their membership probability,
    the papers the score margins would cite instead, and the gold titles."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from rag.evidence import relevant
    from rag.service import RagService
    from rag.settings import Settings

    service = RagService(Settings())
    service.ensure_ingested()
    answerer, summarizer, settings = service.answerer, service.summarizer, service.settings.answer
    rows = []
    for name in FIT_SETS:
        for q in load_questions(SETS / f"{name}.jsonl"):
            question = answerer.analyse(q.question)
            if q.kind != "multi" or not question.several:
                continue
            scored = summarizer.papers_on(question)
            retrieval = answerer.retriever.retrieve(question.text, service.settings.retrieval.top_k)
            margins = relevant(
                question,
                retrieval,
                answerer.papers([p.paper_id for p in retrieval.candidates]) if question.named else {},
                settings.single_margin,
                settings.several_margin,
                settings.several_sentence_margin,
                settings.max_sources,
            )
            rows.append(
                {
                    "set": name,
                    "qid": q.qid,
                    "gold": sorted(_norm(t) for t in q.gold_titles),
                    "relevant": sorted(_norm(t) for t in (*q.gold_titles, *q.also_relevant)),
                    "candidates": [[_norm(hit.title), round(p, 6)] for hit, p in scored[:CANDIDATES]],
                    "margins": [_norm(p.title) for p in margins],
                }
            )
        print(f"{name}: {sum(r['set'] == name for r in rows)} several-paper questions", file=sys.stderr)
    return rows


def _norm(title: str) -> str:
    return " ".join(title.casefold().split())


def cited(row: Row, threshold: float, count: int) -> list[str]:
    members = [title for title, p in row["candidates"] if p >= threshold][:count]
    return members or row["margins"]


def figures(rows: Sequence[Row], threshold: float, count: int) -> tuple[float, float]:
    """Citation precision and recall, per question and averaged (as `rag eval` counts them)."""
    precision, recall = [], []
    for r in rows:
        titles = cited(r, threshold, count)
        if titles:
            precision.append(sum(t in r["relevant"] for t in titles) / len(titles))
        recall.append(sum(t in r["gold"] for t in titles) / max(1, len(r["gold"])))
    return float(np.mean(precision)) if precision else 0.0, float(np.mean(recall)) if recall else 0.0


def choose(rows: Sequence[Row]) -> tuple[float, int]:
    """The (probability, count) with the best harmonic mean of precision and recall on `rows`."""

    def value(pair: tuple[float, int]) -> float:
        p, r = figures(rows, *pair)
        return 2 * p * r / (p + r) if p + r else 0.0

    return max(((t, k) for t in THRESHOLDS for k in COUNTS), key=value)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--report", action="store_true", help="print the figures; write nothing")
    parser.add_argument(
        "--refresh", action="store_true", help="recompute the candidates (after refitting membership.json)"
    )
    args = parser.parse_args()
    rows = cached(CACHE, compute, args.refresh)

    from rag.linear import load
    from rag.settings import Settings

    summaries = load(PACKAGE_DIR / "params" / "membership.json").threshold
    before = (summaries, Settings().answer.max_sources)
    print(f"{'set':<10}{'questions':>10}  {'summaries bar, 3 papers':>24}  {'chosen on the other sets':>32}")
    held: list[Row] = []
    per_set: dict[str, Any] = {}
    sets = [s for s in FIT_SETS if any(r["set"] == s for r in rows)]
    decided: dict[str, tuple[float, int]] = {}
    for name in sets:
        decided[name] = choose([r for r in rows if r["set"] != name])
    for name in [*sets, "pooled"]:
        subset = rows if name == "pooled" else [r for r in rows if r["set"] == name]
        old = figures(subset, *before)
        if name == "pooled":
            new = _mean_over(rows, decided)
            pair = ""
        else:
            new = figures(subset, *decided[name])
            pair = f" (p >= {decided[name][0]}, {decided[name][1]})"
            held.extend(subset)
        per_set[name] = {"citation_precision": round(new[0], 3), "citation_recall": round(new[1], 3)}
        print(
            f"{name:<10}{len(subset):>10}  {old[0]:>10.3f} / {old[1]:.3f}{'':>6}  {new[0]:>10.3f} / {new[1]:.3f}{pair}"
        )
    threshold, count = choose(rows)
    print(f"chosen on every set: membership probability >= {threshold}, at most {count} papers")
    if args.report:
        return 0
    params = {
        "threshold": threshold,
        "max_sources": count,
        "provenance": provenance(
            "fit_several",
            sets,
            questions=len(rows),
            membership_threshold_of_summaries=round(summaries, 3),
            leave_one_set_out=per_set,
        ),
    }
    write(PARAMS, params)
    return 0


def _mean_over(rows: Sequence[Row], decided: dict[str, tuple[float, int]]) -> tuple[float, float]:
    """Precision and recall over every question, each cited with the pair chosen without its set."""
    precision, recall = [], []
    for r in rows:
        p, rc = figures([r], *decided[r["set"]])
        if cited(r, *decided[r["set"]]):
            precision.append(p)
        recall.append(rc)
    return float(np.mean(precision)), float(np.mean(recall))


if __name__ == "__main__":
    sys.exit(main())
