"""The ways people ask for a summary, each with the topic it must be read as (issue 16's table).
The topics are ones the fixture corpus has, so every entry point must answer with a summary that
names the topic in its opening line. Imported by name, as tests/ is on sys.path."""

from __future__ import annotations

import re

PHRASINGS: list[tuple[str, str]] = [
    ("Summarize the work on grokking", "grokking"),
    ("Summarise what the collection says about grokking.", "grokking"),
    ("Give me an overview of grokking", "grokking"),
    ("What does the collection cover on grokking?", "grokking"),
    ("What do these papers say about grokking?", "grokking"),
    ("the work on grokking", "grokking"),
    ("grokking", "grokking"),  # a bare topic
    ("overview of the grokking research in here?", "grokking"),
    ("Can you sum up the research on medical image segmentation?", "medical image segmentation"),
    ("what's in here on physics-informed neural networks", "physics-informed neural networks"),
    ("give me a quick summary of the papers about time series forecasting please", "time series forecasting"),
    # from the phrasings of blind-written topic sets (topics-te, topics-tf; session 16)
    ("tell me abt the work on grokking", "grokking"),
    ("sum up what's in here on grokking", "grokking"),
]


def opening_names(markdown: str, topic: str) -> bool:
    """Whether a summary's opening line counts the papers matching exactly `topic`."""
    first = markdown.strip().splitlines()[0]
    return re.match(rf'\d+ papers? in the collection match(?:es)? "{re.escape(topic)}"', first) is not None
