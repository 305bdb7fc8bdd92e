"""A question built on a false premise, asked of the real bundled model: the answer may refuse or
correct it, but never repeat the premise as the collection's finding (issue 14's GELU example).

The grokking abstract says *smaller* datasets need more optimization to generalize; the question
says larger ones do. Marked `slow`; the model's wording is never asserted, only what the loop
guarantees whatever the model writes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rag.embedding import Embedder
from rag.service import RagService
from rag.settings import Settings

pytestmark = pytest.mark.slow

FALSE_PREMISE = "Why do larger datasets need more optimization before the grokking networks generalize?"
PREMISE = re.compile(r"\blarger datasets? (?:need|require)", re.IGNORECASE)


def test_a_false_premise_is_not_repeated_as_fact(tmp_path: Path, fixture_corpus: Path, embedder: Embedder) -> None:
    settings = Settings(store_path=tmp_path / "store", corpus_path=fixture_corpus, mode="generative")
    service = RagService(settings, embedder=embedder)
    service.ensure_ingested()

    answer = service.ask(FALSE_PREMISE)
    assert not PREMISE.search(answer.answer), answer.answer
    if not answer.refused:
        for sentence in answer.sentences:  # each sentence kept passed the strict check
            assert sentence.supported and sentence.citations, sentence.check
        assert any(c.title.startswith("Grokking") for c in answer.citations)
