"""The question read beside its best paper, in one pass of the embedder (BERT's two segments).

Sentence vectors and word matching (rag.alignment) read the question and the paper apart. Read
together, the question's pieces attend to the paper's: how far that moves the question, and
towards the paper, says something separate vectors do not about whether the paper answers it.
Two figures, both cosines, so nothing in them grows with the collection or names a topic:

- `joint_shift`: the question's mean piece vector read beside the paper, against read alone;
- `joint_to_paper`: the question read beside the paper, against the paper read alone.

Features of the answerability decision (rag.answerability). Measured on the pool's 1,197
questions, leave one set out (docs/decisions.md, session 15): refusal 0.515 -> 0.543 at false
refusal 0.041 -> 0.043. Before the pool held short questions the gain looked three times as
large: read beside a paper, a short question moves less, and the first fit refused "What is
grokking?". Cost: two passes of 256 pieces, about 250 ms on two cores (docs/performance.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

JOINT_FEATURES = ("joint_shift", "joint_to_paper")

Vector = np.ndarray[Any, Any]


def passage(title: str, sentences: Sequence[str]) -> str:
    """A paper as the joint read sees it: its title, then its sentences (cut to the embedder's
    length by the pair tokenizer, from the end)."""
    return f"{title}. {' '.join(sentences)}"


@dataclass(frozen=True)
class JointRead:
    """Mean piece vectors: the question alone, the question beside the paper, the paper alone."""

    question: Vector
    question_in_pair: Vector
    paper: Vector

    def features(self) -> dict[str, float]:
        return {
            "joint_shift": _cosine(self.question_in_pair, self.question),
            "joint_to_paper": _cosine(self.question_in_pair, self.paper),
        }


def _cosine(a: Vector, b: Vector) -> float:
    norm = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(a @ b) / norm if norm > 0 else 0.0
