"""Decoding constraints for the model's lead: grammars (llama.cpp GBNF) that keep it to its source.

- `vocabulary`: any sentence, but every word from the source (title and sentences) or from a
  fixed list of function words. An invented name, acronym or number cannot be written.
- `copy`: one span of a source sentence, copied word for word from any start to any end: the
  model chooses and compresses, it cannot write. A cut can still drop a "not", which the support
  check looks for.

`free` is no grammar. The lead and summary key points use RAG_LEAD_DECODING (copy or free). The
audit of the three (benchmarks/audit_checker.py, docs/evaluation.md) chose copy: of the sentences
the support check accepted, a strict reader signed 0.98 with copy, 0.77 free, and 0.08 with the
vocabulary grammar, whose sentences are mostly word salad; it is kept for that measurement
(benchmarks/audit_collect.py), not offered as a setting.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Literal

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


def grammar_for(decoding: Decoding, title: str, sentences: Sequence[str], n: int) -> str | None:
    if decoding == "vocabulary":
        return vocabulary_grammar(title, sentences, n)
    if decoding == "copy":
        return copy_grammar(sentences, n) or None
    return None
