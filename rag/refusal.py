"""Does the collection cover the question? Decided from evidence, before any model runs.

Three signals, each in [0, 1]:
- `dense`: the best chunk's cosine similarity, rescaled between a floor and a ceiling;
- `terms`: the IDF-weighted share of the question's content words that the top papers contain
  (a question about "speculative decoding" is not covered by a paper on "decoding" alone);
- `agreement`: whether the dense and the lexical retriever put the same paper near the top.
The coverage score is their weighted mean; below `refusal_threshold` the question is refused.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from rag.citations import content_terms
from rag.retrieval import Retrieval

DENSE_FLOOR, DENSE_CEILING = 0.25, 0.65
WEIGHTS = {"dense": 0.4, "terms": 0.45, "agreement": 0.15}


@dataclass(frozen=True)
class Coverage:
    covered: bool
    score: float
    signals: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        return {"covered": self.covered, "score": round(self.score, 3), "signals": {k: round(v, 3) for k, v in self.signals.items()}}


class TermStatistics:
    """Document frequencies of content terms over the collection's papers."""

    def __init__(self, texts: Iterable[str]) -> None:
        self.df: Counter[str] = Counter()
        self.n = 0
        for text in texts:
            self.n += 1
            self.df.update(content_terms(text))

    def idf(self, term: str) -> float:
        return math.log((self.n + 1) / (self.df.get(term, 0) + 0.5))


def assess(question: str, retrieval: Retrieval, stats: TermStatistics, paper_texts: dict[str, str], threshold: float) -> Coverage:
    if not retrieval.papers:
        return Coverage(False, 0.0, {"dense": 0.0, "terms": 0.0, "agreement": 0.0})
    top = retrieval.papers[0]
    best_dense = max(p.dense for p in retrieval.papers)
    dense = min(1.0, max(0.0, (best_dense - DENSE_FLOOR) / (DENSE_CEILING - DENSE_FLOOR)))

    terms = content_terms(question)
    if terms:
        # the best-covering paper among the top three: a multi-paper question spreads its terms
        weights = {t: stats.idf(t) for t in terms}
        total = sum(weights.values()) or 1.0
        term_cover = max(
            sum(w for t, w in weights.items() if t in content_terms(paper_texts.get(p.paper_id, p.title))) / total
            for p in retrieval.papers[:3]
        )
    else:
        term_cover = 0.0

    ranks = [r for r in (top.dense_rank, top.lexical_rank) if r is not None]
    agreement = 1.0 if len(ranks) == 2 and max(ranks) <= 3 else 0.5 if len(ranks) == 2 and max(ranks) <= 10 else 0.0

    signals = {"dense": dense, "terms": term_cover, "agreement": agreement}
    score = sum(WEIGHTS[k] * v for k, v in signals.items())
    return Coverage(score >= threshold, score, signals)
