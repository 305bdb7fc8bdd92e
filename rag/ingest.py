"""Corpus file → chunks → vectors → store. Resumable: what is stored already is not embedded again.

Each write holds whole papers, so a killed ingest leaves only complete papers behind and the
store keeps answering; a re-run embeds just what is missing. A rebuild writes into a side
collection and replaces the live one only once it is complete.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rag.bert import WordVectors
from rag.chunking import Chunk, chunk_papers, chunking_signature, paper_sentences
from rag.corpus import Paper, ParseReport, Skipped, load_corpus
from rag.embedding import Embedder
from rag.lexical import LexicalIndex, load_fresh, update_after_ingest
from rag.store import Fingerprint, Store
from rag.words import KeptWords

log = logging.getLogger(__name__)

Progress = Callable[[int], None]  # called with how many chunks were just stored


@dataclass
class IngestReport:
    path: Path
    papers: int
    chunks: int
    added_chunks: int
    skipped: list[Skipped] = field(default_factory=list)
    repaired: list[Skipped] = field(default_factory=list)
    duplicates: int = 0
    seconds: float = 0.0
    rebuilt: bool = False
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "papers": self.papers,
            "chunks": self.chunks,
            "added_chunks": self.added_chunks,
            "duplicates": self.duplicates,
            "seconds": round(self.seconds, 2),
            "rebuilt": self.rebuilt,
            "skipped": [{"line": s.line, "reason": s.reason} for s in self.skipped],
            "repaired": [{"line": s.line, "reason": s.reason} for s in self.repaired],
            "notes": self.notes,
        }


def fingerprint(embedder: Embedder, max_tokens: int, overlap: int) -> Fingerprint:
    return Fingerprint(embedder.name, chunking_signature(max_tokens, overlap), embedder.dimension)


def whole_paper_batches(chunks: list[Chunk], batch_size: int) -> list[list[Chunk]]:
    """Batches of about `batch_size` chunks that never split a paper (one write per batch, so a
    killed ingest leaves no paper half-stored). Within a paper the first chunk, which carries
    the paper's record, comes last."""
    by_paper: dict[str, list[Chunk]] = {}
    for chunk in sorted(chunks, key=lambda c: (c.paper_id, c.index == 0, c.index)):
        by_paper.setdefault(chunk.paper_id, []).append(chunk)
    batches: list[list[Chunk]] = []
    for paper_chunks in by_paper.values():
        if not batches or (batches[-1] and len(batches[-1]) + len(paper_chunks) > batch_size):
            batches.append([])
        batches[-1].extend(paper_chunks)
    return batches


def embed_batch(
    embedder: Embedder, chunks: list[Chunk], papers: dict[str, Paper], words: KeptWords | None = None
) -> tuple[np.ndarray[Any, Any], dict[str, np.ndarray[Any, Any]]]:
    """The chunks' vectors and, per paper, its sentences' vectors, from one call to the model.

    Sentence vectors are made here so that a question never waits for the model to read
    abstracts (the rerank and the quoted evidence score sentences); it doubles the text
    embedded. One call, so that the embedder can batch texts of like length across both kinds.
    With `words`, the sentences' word vectors come from the same pass and are kept there."""
    paper_ids = list(dict.fromkeys(c.paper_id for c in chunks))
    sentences = {pid: paper_sentences(papers[pid].abstract) for pid in paper_ids}
    flat = [s for pid in paper_ids for s in sentences[pid]]
    texts = [c.embed_text for c in chunks] + flat
    if words is None:
        vectors = embedder.embed(texts)
    else:
        vectors, computed = embedder.embed_with_words(texts)
        if computed is not None:
            fresh = set(words.missing(flat))
            kept: dict[str, WordVectors] = {}
            for text, w in zip(flat, computed[len(chunks) :], strict=True):
                if text in fresh:
                    kept.setdefault(text, w)
            words.add(list(kept), list(kept.values()))
    by_paper: dict[str, np.ndarray[Any, Any]] = {}
    start = len(chunks)
    for pid in paper_ids:
        by_paper[pid] = vectors[start : start + len(sentences[pid])]
        start += len(sentences[pid])
    return vectors[: len(chunks)], by_paper


