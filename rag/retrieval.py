"""Finding the papers that answer a question: dense retrieval over chunks plus BM25 over papers.

Dense: the question's cosine similarity to every chunk (the embedder reads 256 word pieces, so
abstracts are chunked); a paper is as good as its best chunk. Lexical: BM25 over whole papers
(title and abstract), which has no length limit and measured better than BM25 over chunks
(recall@5 0.84 against 0.77 on our dev questions). Fusion: a weighted sum of the cosine and the
BM25 score divided by the query's best BM25 score; it measured better than reciprocal rank
fusion at every constant we tried. Rerank: the top papers are re-scored with their best
*sentence's* cosine to the question, a finer match than a 200-word-piece chunk (on our dev
questions it raised precision at 1 from 0.88 to 0.93). The scores travel with each paper:
refusal and the evaluation read them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

from rag.chunking import paper_sentences
from rag.embedding import Embedder
from rag.lexical import LexicalIndex, Vectors, open_index
from rag.store import Store

log = logging.getLogger(__name__)


@dataclass
class PaperHit:
    paper_id: str
    title: str
    score: float  # fused score, higher is better
    dense: float = 0.0  # best chunk cosine similarity
    lexical: float = 0.0  # best chunk BM25 score
    dense_rank: int | None = None  # 1-based rank among papers by each retriever
    lexical_rank: int | None = None
    chunk_ids: list[str] = field(default_factory=list)  # the chunks dense retrieval found, best first
    vector: np.ndarray[Any, Any] | None = field(default=None, repr=False)  # the best chunk's embedding
    sentence: float = 0.0  # best sentence cosine (set for reranked papers)
    fused: float = 0.0  # dense + lexical, before the sentence rerank

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "paper_id": self.paper_id,
            "score": round(self.score, 4),
            "dense": round(self.dense, 4),
            "lexical": round(self.lexical, 4),
        }


@dataclass
class Retrieval:
    question: str
    papers: list[PaperHit]  # the top k, best first
    candidates: list[PaperHit]  # every paper either retriever proposed, best first
    lexical_max: float  # the best BM25 score any chunk got (0 when no query term matched)


class Retriever:
    """Hybrid retrieval over one store. Build once per process: the BM25 index lives in memory
    (loaded from beside the store, or rebuilt there when missing or stale: rag/lexical.py)."""

    def __init__(
        self,
        store: Store,
        embedder: Embedder,
        candidate_chunks: int = 100,
        lexical_weight: float = 0.2,
        rerank_depth: int = 10,
        sentence_weight: float = 1.0,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.candidate_chunks = candidate_chunks
        self.lexical_weight = lexical_weight
        self.rerank_depth = rerank_depth
        self.sentence_weight = sentence_weight
        self.lexical: LexicalIndex = open_index(store)
        self.papers = self.lexical.by_id()
        self._sentences: dict[str, tuple[list[str], np.ndarray[Any, Any]]] = {}
        self._chunk_vectors: dict[str, np.ndarray[Any, Any]] = {}

    def sentences(self, paper_id: str) -> tuple[list[str], np.ndarray[Any, Any]]:
        """A paper's abstract sentences and their embeddings."""
        return self.load_sentences([paper_id])[paper_id]

    def load_sentences(self, paper_ids: Sequence[str]) -> dict[str, tuple[list[str], np.ndarray[Any, Any]]]:
        """Sentences and their vectors for several papers: from memory, else as ingest stored
        them (one read), else (a store written before ingest kept them) embedded now."""

        def read(missing: list[str]) -> dict[str, tuple[list[str], np.ndarray[Any, Any]]]:
            stored = self._saved(missing, Vectors.sentences_of, self.store.sentence_vectors)
            found = {}
            for pid in missing:
                sentences = paper_sentences(self.papers[pid].abstract)
                vectors = stored.get(pid)
                if vectors is None or len(vectors) != len(sentences):
                    vectors = self.embedder.embed(sentences)
                found[pid] = (sentences, vectors)
            return found

        return _read_through(self._sentences, paper_ids, read)

    def chunk_vectors(self, paper_ids: Sequence[str]) -> dict[str, np.ndarray[Any, Any]]:
        """Every chunk vector of these papers: from memory, else from the store (one read)."""

        def read(missing: list[str]) -> dict[str, np.ndarray[Any, Any]]:
            return self._saved(missing, Vectors.chunks_of, self.store.chunk_vectors)

        return _read_through(self._chunk_vectors, paper_ids, read)

    def _saved(
        self,
        paper_ids: list[str],
        saved: Callable[[Vectors, Sequence[str]], dict[str, np.ndarray[Any, Any]]],
        stored: Callable[[Sequence[str]], dict[str, np.ndarray[Any, Any]]],
    ) -> dict[str, np.ndarray[Any, Any]]:
        """Vectors from the files beside the store (rag/lexical.py), and the rest from the store
        itself (one read): the same values, without the Chroma reads that were 31 of a 71 ms
        retrieval at 100,000 papers (docs/performance.md, session 10)."""
        found = saved(self.lexical.vectors, paper_ids) if self.lexical.vectors is not None else {}
        rest = [pid for pid in paper_ids if pid not in found]
        return {**found, **stored(rest)} if rest else found

    def retrieve(self, question: str, k: int) -> Retrieval:
        return self.retrieve_with_vector(question, self.embedder.embed_one(question), k)

    def retrieve_with_vector(self, question: str, vector: np.ndarray[Any, Any], k: int) -> Retrieval:
        papers: dict[str, PaperHit] = {}
        for hit in self.store.query(vector, self.candidate_chunks):
            record = self.papers.get(hit.paper_id)
            if record is None:  # stored by another process after this one loaded: not known yet
                continue
            paper = papers.setdefault(hit.paper_id, PaperHit(hit.paper_id, record.title, 0.0))
            if not paper.chunk_ids:
                paper.dense, paper.dense_rank, paper.vector = hit.score, len(papers), hit.vector
            paper.chunk_ids.append(hit.chunk_id)
        lexical_hits = self.lexical.search(question, self.candidate_chunks)
        lexical_max = lexical_hits[0][1] if lexical_hits else 0.0
        for rank, (record, score) in enumerate(lexical_hits, start=1):
            paper = papers.setdefault(record.paper_id, PaperHit(record.paper_id, record.title, 0.0))
            paper.lexical, paper.lexical_rank = score, rank
        # a paper only BM25 proposed still deserves its true dense score, not zero
        unscored = [pid for pid, p in papers.items() if p.dense_rank is None]
        for pid, vectors in self.chunk_vectors(unscored).items():
            sims = vectors @ vector
            papers[pid].dense, papers[pid].vector = float(np.max(sims)), vectors[int(np.argmax(sims))]
        for paper in papers.values():
            paper.score = paper.fused = paper.dense + (
                self.lexical_weight * paper.lexical / lexical_max if lexical_max else 0.0
            )
        ranked = sorted(papers.values(), key=lambda p: (-p.score, p.title))
        if self.sentence_weight and self.rerank_depth:
            head = ranked[: self.rerank_depth]
            sentences = self.load_sentences([p.paper_id for p in head if p.paper_id in self.papers])
            for paper in head:
                if paper.paper_id not in sentences:
                    continue
                paper.sentence = float(np.max(sentences[paper.paper_id][1] @ vector))
                paper.score += self.sentence_weight * paper.sentence
            # reranked papers stay ahead of the rest, whose scores lack the sentence term
            ranked = sorted(head, key=lambda p: (-p.score, p.title)) + ranked[self.rerank_depth :]
        return Retrieval(question=question, papers=ranked[:k], candidates=ranked, lexical_max=lexical_max)


