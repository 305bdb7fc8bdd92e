"""The model-written lead: one sentence from the best source, kept only if the support check
signs it.

The tiny default model can phrase an answer from one passage but cannot choose between sources,
cite or stop on its own, and a strict read found most of its sentences partly wrong
(docs/findings.md). So it is shown one source, with the sentence most likely to hold the answer
first; the repetition guard and a token budget stop loops; and each sentence it writes must pass
the strict support check (rag.support) before it may lead. When none passes, the answer leads
with the source's own sentence instead.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from rag.citations import map_citations, parse_sentences
from rag.constrain import Decoding, constraint_for
from rag.generation import Generator, guard_repetition
from rag.prompts import CANNOT_ANSWER, Template
from rag.question import Question
from rag.support import SupportChecker
from rag.types import AnswerSentence, Source

OnText = Callable[[str], None]

# tokens the chat template adds around each message, and a margin below the context window
# (llama.cpp's SmolLM2 template adds 5-7 per message; counted with Generator.count_tokens)
_MESSAGE_OVERHEAD = 8
_WINDOW_MARGIN = 16


@dataclass
class Lead:
    """What the model wrote, each sentence with the check's verdict, and what happened on the way."""

    written: list[AnswerSentence] = field(default_factory=list)
    model: str = "none"
    notes: list[str] = field(default_factory=list)
    first_token_ms: float | None = None
    generate_ms: float = 0.0
    dropped_markers: int = 0

    @property
    def kept(self) -> list[AnswerSentence]:
        return [s for s in self.written if s.supported]

    @property
    def rejected(self) -> int:
        return sum(not s.supported for s in self.written)


def format_sources(sources: Sequence[Source]) -> str:
    return "\n\n".join(f"[{s.n}] {s.title}\n" + " ".join(s.sentences) for s in sources)


def is_refusal(text: str) -> bool:
    return CANNOT_ANSWER.casefold().rstrip(".") in text.casefold()


def fit_sources(
    generator: Generator,
    template: Template,
    question: str,
    sources: Sequence[Source],
    max_tokens: int,
    notes: list[str],
) -> tuple[list[Source], list[dict[str, str]]]:
    """The sources shown to the model, trimmed to the context window: sentences first, then
    whole sources. What is left out is said in `notes`, never cut silently."""
    budget = generator.n_ctx - max_tokens - _WINDOW_MARGIN
    kept = list(sources)
    while True:
        messages = template.render(sources=format_sources(kept), question=question, cannot_answer=CANNOT_ANSWER)
        used = sum(generator.count_tokens(m["content"]) for m in messages) + _MESSAGE_OVERHEAD * len(messages)
        if used <= budget:
            return kept, messages
        longest = max(kept, key=lambda s: len(s.sentences))
        if len(longest.sentences) > 1:
            shorter = Source(longest.n, longest.paper_id, longest.title, longest.sentences[:-1], longest.context)
            kept[kept.index(longest)] = shorter
            notes.append(f"source [{longest.n}] was shortened to fit the context window")
        elif len(kept) > 1:
            dropped = kept.pop()
            notes.append(f'source [{dropped.n}] "{dropped.title}" was left out: it did not fit the context window')
        else:
            notes.append("the question and one sentence exceed the context window; answering by quotes only")
            return [], []


def write_lead(
    generator: Generator,
    template: Template,
    question: Question,
    sources: Sequence[Source],
    support: SupportChecker,
    max_tokens: int,
    decoding: Decoding = "free",
    accept: Callable[[AnswerSentence], bool] = lambda sentence: True,
) -> Lead:
    """The model's sentences for the lead, each checked against the sources as soon as it is
    finished. Generation stops at the first sentence that passes the check and `accept`: one
    lead is all the answer uses, and a reader waits for nothing more. With `decoding` "copy" the
    model may only copy a span of the first source."""
    lead = Lead(model=generator.name)
    shown, messages = fit_sources(generator, template, question.text, sources, max_tokens, lead.notes)
    if not messages:
        return lead
    first = shown[0]
    constraint = constraint_for(decoding, first.title, first.sentences, first.n)
    started = time.perf_counter()
    text, done = "", 0

    def judge(sentence: AnswerSentence) -> bool:
        """Check one finished sentence; True when it may lead."""
        if is_refusal(sentence.text):
            # answerability already judged the question answerable from evidence; the tiny
            # model's own refusal is less reliable than that, so it is noted and quotes lead
            lead.notes.append("the model said the sources do not answer the question")
            return False
        lead.dropped_markers += map_citations([sentence], shown)
        support.check(sentence, shown, question)
        lead.written.append(sentence)
        return sentence.supported and accept(sentence)

    stream = guard_repetition(generator.stream(messages, max_tokens, constraint))
    try:
        for piece in stream:
            if lead.first_token_ms is None:
                lead.first_token_ms = (time.perf_counter() - started) * 1000
            text += piece
            finished = parse_sentences(text)[:-1]  # the last sentence may still grow
            if any(judge(sentence) for sentence in finished[done:]):
                break
            done = max(done, len(finished))
        else:
            for sentence in parse_sentences(text)[done:]:
                if re.search(r"[.!?]$", sentence.text) and judge(sentence):  # an unfinished one is no claim
                    break
    finally:
        close = getattr(stream, "close", None)
        if close is not None:
            close()  # stops the model now, not when the generator is collected
    lead.generate_ms = (time.perf_counter() - started) * 1000
    if lead.written and not lead.kept:
        lead.notes.append("no sentence the model wrote passed the support check; the answer leads with the source's")
    return lead
