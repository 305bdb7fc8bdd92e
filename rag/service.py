"""The service the CLI and the API share: components built once, passed to each stage.

Loading is lazy and cached: `rag --help` loads nothing, `rag info` opens only the store, and
the model loads on the first question that needs it. Components are handed to the stages
through their constructors; tests hand the service their own embedder or model the same way.

`respond` routes a request: a request for a summary ("Summarize ...") goes to the summarizer,
anything else to the answer loop, so `rag ask`, `/v1/ask` and the chat route treat it alike.
"""

from __future__ import annotations

import logging
import shutil
import threading
from collections.abc import Callable, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

from rag.answer import Answerer, OnText
from rag.answerability import Models, load_models
from rag.corpus import Paper, ParseReport, load_corpus
from rag.embedding import Embedder, RemoteEmbedder, engine
from rag.errors import ConfigError, CorpusError, NotFoundError, StoreDamagedError, StoreError
from rag.evidence import SeveralSources
from rag.generation import Generator, load_generator, metered, prefetch
from rag.ingest import IngestReport, fingerprint, ingest
from rag.linear import LinearModel, load
from rag.params import read
from rag.question import Question
from rag.retrieval import Retriever
from rag.settings import PACKAGE_DIR, Settings
from rag.store import Store, staging_folder, swap_folders
from rag.summary import Progress, Summarizer, Summary
from rag.support import SupportChecker
from rag.text import TermStatistics
from rag.types import Answer
from rag.words import KeptWords, folder_for

log = logging.getLogger(__name__)
PARAMS_DIR = PACKAGE_DIR / "params"

# (total, already done[, stage, unit]) -> a callback fed what each step finished
ProgressFactory = Callable[..., Callable[[int], None]]