def ingest(
    path: Path,
    store: Store | None,
    embedder: Embedder,
    max_tokens: int,
    overlap: int,
    batch_size: int,
    progress: Callable[..., Progress] | None = None,
    dry_run: bool = False,
    rebuild: bool = False,
    parsed: ParseReport | None = None,
    words: KeptWords | None = None,
) -> IngestReport:
    """Parse `path`, chunk it, and store the chunks the store does not hold yet.

    Chunks are embedded and written batch by batch, so an interrupted ingest keeps what it
    finished and a re-run picks up the rest (chunk ids derive from content, so nothing doubles).
    With `rebuild`, everything goes into a fresh side collection that replaces the store's only
    once complete. `progress(total, already_done)` returns a callback fed the count of each
    stored batch. `parsed`, when given, is `path` parsed already (by a caller that parses before
    it opens the store, so that a file that cannot be used never creates one). `words`, when
    given, gets the word vectors of every paper's title and sentences it lacks (rag.words).
    """
    started = time.perf_counter()
    if parsed is None:
        parsed = load_corpus(path)  # a bad file fails here, before the store is touched
    chunks = chunk_papers(parsed.papers, embedder.count_tokens, max_tokens, overlap)
    report = IngestReport(path, len(parsed.papers), len(chunks), 0, parsed.skipped, parsed.repaired, parsed.duplicates)
    if dry_run or store is None:
        report.seconds = time.perf_counter() - started
        return report

    if rebuild:
        store.begin_rebuild(fingerprint(embedder, max_tokens, overlap))
    else:
        store.create(fingerprint(embedder, max_tokens, overlap))
    # the index as it stands before any write (an empty store's is empty: nothing to read)
    lexical_before = None if rebuild else LexicalIndex([]) if store.count() == 0 else load_fresh(store)
    missing = set(store.missing_ids([c.chunk_id for c in chunks]))
    todo = [c for c in chunks if c.chunk_id in missing]
    papers = {p.paper_id: p for p in parsed.papers}
    advance = progress(len(chunks), len(chunks) - len(todo)) if progress else None
    for batch in whole_paper_batches(todo, batch_size):
        vectors, sentence_vectors = embed_batch(embedder, batch, papers, words)
        store.upsert(batch, vectors, papers, sentence_vectors)
        report.added_chunks += len(batch)
        log.info("stored %d of %d chunks", len(chunks) - len(todo) + report.added_chunks, len(chunks))
        if advance:
            advance(len(batch))
    if rebuild:
        store.finish_rebuild()
        report.rebuilt = True
    update_lexical(store, lexical_before, chunks, papers, report)
    if words is not None:
        keep_words(words, embedder, parsed.papers, progress, report)
    report.seconds = time.perf_counter() - started
    log.info("ingested %s: %d papers, %d chunks (%d new)", path, report.papers, report.chunks, report.added_chunks)
    return report


def keep_words(
    words: KeptWords,
    embedder: Embedder,
    papers: list[Paper],
    progress: Callable[..., Progress] | None,
    report: IngestReport,
) -> None:
    """Compute the word vectors of the titles and sentences `words` lacks, after the store is
    complete: the titles, and the sentences of papers stored before (by an ingest that kept
    none, or one stopped between a batch's write and its word vectors). The store answers
    without them, so an interrupted fill costs only speed, and the next ingest finishes it."""
    texts = [t for p in papers for t in (p.title, *paper_sentences(p.abstract))]
    todo = words.missing(texts)
    if not todo:
        return
    started = time.perf_counter()
    advance = progress(len(todo), 0, "word vectors", "text") if progress else None
    added = words.fill(todo, embedder.word_vectors, advance)
    if added < len(todo):  # an embedder that gives no word vectors (a remote server)
        report.notes.append("the embedder gives no word vectors: none kept")
        return
    seconds = time.perf_counter() - started
    report.notes.append(f"word vectors of {added} texts kept in {seconds:.1f} s ({words.size_bytes() / 1e6:.0f} MB)")


def update_lexical(
    store: Store, before: LexicalIndex | None, chunks: list[Chunk], papers: dict[str, Paper], report: IngestReport
) -> None:
    """Bring the lexical index beside the store up to date with what this ingest stored (every
    paper with a chunk is stored once the ingest completes), so that start-up loads it."""
    if before is not None and not report.added_chunks:  # fresh when the ingest began, and unchanged
        return
    counts = dict(Counter(c.paper_id for c in chunks))
    started = time.perf_counter()
    update_after_ingest(store, before, [papers[pid] for pid in counts], counts, replaced=report.rebuilt)
    report.notes.append(f"lexical index updated in {time.perf_counter() - started:.1f} s")
