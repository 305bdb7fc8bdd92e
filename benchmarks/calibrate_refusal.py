"""Sweep the refusal threshold on a question file and print how each value trades refusals.

    .venv/bin/python benchmarks/calibrate_refusal.py ../shared/eval/dev.jsonl

For every question it computes the coverage score (rag/refusal.py) once, then for each
threshold prints refusal accuracy (unanswerable questions refused) and false refusal rate
(answerable questions refused). The suggested threshold maximises the difference of the two
and sits in the middle of the widest gap between neighbouring scores that achieves it.
Named-term and quantity checks refuse regardless of the threshold; they are reported apart.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

from rag.evaluation import load_questions
from rag.refusal import assess
from rag.service import RagService
from rag.settings import Settings


def main(path: str) -> None:
    logging.getLogger("bm25s").setLevel(logging.WARNING)
    service = RagService(Settings())
    answerer = service.answerer
    rows = []
    for q in load_questions(Path(path)):
        retrieval = answerer.retriever.retrieve(q.question, service.settings.top_k)
        texts = {
            pid: f"{p.title} {p.abstract}"
            for pid, p in service.store.get_papers([h.paper_id for h in retrieval.papers[:3]]).items()
        }
        cov = assess(q.question, retrieval, answerer.stats, texts, 0.0)
        rows.append((cov.score, bool(cov.missing_terms), q.answerable))
    answerable = [r for r in rows if r[2]]
    unanswerable = [r for r in rows if not r[2]]
    print(f"{len(answerable)} answerable, {len(unanswerable)} unanswerable questions")
    flagged_u, flagged_a = sum(r[1] for r in unanswerable), sum(r[1] for r in answerable)
    print(f"refused by the named-term or quantity check: {flagged_u} unanswerable, {flagged_a} answerable")
    scores = sorted({round(r[0], 4) for r in rows})
    cuts = [0.0] + [(a + b) / 2 for a, b in zip(scores, scores[1:], strict=False)] + [1.0]
    best: tuple[float, float, float] | None = None
    print(f"{'threshold':>10} {'refusal_acc':>12} {'false_refusal':>14}")
    for cut in cuts:
        refused_u = sum(1 for s, m, _ in unanswerable if m or s < cut) / max(1, len(unanswerable))
        refused_a = sum(1 for s, m, _ in answerable if m or s < cut) / max(1, len(answerable))
        gain = refused_u - refused_a
        if best is None or gain > best[0] + 1e-9:
            best = (gain, cut, cut)
        elif abs(gain - best[0]) < 1e-9 and best[2] == cuts[cuts.index(cut) - 1]:
            best = (gain, best[1], cut)  # extend the run of equally good thresholds
        print(f"{cut:>10.3f} {refused_u:>12.3f} {refused_a:>14.3f}")
    assert best is not None
    print(json.dumps({"suggested_threshold": round((best[1] + best[2]) / 2, 3), "gain": round(best[0], 3)}))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "../shared/eval/dev.jsonl")
