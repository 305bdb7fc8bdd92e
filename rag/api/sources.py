"""The "Sources" footer: the cited titles as plain text at the end of a chat answer's content.

Clients that keep only `content` (simonw's `llm`, LangChain) drop the `citations` field, so
their users would see `[1]` with nothing to look it up by. The footer names each cited paper:

    ... as the loss plateaus. [1]

    Sources:
    [1] Grokking: Generalization Beyond Overfitting on Small Algorithmic Datasets

Those clients send the content back on a follow-up, footer included, so `split_footer` reads
the titles out of it again: the follow-up is then condensed as if the client had sent
`citations` (docs/api.md, follow-up questions).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from rag.types import Answer, Citation

FOOTER_HEADING = "Sources:"
# The heading on a line of its own after a blank line, then one "[n] title" line per citation,
# up to the end of the text: nothing an answer sentence ends with.
_FOOTER = re.compile(r"\n\nSources:\n((?:\[\d+\] [^\n]+(?:\n|$))+)\s*\Z")
_LINE = re.compile(r"^\[(\d+)\] (.+)$", re.M)


def footer(citations: Sequence[Citation]) -> str:
    """The footer for these citations, starting with its blank line; empty when none."""
    if not citations:
        return ""
    lines = "\n".join(f"[{c.n}] {' '.join(c.title.split())}" for c in citations)
    return f"\n\n{FOOTER_HEADING}\n{lines}"


def answer_footer(answer: Answer) -> str:
    """The footer an answer gets: none for a refusal that cites nothing (its text names the
    nearest papers) or a summary (its Markdown ends with its own list of sources). A refusal that
    quotes the source contradicting the question's premise cites it, so it gets one."""
    if (answer.refused and not answer.citations) or answer.kind == "summary":
        return ""
    return footer(answer.citations)


def split_footer(text: str) -> tuple[str, tuple[str, ...]]:
    """The text without a trailing footer, and the titles the footer listed (in citation order)."""
    match = _FOOTER.search(text)
    if match is None:
        return text, ()
    titles = tuple(m.group(2).strip() for m in _LINE.finditer(match.group(1)))
    return text[: match.start()], titles
