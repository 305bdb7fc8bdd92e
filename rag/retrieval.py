"""Finding the papers that answer a question: dense and BM25 retrieval over chunks, fused.

Each retriever ranks chunks; chunks are grouped into papers (a paper is as good as its best
chunk) and the two paper rankings are fused by weighted reciprocal rank fusion. The per-retriever
scores travel with each paper: refusal and the evaluation read them.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rag.embedding import Embedder
from rag.store import Store, StoredChunk

log = logging.getLogger(__name__)

_TOKEN = re.compile(r"[a-z0-9]+(?:[-'][a-z0-9]+)*")


@dataclass
class PaperHit:
    paper_id: str
    title: str
    score: float  # fused score, higher is better
    dense: float = 0.0  # best chunk cosine similarity
    lexical: float = 0.0  # best chunk BM25 score
    dense_rank: int | None = None  # 1-based rank among papers by each retriever
    lexical_rank: int | None = None
    chunks: list[StoredChunk] = field(default_factory=list)  # best first

    def to_dict(self) -> dict[str, Any]:
        return {"title": self.title, "paper_id": self.paper_id, "score": round(self.score, 4),
                "dense": round(self.dense, 4), "lexical": round(self.lexical, 4)}


@dataclass
class Retrieval:
    question: str
    papers: list[PaperHit]  # the top k, best first
    candidates: list[PaperHit]  # every paper either retriever proposed, best first
    lexical_max: float  # the best BM25 score any chunk got (0 when no query term matched)


class LexicalIndex:
    """BM25 over chunk texts (bm25s, English stop words, Snowball stemming when available)."""

    def __init__(self, chunks: Sequence[StoredChunk]) -> None:
        import bm25s

        self._bm25s = bm25s
        self.chunks = list(chunks)
        try:
            import Stemmer

            self._stemmer: Any = Stemmer.Stemmer("english")
        except ImportError:
            self._stemmer = None
        self.index = bm25s.BM25()
        if self.chunks:
            corpus = [f"{c.title}\n{c.text}" for c in self.chunks]
            tokens = bm25s.tokenize(corpus, stopwords="en", stemmer=self._stemmer, show_progress=False)
            self.index.index(tokens, show_progress=False)

    def search(self, query: str, n: int) -> list[tuple[StoredChunk, float]]:
        if not self.chunks:
            return []
        tokens = self._bm25s.tokenize([query], stopwords="en", stemmer=self._stemmer, show_progress=False)
        if not tokens.vocab:  # every word of the query was a stop word
            return []
        n = min(n, len(self.chunks))
        ids, scores = self.index.retrieve(tokens, k=n, show_progress=False, n_threads=1)
        return [(self.chunks[int(i)], float(s)) for i, s in zip(ids[0], scores[0], strict=True) if s > 0]


class Retriever:
    """Hybrid retrieval over one store. Build once per process: the BM25 index lives in memory."""

    def __init__(
        self,
        store: Store,
        embedder: Embedder,
        candidate_chunks: int = 40,
        rrf_k: int = 60,
        dense_weight: float = 1.0,
        lexical_weight: float = 1.0,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.candidate_chunks = candidate_chunks
        self.rrf_k = rrf_k
        self.dense_weight = dense_weight
        self.lexical_weight = lexical_weight
        self.lexical = LexicalIndex(list(store.iter_chunks()))

    def refresh(self) -> None:
        """Rebuild the lexical index after an ingest."""
        self.lexical = LexicalIndex(list(self.store.iter_chunks()))

    def retrieve(self, question: str, k: int) -> Retrieval:
        vector = self.embedder.embed_one(question)
        return self.retrieve_with_vector(question, vector, k)

    def retrieve_with_vector(self, question: str, vector: np.ndarray[Any, Any], k: int) -> Retrieval:
        dense_hits = self.store.query(vector, self.candidate_chunks)
        lexical_hits = self.lexical.search(question, self.candidate_chunks)

        papers: dict[str, PaperHit] = {}

        def hit_for(chunk: StoredChunk) -> PaperHit:
            if chunk.paper_id not in papers:
                papers[chunk.paper_id] = PaperHit(chunk.paper_id, chunk.title, 0.0)
            return papers[chunk.paper_id]

        dense_order: list[str] = []
        for hit in dense_hits:
            paper = hit_for(hit.chunk)
            if hit.chunk.paper_id not in dense_order:
                dense_order.append(hit.chunk.paper_id)
                paper.dense = hit.score
            if hit.chunk not in paper.chunks:
                paper.chunks.append(hit.chunk)
        lexical_order: list[str] = []
        for chunk, score in lexical_hits:
            paper = hit_for(chunk)
            if chunk.paper_id not in lexical_order:
                lexical_order.append(chunk.paper_id)
                paper.lexical = score
            if chunk not in paper.chunks:
                paper.chunks.append(chunk)

        for rank, pid in enumerate(dense_order, start=1):
            papers[pid].dense_rank = rank
            papers[pid].score += self.dense_weight / (self.rrf_k + rank)
        for rank, pid in enumerate(lexical_order, start=1):
            papers[pid].lexical_rank = rank
            papers[pid].score += self.lexical_weight / (self.rrf_k + rank)

        ranked = sorted(papers.values(), key=lambda p: (-p.score, -p.dense, p.title))
        lexical_max = lexical_hits[0][1] if lexical_hits else 0.0
        return Retrieval(question=question, papers=ranked[:k], candidates=ranked, lexical_max=lexical_max)
