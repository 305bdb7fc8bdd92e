"""How well the best paper's own words match each word of the question, read in context (for a
question about several papers, the top papers' words together: rag.answer.Answerer.evidence).

A sentence vector says a question and a sentence are about the same thing; it does not say
whether the one thing the question asks ("how many GPUs", "which optimizer") is in the paper.
Here each content word of the question is matched to its closest word of the paper: the words
are the embedder's last-layer vectors, each read in its sentence (`Embedder.word_vectors`), so
"straight" can meet "directly" and "GPUs" can find no partner in a paper that never mentions
hardware. Rare words count more (inverse document frequency over the collection).

The three figures are features of the answerability decision (rag.answerability). Measured on
the pool, leave one set out (docs/decisions.md): ROC area 0.859 -> 0.882, refusal 0.432 ->
0.524 at a false refusal rate of 0.038 -> 0.041.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rag.bert import WordVectors
from rag.text import STOP, TermStatistics

ALIGNMENT_FEATURES = ("word_recall", "word_min", "word_recall_sentence")

# words of a question that ask rather than name: on top of rag.text.STOP, which is written for
# papers' text ("does", "many" and "tell" carry no topic in "how many ... does it tell")
_ASKING = frozenset(
    "does did do has have had there any paper's collection about give tell much many".split()  # noqa: SIM905
)
_ALPHANUMERIC = re.compile(r"[A-Za-z0-9]")


def _content(word: str) -> bool:
    lower = word.lower()
    if lower in STOP or lower in _ASKING or not _ALPHANUMERIC.match(word):
        return False
    return len(word) >= 3 or word.isdigit()


@dataclass(frozen=True)
class Alignment:
    """Per content word of the question: its weight (idf, summing to 1) and its best cosine in
    each sentence of the paper (rows: words, columns: sentences)."""

    words: tuple[str, ...]
    weights: np.ndarray[Any, Any]
    matches: np.ndarray[Any, Any]

    def features(self) -> dict[str, float]:
        best = self.matches.max(axis=1)  # each word's best match anywhere in the paper
        return {
            # how much of the question, by weight, the paper's words cover
            "word_recall": float(self.weights @ best),
            # the question word the paper covers worst: a missing detail is often one word
            "word_min": float(best.min()),
            # the same cover, within the one sentence that covers most
            "word_recall_sentence": float((self.weights @ self.matches).max()),
        }


def align(question: WordVectors, sentences: Sequence[WordVectors], stats: TermStatistics) -> Alignment | None:
    """None when the question has no content word or the paper no word at all."""
    words, vectors = question
    keep = [k for k, w in enumerate(words) if _content(w)]
    columns = [v for _, v in sentences if len(v)]
    if not keep or not columns:
        return None
    # idf of the same 6-letter stems the term statistics count (rag.text.content_terms)
    idf = np.array([stats.idf(words[k].lower()[:6]) for k in keep], dtype=np.float64)
    weights = idf / idf.sum() if idf.sum() > 0 else np.full(len(keep), 1.0 / len(keep))
    asked = vectors[keep]
    matches = np.stack([(asked @ v.T).max(axis=1) for v in columns], axis=1).astype(np.float64)
    return Alignment(tuple(words[k] for k in keep), weights, matches)