_CACHED_PAPERS = 20_000  # per cache: bounds the memory on very large collections

V = TypeVar("V")


def _read_through(cache: dict[str, V], keys: Sequence[str], read: Callable[[list[str]], dict[str, V]]) -> dict[str, V]:
    """`cache`'s values for `keys`, reading the missing ones in one call (keys `read` does not
    return are left out)."""
    if len(cache) > _CACHED_PAPERS:
        cache.clear()
    missing = [k for k in dict.fromkeys(keys) if k not in cache]
    if missing:
        cache.update(read(missing))
    return {k: cache[k] for k in keys if k in cache}


def mmr(papers: Sequence[PaperHit], k: int, diversity: float = 0.3) -> list[PaperHit]:
    """Maximal marginal relevance: each next paper trades relevance against similarity to the
    papers already chosen, so near-duplicate abstracts do not crowd out other relevant papers."""
    chosen: list[PaperHit] = []
    pool = list(papers)
    while pool and len(chosen) < k:

        def value(p: PaperHit) -> float:
            if p.vector is None or not chosen:
                return p.score
            overlap = (
                max(float(p.vector @ c.vector) for c in chosen if c.vector is not None)
                if any(c.vector is not None for c in chosen)
                else 0.0
            )
            return (1 - diversity) * p.score - diversity * overlap

        best = max(pool, key=value)
        chosen.append(best)
        pool.remove(best)
    return chosen
