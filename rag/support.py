"""The support check: would a careful reader sign this model-written sentence against its source?

"Supported" means every claim of the sentence is in the cited abstract, about the same entity,
with the same number and direction. Cosine similarity cannot see that ("plain CNNs" for
"ResNets" scores as high as the truth), so the check is a series of exact tests first, then
tests of meaning against the one place in the abstract the sentence draws on:

1. filler: talk about "the source", "this paper" or "the answer" that claims nothing, or a
   sentence that only restates the question;
2. numbers: every number must be in the abstract, next to what it measures;
3. names: every acronym, CamelCase, hyphenated or capitalised name and every quoted title must
   be in the abstract, spelled as the abstract spells it ("Switch-NeRF+" is not "Switch-NeRF++");
4. the slot: the sentence is aligned to the abstract sentence it draws on (with its
   neighbours); its names and numbers must stand there, not elsewhere in the abstract, and most
   of its words too: an entity and its claim come from the same place;
5. negation and the direction of a comparison must match that place;
6. the sentence must be close to that place in meaning (cosine), the old check, now last.

Each rejection says which test failed (`AnswerSentence.check`). The thresholds were set on the
audit set's development half (eval/audit/); `benchmarks/audit_checker.py` reports precision and
recall against the strict reader's labels.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rag.chunking import split_sentences
from rag.embedding import Embedder
from rag.question import Question
from rag.text import NEGATION, NUMBER, content_terms, direction, fold, mentions, named_terms, spelled_out
from rag.types import AnswerSentence, Source

_CACHE_LIMIT = 100_000  # sentence vectors kept (1.5 KiB each)
# talk about the text instead of its content
_META = re.compile(
    r"\b(?:the|this|that|these)\s+(?:source|sources|passage|text|answer|question|abstract|article|excerpt|document|"
    r"paragraph|context|information)\b|\b(?:this|the)\s+(?:paper|study|work|research)\s+(?:is|was|provides|"
    r"describes|discusses|explains|presents|talks|focuses|gives)\b",
    re.IGNORECASE,
)
# a token with symbols a name may carry: "Switch-NeRF++", "U^2-Net", "C++"
_SYMBOL_NAME = re.compile(r"(?<!\S)[\w^-]*\w[+^][\w+^-]*")
_QUOTED = re.compile(r"[\"“]([^\"”]{3,200})[\"”]")


@dataclass(frozen=True)
class Thresholds:
    """Where the tests of meaning draw their lines (set on the audit set's development half)."""

    words_in_place: float = 0.6  # share of the sentence's content words found where it draws on
    cosine: float = 0.6  # its cosine to that place
    claim_words: int = 3  # content words beyond the question's that make a claim


def numbers_in(text: str) -> list[str]:
    """The numbers of a text by the one rule (rag.text.NUMBER), without thousands separators."""
    return [n.replace(",", "") for n in NUMBER.findall(text)]


def names_in(text: str) -> list[str]:
    """What the sentence names: named terms, symbol-bearing tokens, quoted titles."""
    found = list(named_terms(text))
    found += [m.group(0).rstrip(".,;:") for m in _SYMBOL_NAME.finditer(text)]
    found += [m.group(1) for m in _QUOTED.finditer(text)]
    return list(dict.fromkeys(n for n in found if n))


def _names_present(name: str, text: str) -> bool:
    if _SYMBOL_NAME.fullmatch(name) or not re.fullmatch(r"[\w-]+", name):
        # exact, with symbols: "Switch-NeRF+" must not pass for "Switch-NeRF++"
        return re.search(rf"(?<![\w+^-]){re.escape(name)}(?![\w+^])", text) is not None
    return mentions(fold(text), fold(name))


class SupportChecker:
    """Decides whether a sentence is backed by the sources it cites."""

    def __init__(
        self,
        embedder: Embedder,
        threshold: float,
        thresholds: Thresholds | None = None,
        common: frozenset[str] = frozenset(),
    ) -> None:
        """`common`: the collection's most common content terms ("neural", "network"), which add no
        claim to a sentence that otherwise repeats the question."""
        self.embedder = embedder
        self.thresholds = thresholds or Thresholds(cosine=threshold)
        self.common = common
        self._cache: dict[str, np.ndarray[Any, Any]] = {}

    def remember(self, sentences: Sequence[str], vectors: np.ndarray[Any, Any]) -> None:
        """Vectors already made (ingest stores every abstract sentence's): no need to embed again."""
        if len(self._cache) > _CACHE_LIMIT:
            self._cache.clear()
        self._cache.update(zip(sentences, vectors, strict=True))

    def _vectors(self, sentences: Sequence[str]) -> np.ndarray[Any, Any]:
        todo = [s for s in sentences if s not in self._cache]
        if todo:
            self._cache.update(zip(todo, self.embedder.embed(todo), strict=True))
        return np.stack([self._cache[s] for s in sentences])

    def verdict(self, sentence: str, source: Source, question: Question | None = None) -> tuple[str, float]:
        """("ok", cosine) when a reader would sign `sentence` against `source`, else (why not, cosine)."""
        context = list(source.context or source.sentences)
        whole = f"{source.title} {' '.join(context)}"
        terms = content_terms(sentence)
        asked = set(question.terms) if question else set()
        if question is not None:  # a name the question spells out is the question's own: "UDC"
            asked |= {n.lower()[:6] for n in names_in(sentence) if spelled_out(question.text, n)}
        # 1. filler and restatement
        new = terms - asked
        if _META.search(sentence) and len(new & content_terms(whole)) < self.thresholds.claim_words:
            return "filler: talks about the text, claims nothing", 0.0
        if question is not None and terms and (len(new) <= 1 or not new - self.common):
            return "restates the question", 0.0
        # 2-3. every number and name in the abstract
        for number in numbers_in(sentence):
            if number not in numbers_in(whole):
                return f"number {number} is not in the source", 0.0
        for name in names_in(sentence):
            if not _names_present(name, whole):
                return f"name {name!r} is not in the source", 0.0
        if not context:
            return "no source text to check against", 0.0
        # 4. the place it draws on: the best-aligned sentence and its neighbours
        vectors = self._vectors(context)
        cosines = vectors @ self.embedder.embed_one(sentence)
        overlap = np.array([len(terms & content_terms(c)) / max(1, len(terms)) for c in context])
        at = int(np.argmax(cosines + overlap))
        place = " ".join(context[max(0, at - 1) : at + 2])
        place_with_title = f"{source.title} {place}"
        for number in numbers_in(sentence):
            if number not in numbers_in(place):
                return f"number {number} stands elsewhere in the source", float(cosines[at])
        for name in names_in(sentence):
            if not _names_present(name, place_with_title):
                return f"{name!r} is not where the claim is made", float(cosines[at])
        covered = len(terms & content_terms(place_with_title)) / max(1, len(terms))
        if covered < self.thresholds.words_in_place:
            return f"only {covered:.0%} of its words are where the claim is made", float(cosines[at])
        # 5. negation and direction
        aligned = context[at]
        if bool(NEGATION.search(sentence)) != bool(NEGATION.search(aligned)):
            return "negation differs from the source", float(cosines[at])
        said, stated = direction(sentence), direction(place)
        if said and stated == -said:
            return "the comparison runs the other way in the source", float(cosines[at])
        # 6. meaning
        if float(cosines[at]) < self.thresholds.cosine:
            return "not close enough in meaning to the source", float(cosines[at])
        return "ok", float(cosines[at])

    def check(self, sentence: AnswerSentence, sources: Sequence[Source], question: Question | None = None) -> None:
        """Set `supported`, `support`, `check` and `citations`. A sentence is credited to the
        cited source that passes it; if none does, to any source that does: the code, not the
        model, decides where a claim comes from."""
        by_n = {s.n: s for s in sources}
        order = [n for n in sentence.citations if n in by_n] + [s.n for s in sources if s.n not in sentence.citations]
        first_reason, best = "", 0.0
        for n in order:
            reason, cosine = self.verdict(sentence.text, by_n[n], question)
            best = max(best, cosine)
            if reason == "ok":
                sentence.citations, sentence.supported, sentence.support, sentence.check = [n], True, cosine, "ok"
                return
            first_reason = first_reason or reason
        sentence.supported, sentence.support, sentence.check = False, best, first_reason or "no source"


def context_of(abstract: str) -> tuple[str, ...]:
    """An abstract's sentences, as the check reads them."""
    return tuple(split_sentences(abstract))
