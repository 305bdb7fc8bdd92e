"""Citations you can check: `[n]` markers mapped to retrieved papers, and a support check.

The model cites numbers; this module maps them to the numbered sources of the prompt, drops
markers that map to no source, and checks each sentence against the sentences of the sources it
cites. A title can only reach an answer through a source that retrieval returned.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rag.chunking import split_sentences
from rag.embedding import Embedder

_MARKER = re.compile(r"\s*\[(\d{1,3}(?:\s*,\s*\d{1,3})*)\]")
_TRAILING_MARKER = re.compile(r"([.!?])((?:\s*\[\d{1,3}(?:\s*,\s*\d{1,3})*\])+)[.!?]?")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9-]+")
MIN_CLAIM_TERMS = 3
_STOP = frozenset(
    """
    the a an and or of in on for to with by from as at is are was were be been this that these those it
    its which what who whom whose how why when where than then also such can could may might will would
    should paper papers study work we our their they them into using used use uses based via new novel
    propose proposes proposed method methods approach approaches model models show shows shown results
    result
    """.split()  # noqa: SIM905
)


@dataclass(frozen=True)
class Source:
    """A numbered source as the prompt shows it."""

    n: int
    paper_id: str
    title: str
    sentences: tuple[str, ...]  # the passage sentences the reader (or the model) saw


@dataclass
class AnswerSentence:
    text: str  # without markers
    citations: list[int] = field(default_factory=list)
    supported: bool = False
    support: float = 0.0
    kind: str = "generated"  # "generated" by the model, or a "quote" from a source

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
        }


def parse_sentences(text: str) -> list[AnswerSentence]:
    """Split generated text into sentences, each with the marker numbers it carries."""
    out: list[AnswerSentence] = []
    # "... claim. [1] Next" cites the claim before the period: move such markers inside it
    text = _TRAILING_MARKER.sub(lambda m: f" {m.group(2).strip()}{m.group(1)}", text.replace("\n", " "))
    for sentence in split_sentences(text):
        numbers: list[int] = []
        for group in _MARKER.findall(sentence):
            for n in group.split(","):
                if int(n) not in numbers:
                    numbers.append(int(n))
        plain = _MARKER.sub("", sentence).strip()
        if plain:
            out.append(AnswerSentence(plain, numbers))
        elif out and numbers:  # a marker left alone after the period belongs to the sentence before
            out[-1].citations.extend(n for n in numbers if n not in out[-1].citations)
    return out


def map_citations(sentences: list[AnswerSentence], sources: Sequence[Source]) -> int:
    """Keep markers that name a source; return how many were dropped."""
    valid = {s.n for s in sources}
    dropped = 0
    for sentence in sentences:
        kept = [n for n in sentence.citations if n in valid]
        dropped += len(sentence.citations) - len(kept)
        sentence.citations = kept
    return dropped


def content_terms(text: str) -> set[str]:
    """Lower-cased content words, cut to a 6-letter stem so 'segmentation' meets 'segment'."""
    return {w.lower()[:6] for w in _WORD.findall(text) if w.lower() not in _STOP and len(w) > 2}


def numbers_in(text: str) -> set[str]:
    return {n.replace(",", "") for n in _NUMBER.findall(text)}


_CACHE_LIMIT = 100_000  # sentence vectors kept (1.5 KiB each)


class SupportChecker:
    """Decides whether a sentence is backed by the sources it cites.

    Score: the larger of (a) the best cosine similarity between the sentence and any one source
    sentence, and (b) the share of its content words found in the source. A number in the
    sentence that the source does not contain vetoes support: invented figures are the tiny
    model's most common error.
    """

    def __init__(self, embedder: Embedder, threshold: float) -> None:
        self.embedder = embedder
        self.threshold = threshold
        self._cache: dict[str, np.ndarray[Any, Any]] = {}

    def _make_room(self) -> None:
        if len(self._cache) > _CACHE_LIMIT:
            self._cache.clear()

    def remember(self, sentences: Sequence[str], vectors: np.ndarray[Any, Any]) -> None:
        """Vectors already made (ingest stores every abstract sentence's): no need to embed again."""
        self._make_room()
        self._cache.update(zip(sentences, vectors, strict=True))

    def _vectors(self, sentences: Sequence[str]) -> np.ndarray[Any, Any]:
        self._make_room()
        todo = [s for s in sentences if s not in self._cache]
        if todo:
            self._cache.update(zip(todo, self.embedder.embed(todo), strict=True))
        return np.stack([self._cache[s] for s in sentences])

    def score(self, sentence: str, source: Source) -> float:
        source_text = " ".join(source.sentences)
        if not numbers_in(sentence) <= numbers_in(source.title + " " + source_text):
            return 0.0
        terms = content_terms(sentence)
        # word overlap means something only for a sentence with a few content words: a one-word
        # "sentence" whose word the source happens to contain is not a supported claim
        shared = len(terms & content_terms(source.title + " " + source_text))
        lexical = shared / len(terms) if len(terms) >= MIN_CLAIM_TERMS else 0.0
        if not source.sentences:
            return lexical
        dense = float(np.max(self._vectors(source.sentences) @ self.embedder.embed_one(sentence)))
        return max(dense, lexical)

    def check(self, sentence: AnswerSentence, sources: Sequence[Source]) -> None:
        """Set `supported` and `support`. An uncited sentence is credited to the source that
        supports it best, if any does: the code, not the model, decides where a claim comes from."""
        by_n = {s.n: s for s in sources}
        if sentence.citations:
            scores = {n: self.score(sentence.text, by_n[n]) for n in sentence.citations}
            # keep only the cited sources that do support it; drop the ones that don't
            backing = [n for n, v in scores.items() if v >= self.threshold]
            sentence.support = max(scores.values())
            if backing:
                sentence.citations = backing
                sentence.supported = True
                return
        scores = {s.n: self.score(sentence.text, s) for s in sources}
        if scores:
            best = max(scores, key=lambda n: scores[n])
            if scores[best] >= self.threshold:
                sentence.citations, sentence.support, sentence.supported = [best], scores[best], True
                return
            sentence.support = max(sentence.support, scores[best])
        sentence.supported = False
