"""Summary requests at the command line: `rag summarize` and `rag ask` take the topic from every
phrasing in tests/summary_phrasings.py the same way (issue 16's table)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result
from summary_phrasings import PHRASINGS, opening_names


@pytest.mark.parametrize(("request_text", "topic"), PHRASINGS)
def test_summarize_and_ask_read_the_same_topic(
    run: Callable[..., Result], fixture_store: Path, request_text: str, topic: str
) -> None:
    summarized = run("--store", fixture_store, "summarize", "--mode", "extractive", "--json", request_text)
    assert summarized.exit_code == 0, summarized.output
    summary = json.loads(summarized.stdout)
    assert summary["topic"] == topic and not summary["refused"], summary["markdown"]
    assert opening_names(summary["markdown"], topic)

    asked = run("--store", fixture_store, "ask", "--mode", "extractive", request_text)
    assert asked.exit_code == 0, asked.output
    assert opening_names(asked.stdout, topic), asked.stdout
