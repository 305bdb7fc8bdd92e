"""Grounded summaries over a real store: a topic with a known matching set, named papers,
an off-collection topic, an unknown title, and the CLI."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from click.testing import Result

from rag.corpus import load_corpus
from rag.embedding import Embedder
from rag.errors import NotFoundError
from rag.generation import FakeGenerator
from rag.ingest import IngestReport
from rag.service import RagService
from rag.settings import Settings
from rag.summary import shared_phrase
from rag.text import TermStatistics, content_terms

KAN_TITLES = {
    "KAN: Kolmogorov-Arnold Networks",
    "Activation Space Selectable Kolmogorov-Arnold Networks",
    "MLP-KAN: Unifying Deep Representation and Function Learning",
}
# "Kolmogorov" alone (complexity, not networks) must not pull this one into a KAN summary
DISTRACTOR = "The No Free Lunch Theorem, Kolmogorov Complexity, and the Role of Inductive Biases in Machine Learning"


@pytest.fixture(scope="module")
def summary_store(
    tmp_path_factory: pytest.TempPathFactory, full_corpus: Path, ingest_into: Callable[..., IngestReport]
) -> tuple[Path, Path]:
    """A store of the three KAN papers, the distractor and eight unrelated papers."""
    papers = load_corpus(full_corpus).papers
    chosen = [p for p in papers if p.title in KAN_TITLES | {DISTRACTOR}]
    chosen += [p for p in papers if p.title not in KAN_TITLES | {DISTRACTOR}][:8]
    folder = tmp_path_factory.mktemp("summary")
    corpus = folder / "papers.jsonl"
    corpus.write_text(
        "\n".join(json.dumps({"title": p.title, "abstract": p.abstract}) for p in chosen) + "\n", encoding="utf-8"
    )
    ingest_into(folder / "store", corpus=corpus)
    return folder / "store", corpus


@pytest.fixture(scope="module")
def make_summarizer(summary_store: tuple[Path, Path], embedder: Embedder) -> Callable[..., RagService]:
    """`make_summarizer(model, **settings)`: a service over the summary store with the session's
    embedder and `model` (a FakeGenerator that must not be used, unless given)."""
    store, corpus = summary_store

    def make(model: FakeGenerator | None = None, **overrides: object) -> RagService:
        settings = Settings(store_path=store, corpus_path=corpus, **overrides)  # type: ignore[arg-type]
        return RagService(settings, generator=model or FakeGenerator("unused"), embedder=embedder)

    return make


@pytest.fixture(scope="module")
def service(make_summarizer: Callable[..., RagService]) -> RagService:
    return make_summarizer()


def test_topic_summary_uses_exactly_the_matching_papers(service: RagService) -> None:
    summary = service.summarize("Kolmogorov-Arnold networks", mode="extractive")
    assert not summary.refused
    assert {m["title"] for m in summary.matched} == KAN_TITLES
    assert {c.title for c in summary.citations} == KAN_TITLES
    assert all(s.citations for s in summary.sentences), "every sentence cites a paper"
    text = summary.markdown()
    assert text.startswith('3 papers in the collection match "Kolmogorov-Arnold networks".') and "**Sources**" in text
    data = summary.to_dict()
    assert data["coverage"] == {"matched": 3, "used": 3, "left_out": []}


def test_papers_beyond_the_budget_are_listed_not_dropped(make_summarizer: Callable[..., RagService]) -> None:
    summary = make_summarizer(summary_max_papers=2).summarize("Kolmogorov-Arnold networks", mode="extractive")
    beyond = [m["title"] for m in summary.left_out if m["reason"].startswith("beyond")]
    assert len(summary.sources) == 2 and len(beyond) == 1
    assert beyond[0] in KAN_TITLES and f"beyond the summary's paper budget: {beyond[0]}" in summary.markdown()
    assert summary.to_dict()["coverage"] == {"matched": 3, "used": 2, "left_out": beyond}


def test_named_paper_summary_cites_exactly_those_papers(service: RagService) -> None:
    titles = ["KAN: Kolmogorov-Arnold Networks", "MLP-KAN: Unifying Deep Representation and Function Learning"]
    summary = service.summarize(papers=titles, mode="extractive")
    assert {c.title for c in summary.citations} == set(titles)
    ids = [c.paper_id for c in summary.citations]
    assert {c.title for c in service.summarize(papers=ids, mode="extractive").citations} == set(titles)


def test_quoted_titles_in_a_request_become_a_named_summary(service: RagService) -> None:
    summary = service.summarize(
        "Summarize the papers 'KAN: Kolmogorov-Arnold Networks' and "
        "'Activation Space Selectable Kolmogorov-Arnold Networks'.",
        mode="extractive",
    )
    assert {c.title for c in summary.citations} == {
        "KAN: Kolmogorov-Arnold Networks",
        "Activation Space Selectable Kolmogorov-Arnold Networks",
    }


def test_off_collection_topic_says_nothing_matches(service: RagService) -> None:
    summary = service.summarize("the history of medieval French poetry", mode="extractive")
    assert summary.refused and not summary.citations
    assert summary.markdown().startswith("Nothing in the collection matches")


def test_unknown_title_lists_near_matches(service: RagService) -> None:
    with pytest.raises(NotFoundError) as error:
        service.summarize(papers=["Kolmogorov Arnold Network"], mode="extractive")
    assert "KAN: Kolmogorov-Arnold Networks" in str(error.value) or "Kolmogorov-Arnold Networks" in str(error.value)


def test_generative_key_points_are_checked(service: RagService, make_summarizer: Callable[..., RagService]) -> None:
    fake = FakeGenerator(lambda m: "KANs place learnable activation functions on edges instead of nodes. [1]")
    summary = make_summarizer(fake).summarize("Kolmogorov-Arnold networks", mode="generative")
    assert fake.calls, "the model wrote key points"
    assert all(s.citations for s in summary.sentences)
    # the model's key point takes the place of the paper's quote: still one point per paper
    extractive = service.summarize("Kolmogorov-Arnold networks", mode="extractive")
    points = [p for g in summary.groups for p in g.points]
    assert any(p.kind == "generated" for p in points)
    assert sorted(n for p in points for n in p.citations) == sorted(
        n for g in extractive.groups for p in g.points for n in p.citations
    )
    invented = FakeGenerator(lambda m: "The method was invented in 1850 by a team of 400 chemists. [1]")
    checked = make_summarizer(invented).summarize("Kolmogorov-Arnold networks", mode="generative")
    assert all("1850" not in s.text for s in checked.sentences) and checked.unsupported_sentences >= 1


def test_cli_summarize(run: Callable[..., Result], summary_store: tuple[Path, Path]) -> None:
    store, corpus = summary_store
    env = {"RAG_STORE_PATH": str(store), "RAG_CORPUS_PATH": str(corpus)}
    result = run("summarize", "Kolmogorov-Arnold networks", "--mode", "extractive", env=env)
    assert result.exit_code == 0, result.output
    assert "**Sources**" in result.output and "KAN: Kolmogorov-Arnold Networks" in result.output
    as_json = run("summarize", "--paper", "KAN: Kolmogorov-Arnold Networks", "--mode", "extractive", "--json", env=env)
    assert as_json.exit_code == 0, as_json.output
    data = json.loads(as_json.stdout)
    assert [c["title"] for c in data["citations"]] == ["KAN: Kolmogorov-Arnold Networks"]
    missing = run("summarize", "--paper", "No Such Paper At All", "--mode", "extractive", env=env)
    assert missing.exit_code != 0 and "Traceback" not in missing.output and "nearest titles" in missing.output


def test_a_group_label_is_the_same_whatever_the_string_hashing() -> None:
    """Two phrases of equal weight: the label must not depend on a set's order, which changes
    with PYTHONHASHSEED from one process to the next (a summary must read the same each run)."""
    import subprocess
    import sys

    program = (
        "from rag.summary import shared_phrase; from rag.text import TermStatistics; "
        "print(shared_phrase(['We prove results for GNNs.', 'GNNs are studied here, and we prove bounds.'], "
        "TermStatistics(()), frozenset()))"
    )
    labels = {
        subprocess.run(
            [sys.executable, "-c", program],
            env={**os.environ, "PYTHONHASHSEED": str(seed)},
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        ).stdout.strip()
        for seed in range(6)
    }
    assert labels == {"GNNs"}


def test_a_group_label_comes_from_its_titles_or_names_never_a_word_shared_in_passing() -> None:
    texts = [
        "Spiking transformers for vision. The model has sparse events and yet it is fast.",
        "Energy-efficient spiking transformers. Our network has low power; yet accuracy stays high.",
    ]
    titles = ["Spiking transformers for vision", "Energy-efficient spiking transformers"]
    # 40 other papers, a tenth of which say "network" and "high": generic words name no group
    others = [f"Paper {i} on network design with high accuracy." if i % 4 == 0 else f"Paper {i}." for i in range(40)]
    stats = TermStatistics([*texts, *others])
    assert shared_phrase(texts, stats, frozenset(), titles).lower() == "spiking transformers"
    # without a title to draw on, "has" and "yet" (in both abstracts) still do not label it
    assert shared_phrase(texts, stats, frozenset(content_terms("spiking transformers")), titles) == ""
    assert shared_phrase(["A study of SNNs.", "SNNs again."], stats, frozenset(), ["A", "B"]) == "SNNs"  # a name


def test_title_vectors_are_the_embedded_titles_whatever_was_asked_before(service: RagService) -> None:
    papers = service.retriever.papers
    ids = sorted(papers)[:4]
    expected = service.embedder.embed([papers[pid].title for pid in ids])
    first = service.summarizer.title_vectors(ids[:2])  # the rest are embedded on the next call
    again = service.summarizer.title_vectors([ids[3], *ids[:3]])
    assert np.allclose(first, expected[:2], atol=1e-5)
    assert np.allclose(again, expected[[3, 0, 1, 2]], atol=1e-5)
    assert service.summarizer.title_vectors([]).shape[0] == 0
