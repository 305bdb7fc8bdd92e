"""The domain types an answer is made of, shared by every stage and entry point.

    Answer        what `rag ask` returns: text, refusal, citations, sentences, timings, notes
    ├── Coverage      the answerability decision and the evidence behind it
    ├── AnswerSentence one sentence of the answer: its text, citations and support check
    └── Citation      a cited paper: the `[n]` it is shown as, its title and best snippet
    Source        a numbered paper as the model and the reader see it

The HTTP API has its own request and response schemas (rag.api.schemas) built from these.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rag.generation import TokenUsage
from rag.retrieval import PaperHit


@dataclass(frozen=True)
class Source:
    """A numbered source as the prompt shows it."""

    n: int
    paper_id: str
    title: str
    sentences: tuple[str, ...]  # the passage sentences the reader (or the model) saw
    context: tuple[str, ...] = ()  # every sentence of the abstract: what a claim is checked against


@dataclass
class AnswerSentence:
    text: str  # without markers
    citations: list[int] = field(default_factory=list)
    supported: bool = False
    support: float = 0.0
    kind: str = "generated"  # "generated" by the model, a "quote" from a source, or an "overview"
    check: str = ""  # the support check's verdict: "ok", or which test failed

    def rendered(self) -> str:
        marks = "".join(f"[{n}]" for n in self.citations if f"[{n}]" not in self.text)  # some carry them inline
        return f"{self.text} {marks}".strip() if marks else self.text

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "citations": self.citations,
            "supported": self.supported,
            "support": round(self.support, 3),
            "kind": self.kind,
            "check": self.check,
        }


@dataclass(frozen=True)
class Coverage:
    """Whether the collection answers the question, and the evidence that decided it."""

    covered: bool
    score: float
    signals: dict[str, float]
    missing_terms: tuple[str, ...] = field(default=())
    # (paper id, sentence): the source sentence that says the opposite of the question's premise
    contradiction: tuple[str, str] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "covered": self.covered,
            "score": round(self.score, 3),
            "signals": {k: round(v, 3) for k, v in self.signals.items()},
            "missing_terms": list(self.missing_terms),
            "contradiction": (
                {"paper_id": self.contradiction[0], "sentence": self.contradiction[1]} if self.contradiction else None
            ),
        }


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
    unsupported_sentences: int = 0  # generated sentences the support check rejected
    notes: list[str] = field(default_factory=list)
    kind: str = "answer"  # or "summary", for a request routed to the summarizer
    evidence: list[Source] = field(default_factory=list)  # every source with the sentences chosen from it
    rejected: list[AnswerSentence] = field(default_factory=list)  # model sentences the support check rejected
    usage: TokenUsage = field(default_factory=TokenUsage)  # the model's tokens; zero when it was not asked

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
            "kind": self.kind,
            "rejected_sentences": [s.to_dict() for s in self.rejected],
            "usage": {
                "prompt_tokens": self.usage.prompt_tokens,
                "completion_tokens": self.usage.completion_tokens,
                "total_tokens": self.usage.total_tokens,
            },
            "evidence": [
                {"n": s.n, "title": s.title, "paper_id": s.paper_id, "sentences": list(s.sentences)}
                for s in self.evidence
            ],
        }