class RagService:
    """One collection, one embedder, one model."""

    def __init__(
        self, settings: Settings, generator: Generator | None = None, embedder: Embedder | None = None
    ) -> None:
        """`generator` and `embedder`, when given, are used instead of loading the configured ones."""
        self.settings = settings
        self._generator = generator
        self._generator_lock = threading.Lock()
        if embedder is not None:
            self.embedder = self._keep_words(embedder)

    # ---- components -------------------------------------------------------------------------

    @cached_property
    def embedder(self) -> Embedder:
        e = self.settings.embedding
        if e.embed_base_url:
            return RemoteEmbedder(
                e.embed_base_url,
                self.settings.resolved_embedder_path(),
                e.embed_model,
                e.embed_api_key,
                e.embed_batch_size,
                e.embed_timeout_s,
            )
        return self._keep_words(
            Embedder(
                self.settings.resolved_embedder_path(), e.embed_batch_size, dtype=e.embed_dtype, backend=e.embed_backend
            )
        )

    def _keep_words(self, embedder: Embedder) -> Embedder:
        """Let the embedder read the word vectors ingest kept beside the store (rag.words)."""
        keep = self.settings.embedding.keep_word_vectors
        embedder.keep_words(KeptWords(folder_for(self.settings.store.store_path, embedder.name)) if keep else None)
        return embedder

    @cached_property
    def store(self) -> Store:
        s = self.settings.store
        return Store(s.store_path, s.collection, s.chroma_url, s.hnsw_ef_search)

    def generator(self) -> Generator:
        with self._generator_lock:
            if self._generator is None:
                self._generator = load_generator(self.settings)
            return self._generator

    def prepare_generator(self) -> None:
        """Start, in a background thread, what loading the model costs before it commits to
        anything (`rag.generation.prefetch`), for a command about to answer in generative
        mode: retrieval runs meanwhile, and a question that is refused never loads the model."""
        if self._generator is None:
            threading.Thread(target=prefetch, args=(self.settings,), name="model-prefetch", daemon=True).start()

    @property
    def model_name(self) -> str:
        if self._generator is not None:
            return self._generator.name
        return self.settings.model_name()

    def fingerprint_check(self) -> None:
        e = self.settings.embedding
        self.store.check(fingerprint(self.embedder, e.chunk_max_tokens, e.chunk_overlap_sentences))

    @cached_property
    def retriever(self) -> Retriever:
        self.fingerprint_check()
        if self.store.count() == 0:
            raise StoreError(f"the store at {self.store.location} is empty", fix="run `rag ingest`")
        r = self.settings.retrieval
        return Retriever(
            self.store, self.embedder, r.candidate_chunks, r.lexical_weight, r.rerank_depth, r.sentence_weight
        )

    @cached_property
    def stats(self) -> TermStatistics:
        """Document frequencies over the collection (counted with the lexical index, rag/lexical.py)."""
        return self.retriever.lexical.terms.with_vocabulary(self.embedder.vocabulary())

    @cached_property
    def support(self) -> SupportChecker:
        return SupportChecker(self.embedder, self.settings.answer.support_threshold, common=self.stats.common_terms())

    @cached_property
    def answerability(self) -> Models:
        """The fitted answer-or-refuse decision (rag/params/answerability*.json)."""
        return load_models()

    @cached_property
    def answer_model(self) -> LinearModel:
        """The fitted answer-bearing sentence model (rag/params/answer_sentence.json)."""
        return load(PARAMS_DIR / "answer_sentence.json")

    @cached_property
    def answerer(self) -> Answerer:
        return Answerer(
            self.settings,
            self.retriever,
            self.embedder,
            self.generator,
            self.stats,
            self.support,
            self.answerability,
            self.answer_model,
            self.summarizer.papers_on,
            self.several_sources,
        )

    @cached_property
    def several_sources(self) -> SeveralSources:
        """Which of its topic's members a several-paper answer cites: as fitted
        (rag/params/several_sources.json) unless the settings say otherwise."""
        path = PARAMS_DIR / "several_sources.json"
        try:
            fitted = SeveralSources.from_dict(read(path))
        except (KeyError, ValueError, TypeError) as e:
            raise ConfigError(
                f"the fitted parameters in {path} lack {e}", fix="refit them with python -m rag.params.fit_several"
            ) from e
        a = self.settings.answer
        return SeveralSources(
            fitted.membership if a.several_membership is None else a.several_membership,
            fitted.max_sources if a.several_max_sources is None else a.several_max_sources,
        )

    @cached_property
    def summarizer(self) -> Summarizer:
        return Summarizer(
            self.settings,
            self.retriever,
            self.embedder,
            self.stats,
            self.support,
            self.generator,
            load(PARAMS_DIR / "membership.json"),
        )

    def _reset_indexes(self) -> None:
        if "embedder" in self.__dict__:  # an ingest may have kept new word vectors, or moved the folder
            self._keep_words(self.embedder)
        for name in ("retriever", "stats", "support", "answerer", "summarizer"):
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
        the store is damaged, a fresh folder that replaces it; the damaged one is kept)."""
        path = path or self.settings.store.corpus_path
        # the corpus and the embedder first: a file that cannot be used, or an embedder that
        # fails to load, must not create (or touch) the store
        parsed = load_corpus(path)
        if dry_run:
            return self._ingest_into(None, path, progress, dry_run, rebuild, parsed)
        self.embedder  # noqa: B018
        if rebuild:
            return self._rebuild(path, progress, parsed)
        report = self._ingest_into(self.store, path, progress, dry_run, rebuild, parsed)
        self._reset_indexes()
        return report

    def _rebuild(self, path: Path, progress: ProgressFactory | None, parsed: ParseReport) -> IngestReport:
        """Swap in a new collection; a damaged store (found before or during the rebuild) is
        rebuilt in a new folder instead, since its database cannot be trusted with the swap."""
        local = not self.settings.store.chroma_url
        try:
            self.store.verify()  # opening it is not enough: a damaged store answers some reads
        except StoreError as e:
            if not local:
                raise
            return self._rebuild_folder(path, progress, parsed, e.message)
        try:
            report = self._ingest_into(self.store, path, progress, False, True, parsed)
        except StoreDamagedError as e:
            if not local:
                raise
            return self._rebuild_folder(path, progress, parsed, e.message)
        self._reset_indexes()
        return report

    def _ingest_into(
        self,
        store: Store | None,
        path: Path,
        progress: ProgressFactory | None,
        dry_run: bool,
        rebuild: bool,
        parsed: ParseReport | None = None,
    ) -> IngestReport:
        e = self.settings.embedding
        return ingest(
            path,
            store,  # None in a dry run: it must not even create the store folder
            self.embedder,
            e.chunk_max_tokens,
            e.chunk_overlap_sentences,
            e.ingest_batch_chunks,
            progress,
            dry_run,
            rebuild,
            parsed,
            None
            if store is None or not e.keep_word_vectors
            else KeptWords(folder_for(store.folder, self.embedder.name)),
        )

    def _rebuild_folder(
        self, path: Path, progress: ProgressFactory | None, parsed: ParseReport, damage: str
    ) -> IngestReport:
        """Build a new store beside the damaged one, then move it into place; the damaged folder
        is kept (renamed), never deleted: it may hold the only copy of something."""
        log.warning("rebuilding in a new folder beside the damaged store: %s", damage)
        old = self.__dict__.pop("store", None)
        if old is not None:
            old.close()
        target = self.settings.store.store_path
        staging = staging_folder(target)
        fresh = Store(staging, self.settings.store.collection, None, self.settings.store.hnsw_ef_search)
        try:
            report = self._ingest_into(fresh, path, progress, False, False, parsed)
        except BaseException:
            fresh.close()
            shutil.rmtree(staging, ignore_errors=True)
            raise
        fresh.close()
        kept = swap_folders(staging, target)
        report.rebuilt = True
        if kept is not None:
            report.notes.append(
                f"the store could not be used ({damage}); rebuilt it in a new folder and moved the damaged one "
                f"to {kept}; delete that once you do not need it"
            )
        self._reset_indexes()
        return report

    def ensure_ingested(self, progress: ProgressFactory | None = None) -> IngestReport | None:
        """Ingest the bundled corpus on first use; later runs reuse the store."""
        if self.store.exists and self.store.count() > 0:
            return None
        try:
            return self.ingest(self.settings.store.corpus_path, progress)
        except CorpusError as e:
            raise StoreError(
                f"the store at {self.store.location} is empty and the corpus to fill it failed: {e.message}",
                fix="run `rag ingest PATH` with your corpus, or set RAG_CORPUS_PATH",
            ) from e

    def analyse(self, text: str) -> Question:
        """The request read once (raises QuestionError for an empty or over-long one)."""
        return self.answerer.analyse(text)

    def ask(
        self, question: str | Question, k: int | None = None, mode: str | None = None, on_text: OnText | None = None
    ) -> Answer:
        """Answer a question (never a summary: see `respond`), with the model's tokens in `usage`."""
        with metered() as usage:
            answer = self.answerer.ask(question, k=k, mode=mode, on_text=on_text)
        answer.usage = usage
        return answer

    def respond(
        self, text: str | Question, k: int | None = None, mode: str | None = None, on_text: OnText | None = None
    ) -> Answer:
        """A request as every entry point routes it: a summary for "Summarize ...", else an answer."""
        request = text if isinstance(text, Question) else self.analyse(text)
        if request.is_summary_request:
            with metered() as usage:
                summary = self.summarizer.summarize(request, mode=mode)
            if on_text:
                on_text(summary.markdown())
            answer = summary.as_answer()
            answer.usage = usage
            return answer
        return self.ask(request, k=k, mode=mode, on_text=on_text)

    def summarize(
        self,
        topic: str | Question | None = None,
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
            raise NotFoundError(f"no paper with id {paper_id}", fix="find ids with GET /v1/papers?q=... or `rag info`")
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
            "collection": self.settings.store.collection,
            "papers": papers,
            "chunks": self.store.count(),
            "embedder": fp.embedder
            if fp
            else str(self.settings.embedding.embedder_path or "all-MiniLM-L6-v2 (bundled)"),
            "chunking": fp.chunking if fp else None,
            "embedding": self._embedding_engine(),
            "sentences": (
                f"{lacking} papers lack stored sentence vectors (questions embed them; "
                "`rag ingest --rebuild` stores them)"
                if lacking
                else None
            ),
            "word_vectors": self._kept_words_info(fp.embedder if fp else None),
            "model": self.model_name
            if self.settings.generation.llm_base_url
            else str(self.settings.generation.model_path or "SmolLM2-135M-Instruct.Q4_1.gguf (bundled)"),
            "llm_base_url": self.settings.generation.llm_base_url,
        }

    def _kept_words_info(self, embedder_name: str | None) -> str | None:
        """What `rag info` says of the word vectors kept beside the store (rag.words)."""
        if not self.settings.embedding.keep_word_vectors:
            return "off (RAG_KEEP_WORD_VECTORS=false): questions compute the best paper's"
        if embedder_name is None:
            return None
        kept = KeptWords(folder_for(self.settings.store.store_path, embedder_name))
        if not len(kept):
            return "none kept: `rag ingest` keeps them, and questions then skip computing them"
        return f"{len(kept)} titles and sentences kept ({kept.size_bytes() / 1e6:.0f} MB)"

    def _embedding_engine(self) -> str:
        e = self.settings.embedding
        if e.embed_base_url:
            return f"through {e.embed_base_url}"
        return engine(self.settings.resolved_embedder_path(), e.embed_backend, e.embed_dtype)

    def titles(self) -> Sequence[str]:
        return [p.title for p in self.store.papers()]
