"""End to end with the real bundled SmolLM2 model: ingest, retrieve, generate, check citations.

Marked `slow` (select with `-m slow`, skip with `-m "not slow"`); it runs by default. The model's
wording is never asserted, only what the loop guarantees whatever the model writes.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from rag.cli import cli
from rag.embedding import Embedder
from rag.service import RagService
from rag.settings import Settings, bundled_model_path

pytestmark = pytest.mark.slow

TVERSKY_QUESTION = "Which paper proposes a differentiable version of Tversky's similarity, and what does it replace?"
GROKKING_QUESTION = "What happens to generalization long after neural networks overfit small algorithmic datasets?"


def test_generative_answer_with_the_real_model(
    tmp_path: Path, fixture_corpus: Path, embedder: Embedder, fixture_titles: set[str]
) -> None:
    settings = Settings(store_path=tmp_path / "store", corpus_path=fixture_corpus, mode="generative")
    service = RagService(settings, embedder=embedder)  # the real model loads on the first question
    report = service.ensure_ingested()
    assert report is not None and report.papers == 6

    answer = service.ask(TVERSKY_QUESTION)
    assert answer.model == bundled_model_path().name  # the real GGUF answered
    assert not answer.refused
    assert answer.answer.strip()
    assert answer.citations
    assert {c.title for c in answer.citations} <= fixture_titles
    assert any(c.title.startswith("Tversky") for c in answer.citations)
    assert answer.timings["first_token_ms"] is not None
    assert answer.timings["generate_ms"] > 0
    for sentence in answer.sentences:  # what stands in the answer passed the support check
        assert sentence.supported and sentence.citations


def test_cli_ask_json_with_the_real_model(
    monkeypatch: pytest.MonkeyPatch,
    fixture_store: Path,
    embedder: Embedder,
    fixture_titles: set[str],
) -> None:
    monkeypatch.setattr("rag.service.Embedder", lambda *args, **kwargs: embedder)
    result = CliRunner().invoke(cli, ["--store", str(fixture_store), "ask", "--json", GROKKING_QUESTION])
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert answer["refused"] is False
    assert answer["answer"].strip()
    assert answer["model"].endswith(".gguf")
    assert answer["citations"]
    assert {c["title"] for c in answer["citations"]} <= fixture_titles
    assert any(c["title"].startswith("Grokking") for c in answer["citations"])
    assert answer["timings"]["first_token_ms"] is not None
