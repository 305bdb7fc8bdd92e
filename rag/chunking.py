"""Cutting abstracts into chunks that fit the embedder: sentence-aware, overlapping, titled.

The embedder reads at most 256 word pieces, and many abstracts are longer; a chunk is the title
plus as many whole sentences as fit `max_tokens`, and neighbouring chunks share
`overlap_sentences` sentences so that a fact spanning a boundary is still found whole.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from rag.corpus import Paper

CHUNKER_VERSION = "sentences-v2"

# Split after . ! ? when the next sentence starts with a capital, digit or bracket, except after
# common abbreviations ("e.g.", "et al.", "Fig.") that end with a period mid-sentence.
_BOUNDARY = re.compile(r"(?:(?<=[.!?])|(?<=[.!?][\"')\]]))\s+(?=[A-Z0-9(\[\"'])")
_ABBREVIATIONS = ("e.g.", "i.e.", "et al.", "etc.", "vs.", "Fig.", "Eq.", "cf.", "approx.", "resp.", "No.")


def split_sentences(text: str) -> list[str]:
    """Split text into sentences, keeping abbreviations inside their sentence."""
    pieces = _BOUNDARY.split(text.strip())
    sentences: list[str] = []
    for piece in pieces:
        piece = piece.strip()
        if not piece:
            continue
        if sentences and sentences[-1].endswith(_ABBREVIATIONS):
            sentences[-1] = f"{sentences[-1]} {piece}"
        else:
            sentences.append(piece)
    return sentences


def paper_sentences(abstract: str) -> list[str]:
    """The sentences an abstract is scored and quoted by (one, if it has no sentence break)."""
    return split_sentences(abstract) or [abstract]


@dataclass(frozen=True)
class Chunk:
    chunk_id: str  # "{paper_id}:{n}"
    paper_id: str
    title: str
    index: int
    text: str  # the abstract sentences of this chunk
    n_tokens: int

    @property
    def embed_text(self) -> str:
        """What is embedded and indexed: the title gives every chunk its paper's topic."""
        return f"{self.title}\n{self.text}"


def chunking_signature(max_tokens: int, overlap_sentences: int) -> str:
    return f"{CHUNKER_VERSION}:max{max_tokens}:overlap{overlap_sentences}"


def _split_long_sentence(sentence: str, budget: int, count_tokens: Callable[[str], int]) -> list[str]:
    """A sentence longer than the budget is cut between words (rare: URLs, tables, lists)."""
    words, parts, current = sentence.split(), [], []  # type: ignore[var-annotated]
    for word in words:
        if current and count_tokens(" ".join([*current, word])) > budget:
            parts.append(" ".join(current))
            current = []
        current.append(word)
    if current:
        parts.append(" ".join(current))
    return parts


def chunk_paper(
    paper: Paper,
    count_tokens: Callable[[str], int],
    max_tokens: int = 200,
    overlap_sentences: int = 1,
) -> list[Chunk]:
    """Chunks of one paper; `count_tokens` is the embedder's own word-piece count."""
    count_tokens = functools.cache(count_tokens)  # each sentence is measured twice below
    title_tokens = count_tokens(paper.title) + 1
    budget = max(16, max_tokens - title_tokens)
    sentences: list[str] = []
    for sentence in split_sentences(paper.abstract):
        if count_tokens(sentence) > budget:
            sentences.extend(_split_long_sentence(sentence, budget, count_tokens))
        else:
            sentences.append(sentence)
    lengths = [count_tokens(s) for s in sentences]

    groups: list[list[int]] = []
    start = 0
    while start < len(sentences):
        end, used = start, 0
        while end < len(sentences) and (end == start or used + lengths[end] <= budget):
            used += lengths[end]
            end += 1
        groups.append(list(range(start, end)))
        if end >= len(sentences):
            break
        overlap_start = max(start + 1, end - overlap_sentences)
        # the overlap must leave room for a new sentence, or the chunk would only repeat the last one
        fits = sum(lengths[overlap_start:end]) + lengths[end] <= budget
        start = overlap_start if fits else end

    chunks = []
    for n, group in enumerate(groups):
        text = " ".join(sentences[i] for i in group)
        chunks.append(
            Chunk(
                chunk_id=f"{paper.paper_id}:{n}",
                paper_id=paper.paper_id,
                title=paper.title,
                index=n,
                text=text,
                n_tokens=title_tokens + sum(lengths[i] for i in group),
            )
        )
    return chunks


def chunk_papers(
    papers: Iterable[Paper],
    count_tokens: Callable[[str], int],
    max_tokens: int = 200,
    overlap_sentences: int = 1,
) -> list[Chunk]:
    return [c for p in papers for c in chunk_paper(p, count_tokens, max_tokens, overlap_sentences)]
