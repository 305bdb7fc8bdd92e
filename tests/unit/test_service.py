"""The service the CLI and the API share (rag.service): components handed in through the
constructor, a request routed to a summary or an answer, and the collection's read-outs."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from rag.embedding import Embedder
from rag.errors import NotFoundError, QuestionError
from rag.generation import FakeGenerator
from rag.question import analyse
from rag.service import RagService
from rag.settings import Settings

MakeService = Callable[..., tuple[RagService, FakeGenerator]]
SUMMARY_REQUEST = "Summarize what the collection says about grokking"
QUESTION = "Which paper models similarity as a function of common and distinctive features?"


def test_the_given_model_and_embedder_are_used(fixture_store: Path, embedder: Embedder) -> None:
    fake = FakeGenerator("unused", name="scripted")
    service = RagService(Settings(store_path=fixture_store), generator=fake, embedder=embedder)
    assert service.embedder is embedder
    assert service.generator() is fake and service.model_name == "scripted"
    assert service.support.embedder is embedder
    assert service.support.thresholds.cosine == service.settings.answer.support_threshold
    assert service.stats.n == 6  # term statistics over the six papers


def test_a_summary_request_gets_a_summary_and_a_question_an_answer(make_service: MakeService) -> None:
    """`respond` is what `rag ask`, /v1/ask and the chat route call."""
    service, fake = make_service("must not be used")
    shown: list[str] = []

    summary = service.respond(SUMMARY_REQUEST, mode="extractive", on_text=shown.append)

    assert summary.kind == "summary" and not summary.refused
    assert re.match(r'\d+ papers? in the collection match(?:es)? "grokking"', summary.answer)
    assert summary.answer == "".join(shown) and "**Sources**" in summary.answer
    assert summary.answer == service.summarize(SUMMARY_REQUEST, mode="extractive").markdown()
    assert any(c.title.startswith("Grokking") for c in summary.citations)

    answer = service.respond(QUESTION, mode="extractive")
    assert answer.kind == "answer" and not answer.refused
    assert answer.citations[0].title.startswith("Tversky")
    asked = service.ask(QUESTION, mode="extractive")
    assert (answer.answer, answer.citations) == (asked.answer, asked.citations)
    assert fake.calls == []


def test_respond_takes_an_analysed_request(make_service: MakeService) -> None:
    service, _ = make_service()
    request = service.analyse(SUMMARY_REQUEST)
    assert request == analyse(SUMMARY_REQUEST) and request.topic == "grokking"
    assert service.respond(request, mode="extractive").kind == "summary"


def test_analyse_applies_the_length_limit(make_service: MakeService) -> None:
    service, _ = make_service(max_question_chars=50)
    with pytest.raises(QuestionError, match="limit"):
        service.analyse("why " * 20)
    with pytest.raises(QuestionError, match="empty"):
        service.respond("  ")


def test_papers_search_and_info(make_service: MakeService, fixture_papers: list) -> None:
    service, _ = make_service()
    assert sorted(p.title for p in service.papers()) == sorted(p.title for p in fixture_papers)
    first = fixture_papers[0]
    assert service.paper(first.paper_id) == first
    with pytest.raises(NotFoundError):
        service.paper("0000000000000000")
    [best] = service.search("triplet network metric learning", 1)
    assert best["title"] == "Deep metric learning using Triplet network"
    info = service.info()
    assert (info["papers"], info["chunks"], info["collection"]) == (6, 6, "papers")
    assert info["chunking"] == "sentences-v2:max200:overlap1" and info["sentences"] is None
