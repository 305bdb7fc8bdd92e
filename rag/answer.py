"""The answer loop, one stage after another: analyse the question, retrieve, decide whether the
collection answers, choose the evidence, let the model write a short lead, render.

Each stage lives in its own module and this one only passes the data down:

    rag.question       the question, read once into a typed value
    rag.retrieval      dense + lexical retrieval, sentence rerank
    rag.answerability  answer or refuse, from evidence, before any model runs
    rag.evidence       which papers are sources, which of their sentences answer
    rag.lead           the model's lead, streamed and support-checked
    rag.render         the text the reader sees, and its citations

In extractive mode no model runs and the quotes are the whole answer.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from rag.alignment import Alignment, align
from rag.answerability import TOP_PAPERS, Models, decide
from rag.corpus import Paper
from rag.embedding import Embedder
from rag.evidence import (
    QUOTES,
    Evidence,
    PaperEvidence,
    Pick,
    SeveralSources,
    answer_candidates,
    compose,
    pick_sentences,
    quote_counts,
    rank_sentences,
    relevant,
    topic_sims,
)
from rag.generation import Generator
from rag.joint import passage
from rag.lead import Lead, OnText, write_lead
from rag.linear import LinearModel
from rag.prompts import Template, load_template
from rag.question import Question, analyse
from rag.render import answer_text, citations, join, premise_refusal, refusal_text, titles_lead, within
from rag.retrieval import PaperHit, Retrieval, Retriever
from rag.settings import Settings
from rag.support import SupportChecker, names_in, numbers_in
from rag.text import TermStatistics, content_terms
from rag.types import Answer, AnswerSentence, Source

log = logging.getLogger(__name__)

__all__ = ["Answerer", "OnText"]


def keeps_answer(written: str, source: str, question: Question) -> bool:
    """Does the model's sentence keep what the source sentence answers with: every number, and
    every name the question does not use? A faithful sentence that drops the answer ("The paper
    on X cites.") must not lead in place of the sentence that holds it."""
    asked = {n.casefold() for n in question.named}
    wanted = set(numbers_in(source)) | {n.casefold() for n in names_in(source) if n.casefold() not in asked}
    said = set(numbers_in(written)) | {n.casefold() for n in names_in(written)}
    return wanted <= said


def restates(written: str, source: str) -> bool:
    """Does one of two sentences hold the other whole (case and a final period aside)? Copy
    decoding cuts a span of the source sentence, which may be the shown clause, a part of it,
    or more of the sentence than the clause: then quoting the clause would repeat the lead."""
    a, b = written.rstrip(".").casefold(), source.rstrip(".").casefold()
    return a in b or b in a


class Answerer:
    """Answers questions over one retriever, with one (lazily loaded) generator."""

    def __init__(
        self,
        settings: Settings,
        retriever: Retriever,
        embedder: Embedder,
        generator: Callable[[], Generator],
        stats: TermStatistics,
        support: SupportChecker,
        answerability: Models,
        answer_model: LinearModel,
        topic_papers: Callable[[Question], list[tuple[PaperHit, float]]] | None = None,
        several: SeveralSources | None = None,
    ) -> None:
        self.settings = settings
        self.retriever = retriever
        self.embedder = embedder
        self.generator = generator
        self.stats = stats
        self.support = support
        self.answerability = answerability
        self.answer_model = answer_model  # which sentence holds the answer (rag/params/answer_sentence.json)
        # the papers a "which papers ..." question asks for, judged as a summary's members are
        # (rag.summary.Summarizer.papers_on), and which of them it cites (`several`);
        # None: by retrieval score margins alone
        self.topic_papers = topic_papers
        self.several = several

    def analyse(self, question: str) -> Question:
        return analyse(question, self.settings.answer.max_question_chars)

    def papers(self, ids: Sequence[str]) -> dict[str, Paper]:
        known = self.retriever.papers
        return {pid: known[pid] for pid in ids if pid in known}

    def sentences_of(self, paper_id: str) -> tuple[list[str], np.ndarray[Any, Any]]:
        """A paper's abstract sentences and their vectors (remembered by the support check)."""
        sentences, vectors = self.retriever.sentences(paper_id)
        self.support.remember(sentences, vectors)
        return sentences, vectors

    def ranked_sentences(self, text: str, vector: np.ndarray[Any, Any], paper_id: str) -> list[tuple[int, str]]:
        """A paper's sentences, best first for `text` (see `rank_sentences`)."""
        sentences, vectors = self.sentences_of(paper_id)
        order = rank_sentences(content_terms(text), vector, [content_terms(s) for s in sentences], vectors)
        return [(i, sentences[i]) for i in order]

    def part_vectors(self, question: Question) -> list[tuple[str, np.ndarray[Any, Any]]]:
        """Each part of a question that asks several things, with its vector (none for one part)."""
        return [(part, self.embedder.embed_one(part)) for part in question.parts] if len(question.parts) > 1 else []

    def evidence(
        self,
        question: Question,
        vector: np.ndarray[Any, Any],
        parts: Sequence[tuple[str, np.ndarray[Any, Any]]],
        retrieval: Retrieval,
    ) -> Evidence:
        """The top papers in detail: what the answerability decision and the lead read."""
        top = retrieval.papers[:TOP_PAPERS]
        records = self.papers([p.paper_id for p in top])
        hits = [p for p in top if p.paper_id in records]
        asked = self.embedder.embed_one(question.asked) if question.asked and hits else None
        phrases = list(self.embedder.embed(list(question.phrases))) if question.phrases and hits else []
        papers = []
        for hit in hits:
            sentences, vectors = self.sentences_of(hit.paper_id)
            residual, centrality = topic_sims(vector, vectors)
            papers.append(
                PaperEvidence(
                    hit,
                    records[hit.paper_id],
                    sentences,
                    vectors,
                    vectors @ vector,
                    [vectors @ part_vector for _, part_vector in parts],
                    vectors @ asked if asked is not None else None,
                    [vectors @ phrase for phrase in phrases],
                    residual,
                    centrality,
                )
            )
        # a several-paper question's words are spread over its papers, so they are matched against
        # all the top papers: leave one set out, ROC area 0.874 -> 0.882 (docs/decisions.md)
        aligned = papers if question.several else papers[:1]
        joint = (
            self.embedder.read_together(question.read_as, passage(papers[0].paper.title, papers[0].sentences))
            if papers
            else None
        )
        return Evidence(retrieval, papers, self.alignment(question, [s for p in aligned for s in p.sentences]), joint)

    def alignment(self, question: Question, sentences: Sequence[str]) -> Alignment | None:
        """The question's words matched to the sentences' (the best paper's), one row a question word."""
        if not sentences:
            return None
        words = self.embedder.word_vectors([question.read_as, *sentences])
        return align(words[0], words[1:], self.stats) if words else None

    def sources(
        self,
        question: Question,
        vector: np.ndarray[Any, Any],
        papers: Sequence[PaperHit],
        counts: Sequence[int],
        parts: Sequence[tuple[str, np.ndarray[Any, Any]]] = (),
    ) -> list[Source]:
        """Numbered sources, each with the `counts[i]` sentences that best answer the question."""
        records = self.papers([p.paper_id for p in papers])
        out: list[Source] = []
        for hit, count in zip(papers, counts, strict=True):
            paper = records.get(hit.paper_id)
            if paper is None:
                continue
            sentences, vectors = self.sentences_of(paper.paper_id)
            sentence_terms = [content_terms(s) for s in sentences]
            ranked = rank_sentences(question.terms, vector, sentence_terms, vectors)
            part_picks = [
                rank_sentences(content_terms(part), part_vector, sentence_terms, vectors)[0]
                for part, part_vector in parts
            ]
            best = pick_sentences(question, ranked, sentences, count, part_picks)
            chosen = tuple(sentences[i] for i in best)
            out.append(Source(len(out) + 1, paper.paper_id, paper.title, chosen, tuple(sentences)))
        return out

    def ask(
        self, question: str | Question, k: int | None = None, mode: str | None = None, on_text: OnText | None = None
    ) -> Answer:
        started = time.perf_counter()
        q = question if isinstance(question, Question) else self.analyse(question)
        settings = self.settings.answer
        mode = mode or settings.mode
        k = k or self.settings.retrieval.top_k

        vector = self.embedder.embed_one(q.read_as)
        retrieval = self.retriever.retrieve_with_vector(q.read_as, vector, k)
        retrieve_ms = (time.perf_counter() - started) * 1000
        parts = self.part_vectors(q)
        found = self.evidence(q, vector, parts, retrieval)
        candidates = answer_candidates(q, found, self.stats, self.answer_model)
        coverage = decide(q, found, self.stats, self.answerability, candidates)
        template = load_template(self.settings.store.prompts_dir, "answer")
        answer = Answer(
            q.text,
            "",
            False,
            mode,
            "none",
            template.id if mode == "generative" else "extractive",
            retrieved=retrieval.papers,
            coverage=coverage,
        )
        answer.timings = {"retrieve_ms": retrieve_ms, "first_token_ms": None, "generate_ms": 0.0}

        if not coverage.covered:
            answer.refused = True
            if coverage.contradiction is not None:
                # refused and corrected: the source sentence that says otherwise, cited; the
                # premise itself is never repeated
                paper_id, sentence = coverage.contradiction
                best = found.papers[0]
                source = Source(1, paper_id, best.paper.title, (sentence,), tuple(best.sentences))
                answer.sentences = [AnswerSentence(sentence, [1], True, 1.0, kind="quote", check="quote")]
                answer.answer = join(premise_refusal(answer.sentences[0]))
                answer.citations = citations(answer.sentences, [source])
                answer.evidence = [source]
                answer.notes.append("the question takes as given what its source says the opposite of")
            else:
                answer.answer = refusal_text(retrieval.papers)
            if coverage.missing_terms:
                answer.notes.append("the top papers lack: " + ", ".join(coverage.missing_terms))
            if on_text:
                on_text(answer.answer)
            answer.timings["total_ms"] = (time.perf_counter() - started) * 1000
            return answer

        # a question about several papers asks for the members of a topic: the membership model
        # judges them better than score margins do (docs/decisions.md); margins when none passes
        members = (
            self.several.choose(self.topic_papers(q))
            if q.several
            and settings.several_sources == "members"
            and self.topic_papers is not None
            and self.several is not None
            else []
        )
        sourced = members or relevant(
            q,
            retrieval,
            self.papers([p.paper_id for p in retrieval.candidates]) if q.several and q.named else {},
            settings.single_margin,
            settings.several_margin,
            settings.several_sentence_margin,
            settings.max_sources,
        )
        lead_pick, quote_picks = compose(q, found, candidates, [p.paper_id for p in sourced])
        # the papers the answer shows are sources too, even when just outside the margin
        hits = list(sourced)
        for pick in ([lead_pick] if lead_pick else []) + quote_picks:
            hit = next((p.hit for p in found.papers if p.paper.paper_id == pick.paper_id), None)
            if hit is not None and all(h.paper_id != hit.paper_id for h in hits):
                hits.append(hit)
        counts = quote_counts(len(hits), q.several, settings.quote_sentences)
        sources = self.sources(q, vector, hits, counts, parts)
        number = {s.paper_id: s.n for s in sources}

        def quoted(pick: Pick) -> AnswerSentence:
            return AnswerSentence(pick.text, [number[pick.paper_id]], True, 1.0, kind="quote", check="quote")

        lead = titles_lead(sources) if q.several else (quoted(lead_pick) if lead_pick else None)
        quotes = [quoted(p) for p in quote_picks if p.paper_id in number]
        if mode == "generative" and lead is not None and lead_pick is not None and not q.several:
            extracted = lead
            written = self._model_lead(
                q,
                lead_pick,
                found,
                candidates,
                number[lead_pick.paper_id],
                template,
                lambda sentence: keeps_answer(sentence.text, extracted.text, q),
            )
            answer.model = written.model
            answer.notes += written.notes
            answer.timings["first_token_ms"] = written.first_token_ms
            answer.timings["generate_ms"] = written.generate_ms
            answer.dropped_markers = written.dropped_markers
            answer.unsupported_sentences = written.rejected
            answer.rejected = [s for s in written.written if not s.supported]
            model_lead = next((s for s in written.kept if keeps_answer(s.text, lead.text, q)), None)
            if written.kept and model_lead is None:
                answer.notes.append("the model's sentence left out the answer its source gives; the source's leads")
            if model_lead is None and settings.unsupported == "flag" and written.written:
                model_lead = written.written[0]
            if model_lead is not None:
                # the model's sentence leads; the source sentence it rests on becomes the first
                # quote, unless the two repeat each other (copy decoding cuts a span of it)
                if not restates(model_lead.text, lead.text):
                    quotes = [lead, *quotes][:QUOTES]
                lead = model_lead
        quotes = within(lead, quotes, sources, q.paper, settings.max_words)
        pieces = answer_text(lead, quotes, sources, q.paper)
        if on_text:
            for i, piece in enumerate(pieces):
                on_text(("" if i == 0 else "\n\n" if i == 1 else "\n") + piece)
        answer.sentences = ([lead] if lead else []) + quotes
        answer.answer = join(pieces)
        answer.citations = citations(answer.sentences, sources)
        answer.evidence = sources
        answer.timings["total_ms"] = (time.perf_counter() - started) * 1000
        return answer

    def _model_lead(
        self,
        question: Question,
        pick: Pick,
        found: Evidence,
        candidates: Sequence[tuple[float, int, int]],
        n: int,
        template: Template,
        accept: Callable[[AnswerSentence], bool],
    ) -> Lead:
        """The model's one-sentence lead from the lead's paper: the sentence most likely to hold
        the answer first, then that paper's next best ones."""
        paper = next(p for p in found.papers if p.paper.paper_id == pick.paper_id)
        rank = found.papers.index(paper)
        best = [paper.sentences[i] for _, r, i in candidates if r == rank]
        shown = [pick.sentence] + [s for s in best if s != pick.sentence]
        source = Source(
            n,
            paper.paper.paper_id,
            paper.paper.title,
            tuple(shown[: self.settings.answer.prompt_sentences]),
            tuple(paper.sentences),
        )
        return write_lead(
            self.generator(),
            template,
            question,
            [source],
            self.support,
            self.settings.generation.max_tokens,
            self.settings.answer.lead_decoding,
            accept,
        )
