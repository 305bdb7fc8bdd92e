"""End to end with the real bundled SmolLM2 model: ingest, retrieve, generate, check citations.

Marked `slow` (select with `-m slow`, skip with `-m "not slow"`); it runs by default. The model's
wording is never asserted, only what the loop guarantees whatever the model writes.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from rag.chunking import paper_sentences
from rag.cli import cli
from rag.constrain import Constraint, copy_grammar, copy_replies
from rag.corpus import Paper
from rag.embedding import Embedder
from rag.generation import LlamaCppGenerator, load_generator, metered
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


def test_the_copy_mask_writes_what_llama_cpps_grammar_writes(fixture_papers: list[Paper]) -> None:
    """Copy decoding holds the local model to its replies with a token mask instead of the GBNF
    grammar (faster): greedy decoding picks the same tokens either way. It also checks a guess
    of the rest of the reply in one batch (faster again). llama.cpp scores a token evaluated in
    a batch a little differently from one evaluated alone (by up to 0.6 here), so at a near tie
    the drafted text may take the other branch: it must agree almost always, and always be a
    whole reply. Three sentences of each fixture paper, two questions each, the real model."""
    generator = load_generator(Settings())
    assert isinstance(generator, LlamaCppGenerator)
    questions = ["What does this paper propose?", "What result does it report, and on which data?"]
    compared = agreed = 0
    for paper in fixture_papers:
        sentences = paper_sentences(paper.abstract)[:3]
        grammar = copy_grammar(sentences, 1)
        for question in questions:
            messages = [
                {"role": "system", "content": "Copy the part of the source that answers, then [1]."},
                {"role": "user", "content": f"[1] {paper.title}\n{' '.join(sentences)}\n\nQuestion: {question}"},
            ]
            by_grammar = "".join(generator.stream(messages, 60, Constraint(grammar)))
            generator.draft_copies = False
            with metered() as one_by_one:
                by_mask = "".join(generator.stream(messages, 60, Constraint(grammar, copy_replies(sentences, 1))))
            generator.draft_copies = True
            with metered() as drafted:
                by_draft = "".join(generator.stream(messages, 60, Constraint(grammar, copy_replies(sentences, 1))))
            assert by_mask == by_grammar
            assert by_draft in copy_replies(sentences, 1)  # a whole reply: the model ended where allowed
            if by_draft == by_mask:
                agreed += 1
                # the tokens written are counted, not the guesses evaluated (the same text may be
                # split into tokens a little differently, at a near tie too)
                assert abs(drafted.completion_tokens - one_by_one.completion_tokens) <= 2
            assert drafted.prompt_tokens == one_by_one.prompt_tokens
            compared += 1
    assert compared == 2 * len(fixture_papers)
    assert agreed >= compared - 2
