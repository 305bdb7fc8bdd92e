"""Decoding constraints for the model's lead: grammars (llama.cpp GBNF) that keep it to its source.

- `vocabulary`: any sentence, but every word from the source (title and sentences) or from a
  fixed list of function words. An invented name, acronym or number cannot be written.
- `copy`: one span of a source sentence, copied word for word from any start to any end: the
  model chooses and compresses, it cannot write. A cut can still drop a "not", which the support
  check looks for.

`free` is no grammar. A `Constraint` carries the grammar, which a llama.cpp server is sent, and,
for `copy`, the finite list of replies it allows: a local model is held to those by `ReplyMask`,
a token mask that gives the same greedy text as llama.cpp's grammar engine at a fraction of its
cost (the engine tests every token of the vocabulary against every open rule at every step).

The lead and summary key points use RAG_LEAD_DECODING (copy or free). The
audit of the three (benchmarks/audit_checker.py, docs/evaluation.md) chose copy: of the sentences
the support check accepted, a strict reader signed 0.98 with copy, 0.77 free, and 0.08 with the
vocabulary grammar, whose sentences are mostly word salad; it is kept for that measurement
(benchmarks/audit_collect.py), not offered as a setting.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

Decoding = Literal["free", "vocabulary", "copy"]

# words any answer may need that a source may not hold (the vocabulary grammar)
FUNCTION_WORDS = frozenset(
    """a an the of in on for to with by from as at into over per about between without within than
    is are was were be been being it its this that these those which who whose and or but not no nor
    more less most least can could may might will would also only such both each their they them
    when while then so because thus has have had uses use using used shows show shown by via up
    same other another all any some one two three first second new""".split()  # noqa: SIM905
)
_WORD = re.compile(r"[\w][\w.%^+/'-]*[\w%+]|[\w]")
_MAX_WORDS = 40  # the longest lead the vocabulary grammar allows


def _literal(text: str) -> str:
    """A GBNF string literal."""
    return json.dumps(text, ensure_ascii=False)


def vocabulary_grammar(title: str, sentences: Sequence[str], n: int) -> str:
    """One sentence of words from the source or FUNCTION_WORDS, ending with the marker [n]."""
    words = sorted({w for text in (title, *sentences) for w in _WORD.findall(text)} | FUNCTION_WORDS)
    alternatives = " | ".join(_literal(w) for w in words)
    return "\n".join(
        [
            f"root ::= word (sep word){{0,{_MAX_WORDS - 1}}} {_literal(f' [{n}].')}",
            'sep ::= " " | ", "',
            f"word ::= {alternatives}",
        ]
    )


def copy_grammar(sentences: Sequence[str], n: int) -> str:
    """One contiguous span of one of the sentences, from any word to any later word, then [n]."""
    rules: list[str] = []
    starts: list[str] = []
    for s, sentence in enumerate(sentences):
        words = sentence.rstrip(".").split()
        for k, word in enumerate(words):
            name = f"s{s}w{k}"
            follow = f' (" " s{s}w{k + 1})?' if k + 1 < len(words) else ""
            rules.append(f"{name} ::= {_literal(word)}{follow}")
            starts.append(name)
    if not starts:
        return ""
    return "\n".join([f"root ::= span {_literal(f' [{n}].')}", f"span ::= {' | '.join(starts)}", *rules])


def copy_replies(sentences: Sequence[str], n: int) -> tuple[str, ...]:
    """Every reply `copy_grammar` allows, in full: each span of each sentence, then the marker."""
    replies: dict[str, None] = {}  # ordered, without repeats (two sentences may share a span)
    for sentence in sentences:
        words = sentence.rstrip(".").split()
        for start in range(len(words)):
            for end in range(start + 1, len(words) + 1):
                replies[" ".join(words[start:end]) + f" [{n}]."] = None
    return tuple(replies)


@dataclass(frozen=True)
class Constraint:
    """What the model may write. `gbnf` is llama.cpp's grammar for it; `replies`, when not
    empty, is the whole finite list of what the grammar allows, for `ReplyMask`."""

    gbnf: str
    replies: tuple[str, ...] = ()


def constraint_for(decoding: Decoding, title: str, sentences: Sequence[str], n: int) -> Constraint | None:
    if decoding == "vocabulary":
        return Constraint(vocabulary_grammar(title, sentences, n))
    if decoding == "copy":
        grammar = copy_grammar(sentences, n)
        return Constraint(grammar, copy_replies(sentences, n)) if grammar else None
    return None


class PieceIndex:
    """A model's vocabulary by the bytes each token writes: what `ReplyMask` looks tokens up in.
    Built once per model (49,152 tokens for SmolLM2: about 0.1 s)."""

    def __init__(self, pieces: Sequence[bytes], ends: Sequence[int]) -> None:
        self.ids: dict[bytes, list[int]] = {}
        for token, piece in enumerate(pieces):
            if piece:  # llama.cpp's grammar never allows a token that writes nothing
                self.ids.setdefault(piece, []).append(token)
        self.longest = max((len(p) for p in self.ids), default=1)
        self.ends = list(ends)  # the end-of-generation tokens
        self.pieces = pieces


class ReplyMask:
    """Holds a model to `replies`: it may write only a prefix of one of them, and end only when it
    has written one whole. This is the language of the copy grammar, tested on bytes as llama.cpp
    tests token pieces, so greedy decoding picks the same tokens; only the cost differs
    (docs/performance.md). One mask serves one generation.

    Called as a llama-cpp-python logits processor it reads what was written from `input_ids`;
    `rag.generation`'s draft decoding drives it itself with `advance`, `allowed` and `rest`."""

    def __init__(self, replies: Sequence[str], index: PieceIndex) -> None:
        self._index = index
        self._live = [r.encode() for r in replies]
        self._written = b""
        self._prompt: int | None = None  # tokens before the first one written
        self._seen = 0

    def __call__(self, input_ids: np.ndarray[Any, Any], scores: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        if self._prompt is None:
            self._prompt = len(input_ids)
        for token in input_ids[self._prompt + self._seen :]:
            self.advance(int(token))
        allowed = self.allowed()
        masked = np.full_like(scores, -np.inf)
        masked[allowed] = scores[allowed]
        return masked

    def advance(self, token: int) -> None:
        """The model wrote `token`."""
        self._written += self._index.pieces[token]
        self._seen += 1
        self._live = [r for r in self._live if r.startswith(self._written)]

    def allowed(self) -> list[int]:
        """The tokens the model may write next, in id order."""
        at, longest, ids = len(self._written), self._index.longest, self._index.ids
        allowed: set[int] = set()
        finished = False
        for window in {r[at : at + longest] for r in self._live}:
            finished = finished or not window
            for size in range(1, len(window) + 1):
                allowed.update(ids.get(window[:size], ()))
        if finished or not allowed:  # a whole reply is written (or, never seen, nothing fits): end
            allowed.update(self._index.ends)
        return sorted(allowed)

    def rest(self) -> bytes:
        """What the longest reply still open has left to write: a guess at what comes next."""
        return max(self._live, key=len, default=self._written)[len(self._written) :]
