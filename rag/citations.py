"""Citations you can check: the model's `[n]` markers, read and mapped to retrieved papers.

The model cites numbers; this module reads them off each sentence and drops markers that map to
no numbered source of the prompt. A title can only reach an answer through a source that
retrieval returned. Whether a sentence is backed by what it cites is the support check's job
(rag.support).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from rag.chunking import split_sentences
from rag.types import AnswerSentence, Source

_MARKER = re.compile(r"\s*\[(\d{1,3}(?:\s*,\s*\d{1,3})*)\]")
_TRAILING_MARKER = re.compile(r"([.!?])((?:\s*\[\d{1,3}(?:\s*,\s*\d{1,3})*\])+)[.!?]?")


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
