"""Sweep the refusal threshold on a question file and print how each value trades refusals.

    .venv/bin/python benchmarks/calibrate_refusal.py ../shared/eval/dev.jsonl [--leave-gold-out]

For every question it computes the coverage score (rag/refusal.py) once, then for each
threshold prints refusal accuracy (unanswerable questions refused) and false refusal rate
(answerable questions refused). The suggested threshold maximises the difference of the two
and sits in the middle of the widest gap between neighbouring scores that achieves it.
The named-term, subject and answer-type (number, person) checks refuse regardless of the threshold;
they are reported apart. The last row, "configured", is the figures at the threshold in use
(`RAG_REFUSAL_THRESHOLD`); README quotes its near-miss column.

`--leave-gold-out` adds, for every answerable question, the same question asked of the
collection without its gold and also-relevant papers: a near miss, unanswerable by
construction, about a topic right beside the collection's. It multiplies the unanswerable
questions to calibrate on (a question file has few) with the hardest kind. The question's
retrieval is rerun with those papers hidden from both retrievers and from the term statistics.
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
from pathlib import Path
from typing import Any

from rag.evaluation import Question, load_questions
from rag.refusal import TermStatistics, assess
from rag.retrieval import LexicalIndex, Retriever
from rag.service import RagService
from rag.settings import Settings


class HiddenPapers:
    """The store as seen without some papers (vector search asks for a few more, then drops them)."""

    def __init__(self, store: Any, hidden: set[str]) -> None:
        self._store, self._hidden = store, hidden

    def query(self, vector: Any, n: int) -> list[Any]:
        return [h for h in self._store.query(vector, n + 50) if h.paper_id not in self._hidden][:n]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def without(retriever: Retriever, hidden: set[str]) -> tuple[Retriever, TermStatistics]:
    view = copy.copy(retriever)
    view.store = HiddenPapers(retriever.store, hidden)  # type: ignore[assignment]
    view.lexical = LexicalIndex([p for p in retriever.lexical.papers if p.paper_id not in hidden])
    view.papers = {k: v for k, v in retriever.papers.items() if k not in hidden}
    return view, TermStatistics(f"{p.title} {p.abstract}" for p in view.lexical.papers)


def coverage(question: str, retriever: Retriever, stats: TermStatistics, k: int) -> tuple[float, bool]:
    retrieval = retriever.retrieve(question, k)
    texts = {
        h.paper_id: f"{retriever.papers[h.paper_id].title} {retriever.papers[h.paper_id].abstract}"
        for h in retrieval.papers[:3]
    }
    cov = assess(question, retrieval, stats, texts, 0.0)
    return cov.score, bool(cov.missing_terms)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("questions", type=Path, nargs="?", default=Path("../shared/eval/dev.jsonl"))
    parser.add_argument("--leave-gold-out", action="store_true", help="add near-miss questions (gold papers hidden)")
    args = parser.parse_args()
    logging.getLogger("bm25s").setLevel(logging.WARNING)
    service = RagService(Settings())
    answerer, k = service.answerer, service.settings.top_k
    retriever = answerer.retriever
    rows: list[tuple[float, bool, str]] = []  # score, refused by a check that ignores the threshold, kind of row
    questions: list[Question] = load_questions(args.questions)
    for q in questions:
        score, flagged = coverage(q.question, retriever, answerer.stats, k)
        rows.append((score, flagged, "answerable" if q.answerable else "unanswerable"))
        if args.leave_gold_out and q.answerable:
            hidden = {pid for pid, p in retriever.papers.items() if p.title in {*q.gold_titles, *q.also_relevant}}
            view, stats = without(retriever, hidden)
            score, flagged = coverage(q.question, view, stats, k)
            rows.append((score, flagged, "near miss"))
    kinds = ["answerable", "unanswerable"] + (["near miss"] if args.leave_gold_out else [])
    print(", ".join(f"{sum(r[2] == kind for r in rows)} {kind}" for kind in kinds))
    for kind in kinds:
        flagged = sum(r[1] for r in rows if r[2] == kind)
        print(f"refused by the named-term, subject or answer-type check: {flagged} {kind}")
    answerable = [r for r in rows if r[2] == "answerable"]
    refusable = [r for r in rows if r[2] != "answerable"]
    unanswerable = [r for r in rows if r[2] == "unanswerable"]
    near = [r for r in rows if r[2] == "near miss"]
    scores = sorted({round(r[0], 4) for r in rows})
    cuts = [0.0] + [(a + b) / 2 for a, b in zip(scores, scores[1:], strict=False)] + [1.0]
    best: tuple[float, float, float] | None = None
    header = f"{'threshold':>10} {'refusal_acc':>12} {'false_refusal':>14}"
    print(header + (f" {'near_miss_refused':>18}" if near else ""))

    def refused(group: list[tuple[float, bool, str]], cut: float) -> float:
        return sum(1 for s, m, _ in group if m or s < cut) / max(1, len(group))

    for cut in cuts:
        gain = refused(refusable, cut) - refused(answerable, cut)
        if best is None or gain > best[0] + 1e-9:
            best = (gain, cut, cut)
        elif abs(gain - best[0]) < 1e-9 and best[2] == cuts[cuts.index(cut) - 1]:
            best = (gain, best[1], cut)  # extend the run of equally good thresholds
        line = f"{cut:>10.3f} {refused(unanswerable, cut):>12.3f} {refused(answerable, cut):>14.3f}"
        print(line + (f" {refused(near, cut):>18.3f}" if near else ""))
    assert best is not None
    configured = service.settings.refusal_threshold
    refusal = f"{refused(unanswerable, configured):.3f}" if unanswerable else "-"
    line = f"{refusal:>12} {refused(answerable, configured):>14.3f}"
    print(f"{'configured':>10} {line}" + (f" {refused(near, configured):>18.3f}" if near else ""))
    print(json.dumps({"suggested_threshold": round((best[1] + best[2]) / 2, 3), "gain": round(best[0], 3)}))


if __name__ == "__main__":
    main()
