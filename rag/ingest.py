"""Corpus file → chunks → vectors → store. Resumable: what is stored already is not embedded again."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rag.chunking import chunk_papers, chunking_signature
from rag.corpus import ParseReport, Skipped, load_corpus
from rag.embedding import Embedder
from rag.store import Fingerprint, Store

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

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "papers": self.papers,
            "chunks": self.chunks,
            "added_chunks": self.added_chunks,
            "duplicates": self.duplicates,
            "seconds": round(self.seconds, 2),
            "skipped": [{"line": s.line, "reason": s.reason} for s in self.skipped],
            "repaired": [{"line": s.line, "reason": s.reason} for s in self.repaired],
        }


def fingerprint(embedder: Embedder, max_tokens: int, overlap: int) -> Fingerprint:
    return Fingerprint(embedder.name, chunking_signature(max_tokens, overlap), embedder.dimension)


def ingest(
    path: Path,
    store: Store | None,
    embedder: Embedder,
    max_tokens: int,
    overlap: int,
    batch_size: int,
    progress: Callable[[int, int], Progress] | None = None,
    dry_run: bool = False,
) -> IngestReport:
    """Parse `path`, chunk it, and store the chunks the store does not hold yet.

    Chunks are embedded and written batch by batch, so an interrupted ingest keeps what it
    finished and a re-run picks up the rest (chunk ids derive from content, so nothing doubles).
    `progress(total, already_done)` returns a callback fed the count of each stored batch.
    """
    started = time.perf_counter()
    parsed: ParseReport = load_corpus(path)
    chunks = chunk_papers(parsed.papers, embedder.count_tokens, max_tokens, overlap)
    report = IngestReport(path, len(parsed.papers), len(chunks), 0, parsed.skipped, parsed.repaired, parsed.duplicates)
    if dry_run or store is None:
        report.seconds = time.perf_counter() - started
        return report

    store.create(fingerprint(embedder, max_tokens, overlap))
    missing = set(store.missing_ids([c.chunk_id for c in chunks]))
    todo = [c for c in chunks if c.chunk_id in missing]
    papers = {p.paper_id: p for p in parsed.papers}
    # a paper's first chunk carries its record: write it last, so a paper is listed only when whole
    todo.sort(key=lambda c: (c.paper_id, c.index == 0, c.index))
    advance = progress(len(chunks), len(chunks) - len(todo)) if progress else None
    for start in range(0, len(todo), batch_size):
        batch = todo[start : start + batch_size]
        vectors = embedder.embed([c.embed_text for c in batch])
        store.upsert(batch, vectors, papers)
        report.added_chunks += len(batch)
        if advance:
            advance(len(batch))
    report.seconds = time.perf_counter() - started
    log.info("ingested %s: %d papers, %d chunks (%d new)", path, report.papers, report.chunks, report.added_chunks)
    return report
