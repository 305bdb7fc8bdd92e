"""The answer loop: retrieve, decide coverage, show the model a few numbered passages, check
every sentence it writes against them, and return only what the sources support.

The tiny default model can phrase an answer from a passage but cannot choose between sources,
cite or stop on its own, so the loop does those parts: retrieval picks the passages, coverage
decides refusal before the model runs, the repetition guard stops loops, and the support check
decides which sentences stand and which source each one cites.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rag.chunking import split_sentences
from rag.citations import AnswerSentence, Source, SupportChecker, content_terms, map_citations, parse_sentences
from rag.corpus import Paper
from rag.embedding import Embedder
from rag.errors import QuestionError
from rag.generation import Generator, guard_repetition
from rag.prompts import CANNOT_ANSWER, load_template
from rag.refusal import Coverage, TermStatistics, assess
from rag.retrieval import PaperHit, Retrieval, Retriever
from rag.settings import Settings

log = logging.getLogger(__name__)

OnText = Callable[[str], None]
# A paper joins the answer's sources when its best chunk is this close to the best paper's.
RELEVANCE_MARGIN = 0.08


@dataclass
class Citation:
    n: int
    title: str
    paper_id: str
    snippet: str

    def to_dict(self) -> dict[str, Any]:
        return {"n": self.n, "title": self.title, "paper_id": self.paper_id, "snippet": self.snippet}


@dataclass
class Answer:
    question: str
    answer: str
    refused: bool
    mode: str
    model: str
    prompt: str
    citations: list[Citation] = field(default_factory=list)
    retrieved: list[PaperHit] = field(default_factory=list)
    sentences: list[AnswerSentence] = field(default_factory=list)
    coverage: Coverage | None = None
    timings: dict[str, float | None] = field(default_factory=dict)
    dropped_markers: int = 0
    unsupported_sentences: int = 0
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "answer": self.answer,
            "refused": self.refused,
            "citations": [c.to_dict() for c in self.citations],
            "retrieved": [p.to_dict() for p in self.retrieved],
            "sentences": [s.to_dict() for s in self.sentences],
            "timings": {k: (round(v, 1) if v is not None else None) for k, v in self.timings.items()},
            "model": self.model,
            "prompt": self.prompt,
            "mode": self.mode,
            "coverage": self.coverage.to_dict() if self.coverage else None,
            "dropped_markers": self.dropped_markers,
            "unsupported_sentences": self.unsupported_sentences,
            "notes": self.notes,
        }


def refusal_text(nearest: Sequence[PaperHit]) -> str:
    text = CANNOT_ANSWER
    if nearest:
        titles = "; ".join(f'"{p.title}"' for p in nearest[:3])
        text += f" The nearest papers in it are: {titles}."
    return text


class Answerer:
    """Answers questions over one retriever with one (lazily loaded) generator."""

    def __init__(
        self,
        settings: Settings,
        retriever: Retriever,
        embedder: Embedder,
        generator: Callable[[], Generator],
        stats: TermStatistics,
        papers: Callable[[Sequence[str]], dict[str, Paper]],
    ) -> None:
        self.settings = settings
        self.retriever = retriever
        self.embedder = embedder
        self._generator = generator
        self.stats = stats
        self._papers = papers
        self.support = SupportChecker(embedder, settings.support_threshold)
        self._sentence_vectors: dict[str, tuple[list[str], np.ndarray[Any, Any]]] = {}

    # ---- evidence ---------------------------------------------------------------------------

    def validate(self, question: str) -> str:
        question = " ".join(question.split())
        if not question:
            raise QuestionError("the question is empty", fix="ask something, e.g. rag ask \"What is grokking?\"")
        if len(question) > self.settings.max_question_chars:
            raise QuestionError(
                f"the question is {len(question):,} characters long; the limit is {self.settings.max_question_chars:,}",
                fix="shorten it or raise RAG_MAX_QUESTION_CHARS",
            )
        return question

    def _abstract_sentences(self, paper: Paper) -> tuple[list[str], np.ndarray[Any, Any]]:
        cached = self._sentence_vectors.get(paper.paper_id)
        if cached is None:
            sentences = split_sentences(paper.abstract) or [paper.abstract]
            cached = (sentences, self.embedder.embed(sentences))
            if len(self._sentence_vectors) > 2048:
                self._sentence_vectors.clear()
            self._sentence_vectors[paper.paper_id] = cached
        return cached

    def relevant(self, retrieval: Retrieval) -> list[PaperHit]:
        """The retrieved papers close enough to the best one to count as sources."""
        if not retrieval.papers:
            return []
        best = max(p.dense for p in retrieval.papers)
        top = retrieval.papers[0]
        keep = [top]
        for paper in retrieval.papers[1:]:
            if paper.dense >= best - RELEVANCE_MARGIN:
                keep.append(paper)
        return keep

    def rank_sentences(self, question: str, vector: np.ndarray[Any, Any], paper: Paper) -> list[tuple[float, int, str]]:
        """The paper's sentences by relevance to the question: cosine plus a share of shared terms."""
        sentences, vectors = self._abstract_sentences(paper)
        q_terms = content_terms(question)
        scored = []
        for i, (sentence, sim) in enumerate(zip(sentences, vectors @ vector, strict=True)):
            overlap = len(q_terms & content_terms(sentence)) / len(q_terms) if q_terms else 0.0
            scored.append((float(sim) + 0.3 * overlap, i, sentence))
        return sorted(scored, reverse=True)

    def sources(self, question: str, vector: np.ndarray[Any, Any], papers: Sequence[PaperHit], per_source: int) -> list[Source]:
        records = self._papers([p.paper_id for p in papers])
        out = []
        for n, hit in enumerate(papers, start=1):
            paper = records.get(hit.paper_id)
            if paper is None:
                continue
            best = sorted(self.rank_sentences(question, vector, paper)[:per_source], key=lambda t: t[1])
            out.append(Source(n, paper.paper_id, paper.title, tuple(s for _, _, s in best)))
        return out

    # ---- the loop ---------------------------------------------------------------------------

    def ask(self, question: str, k: int | None = None, mode: str | None = None, on_text: OnText | None = None) -> Answer:
        started = time.perf_counter()
        question = self.validate(question)
        mode = mode or self.settings.mode
        k = k or self.settings.top_k

        vector = self.embedder.embed_one(question)
        retrieval = self.retriever.retrieve_with_vector(question, vector, k)
        retrieve_ms = (time.perf_counter() - started) * 1000
        paper_texts = {pid: f"{p.title} {p.abstract}" for pid, p in self._papers([h.paper_id for h in retrieval.papers[:3]]).items()}
        coverage = assess(question, retrieval, self.stats, paper_texts, self.settings.refusal_threshold)
        template = load_template(self.settings.prompts_dir, "answer")
        answer = Answer(question, "", False, mode, "none", template.id, retrieved=retrieval.papers, coverage=coverage)
        answer.timings = {"retrieve_ms": retrieve_ms, "first_token_ms": None, "generate_ms": 0.0}

        if not coverage.covered:
            answer.refused = True
            answer.answer = refusal_text(retrieval.papers)
            if on_text:
                on_text(answer.answer)
        else:
            chosen = self.relevant(retrieval)[: self.settings.prompt_sources]
            if mode == "extractive":
                sources = self.sources(question, vector, chosen, self.settings.prompt_sentences)
                self._extract(answer, question, vector, sources, on_text)
            else:
                self._generate(answer, question, vector, chosen, on_text)
        answer.timings["total_ms"] = (time.perf_counter() - started) * 1000
        return answer

    def _extract(self, answer: Answer, question: str, vector: np.ndarray[Any, Any], sources: Sequence[Source], on_text: OnText | None) -> None:
        """Quote the best sentence of each source (two from the best source), each cited."""
        sentences: list[AnswerSentence] = []
        for source in sources:
            records = self._papers([source.paper_id])
            ranked = self.rank_sentences(question, vector, records[source.paper_id])
            take = sorted(ranked[: 2 if source.n == 1 else 1], key=lambda t: t[1])
            for score, _, text in take:
                sentences.append(AnswerSentence(text, [source.n], True, score))
        self._finish(answer, sentences, sources, on_text, emitted=0)

    def _fit_sources(self, generator: Generator, question: str, vector: np.ndarray[Any, Any], chosen: Sequence[PaperHit], answer: Answer) -> tuple[list[Source], list[dict[str, str]]]:
        """Sources that fit the context window, trimming sentences and then whole sources; what
        is left out is said in the answer's notes, never cut silently."""
        template = load_template(self.settings.prompts_dir, "answer")
        budget = generator.n_ctx - self.settings.max_tokens - 16
        per_source = self.settings.prompt_sentences
        papers = list(chosen)
        while True:
            sources = self.sources(question, vector, papers, per_source)
            messages = template.render(sources=format_sources(sources), question=question, cannot_answer=CANNOT_ANSWER)
            used = sum(generator.count_tokens(m["content"]) for m in messages) + 8 * len(messages)
            if used <= budget or (per_source == 1 and len(papers) == 1):
                break
            if per_source > 1:
                per_source -= 1
            else:
                dropped = papers.pop()
                answer.notes.append(f'source "{dropped.title}" was left out: it did not fit the context window')
        if per_source < self.settings.prompt_sentences:
            answer.notes.append(f"sources were trimmed to their {per_source} most relevant sentences to fit the context window")
        return sources, messages

    def _generate(self, answer: Answer, question: str, vector: np.ndarray[Any, Any], chosen: Sequence[PaperHit], on_text: OnText | None) -> None:
        generator = self._generator()
        answer.model = generator.name
        sources, messages = self._fit_sources(generator, question, vector, chosen, answer)
        started = time.perf_counter()
        text = ""
        kept: list[AnswerSentence] = []
        emitted = processed = 0
        for piece in guard_repetition(generator.stream(messages, self.settings.max_tokens)):
            if answer.timings["first_token_ms"] is None:
                answer.timings["first_token_ms"] = (time.perf_counter() - started) * 1000
            text += piece
            parsed = parse_sentences(text)
            # every sentence but the last is finished: check and show it now
            while len(parsed) - 1 > processed:
                emitted += self._take(answer, parsed[processed], sources, kept, on_text)
                processed += 1
        for sentence in parse_sentences(text)[processed:]:
            emitted += self._take(answer, sentence, sources, kept, on_text)
        answer.timings["generate_ms"] = (time.perf_counter() - started) * 1000
        if not any(s.supported for s in kept):
            answer.notes.append("the model's answer was not supported by the sources; quoting them instead")
            self._extract(answer, question, vector, sources, on_text)
            return
        self._finish(answer, kept, sources, on_text, emitted)

    def _take(self, answer: Answer, sentence: AnswerSentence, sources: Sequence[Source], kept: list[AnswerSentence], on_text: OnText | None) -> int:
        """Check one generated sentence; keep, flag or drop it. Returns 1 if it was shown."""
        if _is_refusal(sentence.text):
            # coverage already judged the question answerable; the tiny model's own refusal is
            # less reliable than that evidence, so its refusal is noted and quoting takes over
            answer.notes.append("the model said the sources do not answer the question")
            answer.unsupported_sentences += 1
            return 0
        answer.dropped_markers += map_citations([sentence], sources)
        self.support.check(sentence, sources)
        if not sentence.supported:
            answer.unsupported_sentences += 1
            if self.settings.unsupported == "drop":
                return 0
        kept.append(sentence)
        if on_text and sentence.supported:
            on_text(sentence.rendered() + " ")
            return 1
        return 0

    def _finish(self, answer: Answer, sentences: list[AnswerSentence], sources: Sequence[Source], on_text: OnText | None, emitted: int) -> None:
        by_n = {s.n: s for s in sources}
        if on_text:
            for sentence in sentences[emitted:]:
                on_text(sentence.rendered() + " ")
        answer.sentences = sentences
        answer.answer = " ".join(s.rendered() + ("" if s.supported else " (unsupported)") for s in sentences).strip()
        cited: list[int] = []
        for sentence in sentences:
            cited.extend(n for n in sentence.citations if n not in cited and sentence.supported)
        answer.citations = []
        for n in sorted(cited):
            source = by_n[n]
            snippet = next((s.text for s in sentences if n in s.citations and s.text in source.sentences), None)
            answer.citations.append(Citation(n, source.title, source.paper_id, snippet or _best_line(source, sentences, n)))


def _best_line(source: Source, sentences: Sequence[AnswerSentence], n: int) -> str:
    claim = " ".join(s.text for s in sentences if n in s.citations)
    terms = content_terms(claim)
    return max(source.sentences, key=lambda s: len(terms & content_terms(s)), default="")


def _is_refusal(text: str) -> bool:
    return CANNOT_ANSWER.casefold().rstrip(".") in text.casefold()


def format_sources(sources: Sequence[Source]) -> str:
    return "\n\n".join(f"[{s.n}] {s.title}\n" + " ".join(s.sentences) for s in sources)

