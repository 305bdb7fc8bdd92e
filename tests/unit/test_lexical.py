"""The lexical index beside the store: saved by ingest, loaded at start-up, rebuilt (saying so)
when missing, stale or unreadable, and ranking exactly as an index built from scratch."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np
import pytest

from rag.corpus import Paper, load_corpus
from rag.embedding import Embedder
from rag.ingest import ingest
from rag.lexical import LexicalIndex, index_folder, load_fresh, open_index
from rag.retrieval import Retriever
from rag.store import Store

QUESTIONS = [
    "How do graph neural networks pass messages between nodes?",
    "What happens to generalization long after neural networks overfit?",
    "similarity based on common and distinctive features",
    "self-configuring segmentation for biomedical images",
    "the of and",  # stop words only: no lexical hits
]


def ranking(retriever: Retriever, question: str) -> list[tuple[str, float, float, float]]:
    found = retriever.retrieve(question, 5)
    return [(p.paper_id, round(p.score, 6), round(p.lexical, 6), round(p.dense, 6)) for p in found.candidates]


def searches(index: LexicalIndex) -> list[list[tuple[str, float]]]:
    return [[(p.paper_id, round(s, 6)) for p, s in index.search(q, 100)] for q in QUESTIONS]


def write_corpus(path: Path, papers: list[Paper]) -> Path:
    path.write_text("".join(f"{p.title}\n{p.abstract}\n\n" for p in papers))
    return path


def test_ingest_saves_an_index_that_start_up_loads_without_rebuilding(
    store_of_six: Path, embedder: Embedder, caplog: pytest.LogCaptureFixture
) -> None:
    store = Store(store_of_six, "papers")
    saved = load_fresh(store)
    assert saved is not None
    assert len(saved.papers) == 6
    with caplog.at_level(logging.WARNING, logger="rag.lexical"):
        Retriever(store, embedder)
    assert "rebuild" not in caplog.text


def test_a_loaded_index_ranks_exactly_as_one_built_from_the_store(store_of_six: Path, embedder: Embedder) -> None:
    store = Store(store_of_six, "papers")
    loaded = Retriever(store, embedder)
    shutil.rmtree(index_folder(store))
    rebuilt = Retriever(Store(store_of_six, "papers"), embedder)
    assert [ranking(loaded, q) for q in QUESTIONS] == [ranking(rebuilt, q) for q in QUESTIONS]
    assert loaded.lexical.terms.df == rebuilt.lexical.terms.df
    assert [p.paper_id for p in loaded.lexical.papers] == [p.paper_id for p in rebuilt.lexical.papers]


def test_a_missing_index_is_rebuilt_saved_and_said(
    store_of_six: Path, embedder: Embedder, caplog: pytest.LogCaptureFixture
) -> None:
    store = Store(store_of_six, "papers")
    shutil.rmtree(index_folder(store))
    with caplog.at_level(logging.WARNING, logger="rag.lexical"):
        index = open_index(store)
    assert "is missing: rebuilding it" in caplog.text
    assert len(index.papers) == 6
    saved = load_fresh(store)
    assert saved is not None
    assert_vectors_are_the_stores(saved, store)


def test_an_index_older_than_the_store_is_rebuilt(
    tmp_path: Path, embedder: Embedder, fixture_papers: list[Paper], caplog: pytest.LogCaptureFixture
) -> None:
    """Another ingest added papers after the index was saved (here: the index of the first three
    put back over the store of six), so its chunk count no longer matches."""
    store_path = tmp_path / "store"
    first = write_corpus(tmp_path / "first.txt", fixture_papers[:3])
    ingest(first, Store(store_path, "papers"), embedder, 200, 1, batch_size=64)
    folder = index_folder(Store(store_path, "papers"))
    shutil.copytree(folder, tmp_path / "index-of-three")
    ingest(write_corpus(tmp_path / "all.txt", fixture_papers), Store(store_path, "papers"), embedder, 200, 1, 64)
    shutil.rmtree(folder)
    shutil.copytree(tmp_path / "index-of-three", folder)

    store = Store(store_path, "papers")
    assert load_fresh(store) is None
    with caplog.at_level(logging.WARNING, logger="rag.lexical"):
        index = open_index(store)
    assert "is stale: rebuilding it" in caplog.text
    assert {p.paper_id for p in index.papers} == {p.paper_id for p in fixture_papers}


def test_an_unreadable_index_is_rebuilt(
    store_of_six: Path, embedder: Embedder, caplog: pytest.LogCaptureFixture
) -> None:
    store = Store(store_of_six, "papers")
    (index_folder(store) / "papers.json").write_text("{not json")
    with caplog.at_level(logging.WARNING, logger="rag.lexical"):
        index = open_index(store)
    assert "unreadable" in caplog.text
    assert len(index.papers) == 6


def test_an_ingest_that_adds_papers_updates_the_index_as_a_rebuild_would(
    tmp_path: Path, embedder: Embedder, fixture_papers: list[Paper]
) -> None:
    store_path = tmp_path / "store"
    ingest(write_corpus(tmp_path / "first.txt", fixture_papers[:2]), Store(store_path, "papers"), embedder, 200, 1, 64)
    report = ingest(
        write_corpus(tmp_path / "all.txt", fixture_papers), Store(store_path, "papers"), embedder, 200, 1, 64
    )
    assert any("lexical index updated" in note for note in report.notes)
    store = Store(store_path, "papers")
    updated = load_fresh(store)
    assert updated is not None
    fresh = LexicalIndex(store.papers(), store.chunk_counts())
    assert [p.paper_id for p in updated.papers] == [p.paper_id for p in fresh.papers]
    assert searches(updated) == searches(fresh)
    assert updated.terms.df == fresh.terms.df and updated.terms.n == fresh.terms.n == 6
    assert updated.chunk_counts == fresh.chunk_counts
    assert_vectors_are_the_stores(updated, store)  # the first two kept, the four added read


def assert_vectors_are_the_stores(index: LexicalIndex, store: Store) -> None:
    """The index carries every paper's sentence and chunk vectors, equal to the store's."""
    assert index.vectors is not None
    ids = [p.paper_id for p in index.papers]
    sentences, chunks = index.vectors.sentences_of(ids), index.vectors.chunks_of(ids)
    stored_sentences, stored_chunks = store.sentence_vectors(ids), store.chunk_vectors(ids)
    assert sentences.keys() == stored_sentences.keys() == chunks.keys() == stored_chunks.keys() == set(ids)
    for pid in ids:
        assert np.array_equal(sentences[pid], stored_sentences[pid])
        assert np.array_equal(chunks[pid], stored_chunks[pid])


def test_adding_papers_to_an_index_ranks_as_building_it_whole(full_corpus: Path) -> None:
    """On the bundled corpus (261 papers): half, then the rest added, against all at once."""
    papers = load_corpus(full_corpus).papers
    whole = LexicalIndex(papers)
    grown = LexicalIndex(papers[::2]).with_papers(papers[1::2], {})
    assert [p.paper_id for p in grown.papers] == [p.paper_id for p in whole.papers]
    assert searches(grown) == searches(whole)
    assert grown.terms.df == whole.terms.df


def test_a_saved_index_loads_as_it_was(tmp_path: Path, full_corpus: Path) -> None:
    index = LexicalIndex(load_corpus(full_corpus).papers, {"x": 2})
    index.save(tmp_path / "index", {"collection": "c", "chunks": 1})
    loaded = LexicalIndex.load(tmp_path / "index")
    assert list(loaded.papers) == index.papers  # made one by one, as they are asked for
    assert dict(loaded.by_id()) == index.by_id()
    some = index.papers[7]
    assert loaded.by_id()[some.paper_id] == some and some.paper_id in loaded.by_id()
    assert loaded.papers[-1] == index.papers[-1] and loaded.papers[2:4] == index.papers[2:4]
    assert searches(loaded) == searches(index)
    assert loaded.terms.df == index.terms.df and loaded.terms.words == index.terms.words
    assert loaded.chunk_counts == {}  # only papers of the index keep a count


def test_an_empty_store_gives_an_empty_index(tmp_path: Path) -> None:
    index = LexicalIndex([])
    index.save(tmp_path / "index", {"collection": "", "chunks": 0})
    assert LexicalIndex.load(tmp_path / "index").search("graph networks", 5) == []
