"""The service the CLI, the API and summaries share: components loaded once, used by all.

Loading is lazy and cached: `rag --help` loads nothing, `rag info` opens only the store, and
the model loads on the first question that needs it.
"""

from __future__ import annotations

import logging
import shutil
import threading
from collections.abc import Callable, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

from rag.answer import Answer, Answerer, OnText
from rag.corpus import Paper
from rag.embedding import Embedder
from rag.errors import CorpusError, NotFoundError, StoreError
from rag.generation import Generator, load_generator
from rag.ingest import IngestReport, fingerprint, ingest
from rag.refusal import TermStatistics
from rag.retrieval import Retriever
from rag.settings import Settings
from rag.store import Store, staging_folder, swap_folders
from rag.summary import Progress, Summarizer, Summary

log = logging.getLogger(__name__)

ProgressFactory = Callable[[int, int], Callable[[int], None]]


class RagService:
    """One collection, one embedder, one model."""

    def __init__(self, settings: Settings, generator: Generator | None = None) -> None:
        self.settings = settings
        self._generator = generator
        self._generator_lock = threading.Lock()

    # ---- components -------------------------------------------------------------------------

    @cached_property
    def embedder(self) -> Embedder:
        return Embedder(
            self.settings.resolved_embedder_path(), self.settings.embed_batch_size, dtype=self.settings.embed_dtype
        )

    @cached_property
    def store(self) -> Store:
        return Store(
            self.settings.store_path, self.settings.collection, self.settings.chroma_url, self.settings.hnsw_ef_search
        )

    def generator(self) -> Generator:
        with self._generator_lock:
            if self._generator is None:
                self._generator = load_generator(self.settings)
            return self._generator

    @property
    def model_name(self) -> str:
        if self._generator is not None:
            return self._generator.name
        if self.settings.llm_base_url:
            return self.settings.llm_model
        return (self.settings.model_path or Path("SmolLM2-135M-Instruct.Q4_1.gguf")).name

    def fingerprint_check(self) -> None:
        self.store.check(
            fingerprint(self.embedder, self.settings.chunk_max_tokens, self.settings.chunk_overlap_sentences)
        )

    @cached_property
    def retriever(self) -> Retriever:
        self.fingerprint_check()
        if self.store.count() == 0:
            raise StoreError(f"the store at {self.store.location} is empty", fix="run `rag ingest`")
        return Retriever(
            self.store,
            self.embedder,
            self.settings.candidate_chunks,
            self.settings.lexical_weight,
            self.settings.rerank_depth,
            self.settings.sentence_weight,
        )

    @cached_property
    def answerer(self) -> Answerer:
        retriever = self.retriever
        stats = TermStatistics(f"{p.title} {p.abstract}" for p in retriever.lexical.papers)
        # the retriever holds every paper for BM25: the answer path reads them from there, not the store
        in_memory = retriever.papers
        return Answerer(
            self.settings,
            retriever,
            self.embedder,
            self.generator,
            stats,
            lambda ids: {pid: in_memory[pid] for pid in ids if pid in in_memory},
        )

    @cached_property
    def summarizer(self) -> Summarizer:
        return Summarizer(self.answerer)

    def _reset_indexes(self) -> None:
        for name in ("retriever", "answerer", "summarizer"):
            self.__dict__.pop(name, None)

    # ---- operations -------------------------------------------------------------------------

    def ingest(
        self,
        path: Path | None = None,
        progress: ProgressFactory | None = None,
        dry_run: bool = False,
        rebuild: bool = False,
    ) -> IngestReport:
        """Add a corpus to the store. `dry_run` parses and reports without touching the store;
        `rebuild` builds a fresh collection that replaces the current one once complete (or, if
        the store cannot be opened at all, a fresh folder that replaces it)."""
        path = path or self.settings.corpus_path
        if rebuild and not dry_run:
            try:
                self.store  # noqa: B018 - opening it tells whether a collection swap can work
            except StoreError as e:
                if self.settings.chroma_url:
                    raise
                log.warning("rebuilding in a new folder, since the store cannot be opened: %s", e.message)
                return self._rebuild_folder(path, progress)
        report = self._ingest_into(None if dry_run else self.store, path, progress, dry_run, rebuild)
        self._reset_indexes()
        return report

    def _ingest_into(
        self, store: Store | None, path: Path, progress: ProgressFactory | None, dry_run: bool, rebuild: bool
    ) -> IngestReport:
        return ingest(
            path,
            store,  # None in a dry run: it must not even create the store folder
            self.embedder,
            self.settings.chunk_max_tokens,
            self.settings.chunk_overlap_sentences,
            self.settings.ingest_batch_chunks,
            progress,
            dry_run,
            rebuild,
        )

    def _rebuild_folder(self, path: Path, progress: ProgressFactory | None) -> IngestReport:
        """Build a new store beside the unreadable one, then move it into place."""
        target = self.settings.store_path
        staging = staging_folder(target)
        fresh = Store(staging, self.settings.collection, None, self.settings.hnsw_ef_search)
        try:
            report = self._ingest_into(fresh, path, progress, dry_run=False, rebuild=False)
        except BaseException:
            fresh.close()
            shutil.rmtree(staging, ignore_errors=True)
            raise
        fresh.close()
        kept = swap_folders(staging, target)
        report.rebuilt = True
        if kept is not None:
            report.notes.append(f"the unreadable store was moved to {kept}; delete it once you do not need it")
        self.__dict__.pop("store", None)
        self._reset_indexes()
        return report

    def ensure_ingested(self, progress: ProgressFactory | None = None) -> IngestReport | None:
        """Ingest the bundled corpus on first use; later runs reuse the store."""
        if self.store.exists and self.store.count() > 0:
            return None
        try:
            return self.ingest(self.settings.corpus_path, progress)
        except CorpusError as e:
            raise StoreError(
                f"the store at {self.store.location} is empty and the corpus to fill it failed: {e.message}",
                fix="run `rag ingest PATH` with your corpus, or set RAG_CORPUS_PATH",
            ) from e

    def ask(
        self, question: str, k: int | None = None, mode: str | None = None, on_text: OnText | None = None
    ) -> Answer:
        return self.answerer.ask(question, k=k, mode=mode, on_text=on_text)

    def summarize(
        self,
        topic: str | None = None,
        papers: Sequence[str] = (),
        mode: str | None = None,
        progress: Progress | None = None,
    ) -> Summary:
        """A cited summary of a topic (every matching paper) or of the named papers."""
        return self.summarizer.summarize(topic, papers, mode=mode, progress=progress)

    def papers(self) -> list[Paper]:
        return self.store.papers()

    def paper(self, paper_id: str) -> Paper:
        found = self.store.get_papers([paper_id]).get(paper_id)
        if found is None:
            raise NotFoundError(f"no paper with id {paper_id}", fix="list ids with `rag papers`")
        return found

    def search(self, query: str, limit: int) -> list[dict[str, Any]]:
        retrieval = self.retriever.retrieve(query, limit)
        return [p.to_dict() for p in retrieval.papers]

    def info(self) -> dict[str, Any]:
        fp = self.store.fingerprint()
        papers = len(self.store.papers()) if self.store.exists else 0
        lacking = self.store.papers_without_sentence_vectors
        return {
            "store": self.store.location,
            "collection": self.settings.collection,
            "papers": papers,
            "chunks": self.store.count(),
            "embedder": fp.embedder if fp else str(self.settings.embedder_path or "all-MiniLM-L6-v2 (bundled)"),
            "chunking": fp.chunking if fp else None,
            "sentences": (
                f"{lacking} papers lack stored sentence vectors (questions embed them; "
                "`rag ingest --rebuild` stores them)"
                if lacking
                else None
            ),
            "model": self.model_name
            if self.settings.llm_base_url
            else str(self.settings.model_path or "SmolLM2-135M-Instruct.Q4_1.gguf (bundled)"),
            "llm_base_url": self.settings.llm_base_url,
        }

    def titles(self) -> Sequence[str]:
        return [p.title for p in self.store.papers()]
