"""Ingest into real stores with the real embedder: nothing doubled, a stopped ingest resumed,
bad records skipped and reported by line, unusable files refused, and the store replaced by
`--rebuild` only once the new one is complete.

Each bad corpus ingests what is valid and reports the rest by line, and `--check` reports the
same without writing; an unreadable file fails in one line and leaves the store as it was.

An ingest killed mid-way (SIGKILL, a real `rag ingest` process) leaves a store that still
answers, and a re-run completes it without duplicates; a killed `--rebuild` leaves the old store
as it was. The kill comes once the process has logged a few stored batches (`rag -v` logs each
one), so it lands mid-ingest rather than at a time guessed in advance.
"""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from chroma_helpers import chroma_collection, collection_names
from cli_helpers import ask_json, one_line_error
from click.testing import Result

from rag.corpus import Paper, load_corpus
from rag.embedding import Embedder
from rag.ingest import IngestReport, ingest
from rag.store import Fingerprint, Store

Ingest = Callable[..., IngestReport]
GROKKING_QUESTION = "What happens to generalization long after neural networks overfit?"

PAPERS = 40  # of the bundled corpus, for the killed ingest: enough batches to kill in the middle, quick to finish
BATCH = 4
KILL_AFTER_CHUNKS = 2 * BATCH
START_TIMEOUT_S = 180  # the child imports torch and loads the embedder first
QUESTION = "How do graph neural networks pass messages between nodes?"


def titles_in(store_path: Path) -> list[str]:
    return sorted(p.title for p in Store(store_path, "papers").papers())


def record(paper: Paper) -> str:
    return f"{paper.title}\n{paper.abstract}\n"


@pytest.fixture(scope="module")
def unharmed_store(tmp_path_factory: pytest.TempPathFactory, fixture_corpus: Path, embedder: Embedder) -> Path:
    """A store of the six fixture papers for tests that must leave it as it was."""
    path = tmp_path_factory.mktemp("unharmed") / "store"
    store = Store(path, "papers")
    ingest(fixture_corpus, store, embedder, 200, 1, batch_size=64)
    store.close()
    return path


# ---- nothing doubled, a stopped ingest resumed ---------------------------------------------------


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
    chroma_collection(store_path).delete(ids=ids[:2])  # as if the last batch never landed
    assert store.count() == first.chunks - 2

    again = ingest_into(store_path)
    assert again.added_chunks == 2
    assert Store(store_path, "papers").count() == first.chunks


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


# ---- corpus input: keep what is valid, report the rest by line -------------------------------


def bad_txt(papers: list[Paper]) -> tuple[bytes, dict[int, str]]:
    """A papers.txt with every kind of bad record, and the reason expected at each bad line."""
    a, b, c, d, e = papers[:5]
    lines: list[bytes] = [
        b"",  # 1 blank lines are ignored, not reported
        b"   ",  # 2
        a.title.encode(),  # 3
        a.abstract.encode(),  # 4
        b"A title whose abstract never came",  # 5
        b.title.encode(),  # 6
        b.abstract.encode(),  # 7
        a.title.encode(),  # 8 the same paper again
        a.abstract.encode(),  # 9
        c.title.encode(),  # 10
        ("word " * 220_000).encode(),  # 11 a 1 MB line
        d.title.encode(),  # 12
        d.abstract.encode().replace(b" ", b" \xff\xfe ", 1),  # 13 bytes that are not UTF-8
        e.title.encode(),  # 14
        e.abstract.encode(),  # 15
    ]
    expected = {
        5: "title with no abstract",
        8: "duplicate of the paper at line 3",
        10: "title whose abstract (line 11) was skipped",
        11: "characters is too long to be a paper",
    }
    return b"\n".join(lines) + b"\n", expected


def bad_jsonl(papers: list[Paper]) -> tuple[bytes, dict[int, str]]:
    a, b, c = papers[:3]
    lines = [
        json.dumps({"title": a.title, "abstract": a.abstract, "year": 2021}).encode(),  # 1
        b'{"title": "Broken", "abstract": "the brace never closes"',  # 2
        b"",  # 3
        json.dumps({"title": "No abstract"}).encode(),  # 4
        b"[1, 2, 3]",  # 5
        json.dumps({"title": a.title, "abstract": a.abstract}).encode(),  # 6 duplicate of line 1
        json.dumps({"title": "Huge", "abstract": "word " * 220_000}).encode(),  # 7 a 1 MB line
        b"[" * 50_000 + b"]" * 50_000,  # 8 nested past the parser's recursion limit
        json.dumps({"title": b.title, "abstract": b.abstract}).encode().replace(b"of", b"o\xfff", 1),  # 9
        json.dumps({"title": c.title, "abstract": c.abstract}).encode(),  # 10
    ]
    expected = {
        2: "not valid JSON",
        4: "missing an abstract",
        5: "not a JSON object",
        6: "duplicate of the paper at line 1",
        7: "too long to be a paper",
        8: "nested too deeply",
    }
    return b"\n".join(lines) + b"\n", expected


@pytest.mark.parametrize(
    ("name", "make", "kept", "repaired"),
    [("papers.txt", bad_txt, 4, [13]), ("papers.jsonl", bad_jsonl, 3, [9])],
    ids=["papers.txt", "jsonl"],
)
def test_bad_records_are_skipped_by_line_and_check_reports_the_same(
    run: Callable[..., Result],
    tmp_path: Path,
    fixture_papers: list[Paper],
    name: str,
    make: Callable[[list[Paper]], tuple[bytes, dict[int, str]]],
    kept: int,
    repaired: list[int],
) -> None:
    raw, expected = make(fixture_papers)
    corpus = tmp_path / name
    corpus.write_bytes(raw)
    store = tmp_path / "store"

    check = run("--store", store, "ingest", "--check", "--json", corpus)
    assert check.exit_code == 0, check.output
    assert not store.exists()
    dry = json.loads(check.stdout)
    result = run("--store", store, "ingest", "--json", corpus)
    assert result.exit_code == 0, result.output
    done = json.loads(result.stdout)

    for report in (dry, done):
        assert report["papers"] == kept
        assert report["duplicates"] == 1
        assert [s["line"] for s in report["skipped"]] == sorted(expected)
        for item in report["skipped"]:
            assert expected[item["line"]] in item["reason"]
        assert [r["line"] for r in report["repaired"]] == repaired
    assert (dry["skipped"], dry["repaired"], dry["chunks"]) == (done["skipped"], done["repaired"], done["chunks"])
    assert done["added_chunks"] == done["chunks"]
    stored = Store(store, "papers").papers()
    assert len(stored) == kept
    assert not any("\ufffd" in p.title + p.abstract for p in stored)

    human = run("--store", store, "ingest", "--check", corpus)
    for line, reason in expected.items():
        assert f"skipped line {line}: " in human.stdout and reason in human.stdout
    assert f"repaired line {repaired[0]}: bytes that are not UTF-8 were removed" in human.stdout


def test_jsonl_is_recognised_by_content_and_lone_cr_ends_a_line(
    run: Callable[..., Result], tmp_path: Path, fixture_papers: list[Paper]
) -> None:
    a, b = fixture_papers[:2]
    misnamed = tmp_path / "export.txt"
    misnamed.write_text("\n".join(json.dumps({"title": p.title, "abstract": p.abstract}) for p in (a, b)))
    old_mac = tmp_path / "old_mac.txt"
    old_mac.write_bytes((record(a) + record(b)).replace("\n", "\r").encode())

    for corpus in (misnamed, old_mac):
        report = json.loads(run("ingest", "--check", "--json", corpus).stdout)
        assert (report["papers"], report["skipped"]) == (2, []), corpus.name


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.txt", b"", "no papers found in .*: the file is empty"),
        ("blank.jsonl", b"\n \n\n", "no papers found in .*: the file is empty"),
        ("titles.txt", b"One title\nAnother title\n", "every record was skipped \\(line 1: title with no abstract"),
        ("image.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 8, "is not a text file"),
        ("random.jsonl", bytes(range(128, 256)) * 64, "is not a text file"),
        ("utf16.txt", "Title\nAbstract\n".encode("utf-16"), "is UTF-16 text.*iconv"),
    ],
)
def test_an_unusable_file_fails_in_one_line_and_leaves_the_store_as_it_was(
    run: Callable[..., Result],
    unharmed_store: Path,
    fixture_papers: list[Paper],
    tmp_path: Path,
    name: str,
    content: bytes,
    message: str,
) -> None:
    corpus = tmp_path / name
    corpus.write_bytes(content)

    for args in (("ingest", "--check"), ("ingest",), ("ingest", "--rebuild")):
        line = one_line_error(run("--store", unharmed_store, *args, corpus))
        assert re.search(message, line), line

    assert titles_in(unharmed_store) == sorted(p.title for p in fixture_papers)
    assert collection_names(unharmed_store) == {"papers"}


# ---- --rebuild replaces the store only when the new one is complete ------------------------------


@pytest.fixture
def failing_embedder(monkeypatch: pytest.MonkeyPatch, embedder: Embedder) -> Iterator[Callable[[BaseException], None]]:
    """`fail_on_second_batch(error)`: the embedder raises `error` when embedding its second batch."""

    def arm(error: BaseException) -> None:
        calls = {"n": 0}

        def failing(real: Callable[[list[str]], Any]) -> Callable[[list[str]], Any]:
            def embed(texts: list[str]) -> Any:
                calls["n"] += 1
                if calls["n"] == 2:
                    raise error
                return real(texts)

            return embed

        # an ingest that keeps word vectors embeds its batches with both at once
        monkeypatch.setattr(embedder, "embed", failing(embedder.embed))
        monkeypatch.setattr(embedder, "embed_with_words", failing(embedder.embed_with_words))

    yield arm


@pytest.mark.parametrize("error", [KeyboardInterrupt(), RuntimeError("disk full")], ids=["ctrl-c", "crash"])
def test_an_interrupted_rebuild_leaves_the_old_store_answering(
    run: Callable[..., Result],
    store_of_six: Path,
    tmp_path: Path,
    fixture_papers: list[Paper],
    failing_embedder: Callable[[BaseException], None],
    error: BaseException,
) -> None:
    three = tmp_path / "three.txt"
    three.write_text("".join(record(p) for p in fixture_papers[3:]))
    failing_embedder(error)

    result = run("--store", store_of_six, "ingest", "--rebuild", three, env={"RAG_INGEST_BATCH_CHUNKS": "1"})

    if isinstance(error, KeyboardInterrupt):
        assert result.exit_code == 130
        assert "the store is unchanged" in result.stderr
    else:
        assert result.exception is error
    assert titles_in(store_of_six) == sorted(p.title for p in fixture_papers)
    assert ask_json(run, store_of_six, GROKKING_QUESTION)["citations"][0]["title"].startswith("Grokking")


def test_rebuild_replaces_the_store_with_exactly_the_new_corpus(
    run: Callable[..., Result], store_of_six: Path, tmp_path: Path, fixture_papers: list[Paper]
) -> None:
    three = tmp_path / "three.txt"
    three.write_text("".join(record(p) for p in fixture_papers[3:]))
    leftover = Store(store_of_six, "papers")
    leftover.begin_rebuild(Fingerprint("stale", "stale", 384))  # as if an earlier rebuild died
    assert collection_names(store_of_six) == {"papers", "papers__rebuild"}

    result = run("--store", store_of_six, "ingest", "--rebuild", three, env={"RAG_INGEST_BATCH_CHUNKS": "1"})

    assert result.exit_code == 0, result.output
    assert "rebuilt the store with 3 papers in 3 chunks (3 new)" in result.stdout
    assert titles_in(store_of_six) == sorted(p.title for p in fixture_papers[3:])
    assert collection_names(store_of_six) == {"papers"}
    assert Store(store_of_six, "papers").count() == 3


# ---- an ingest killed mid-way ----------------------------------------------------------------


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory, full_corpus: Path) -> Path:
    papers = load_corpus(full_corpus).papers[:PAPERS]
    path = tmp_path_factory.mktemp("corpus") / "papers.txt"
    path.write_text("".join(f"{p.title}\n{p.abstract}\n" for p in papers), encoding="utf-8")
    return path


def kill_mid_ingest(store: Path, corpus: Path, *extra: str) -> int:
    """Run `rag -v ingest` in a child process and SIGKILL it once it has stored a few batches;
    returns how many chunks it reported stored before the kill."""
    env = {
        **os.environ,
        "RAG_STORE_PATH": str(store),
        "RAG_INGEST_BATCH_CHUNKS": str(BATCH),
        "HF_HUB_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }
    child = subprocess.Popen(
        [sys.executable, "-c", "from rag.cli import main; main()", "-v", "ingest", *extra, str(corpus)],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in child.stderr or []], daemon=True).start()
    deadline = time.monotonic() + START_TIMEOUT_S
    stored, seen = 0, []
    try:
        while stored < KILL_AFTER_CHUNKS:
            try:
                line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                pytest.fail(f"no progress from `rag ingest` within {START_TIMEOUT_S} s: {seen[-5:]}")
            seen.append(line)
            if "stored " in line and " chunks" in line:
                stored = int(line.split("stored ")[1].split()[0])
            assert child.poll() is None or stored >= KILL_AFTER_CHUNKS, f"`rag ingest` exited early: {seen[-5:]}"
        child.send_signal(signal.SIGKILL)
    finally:
        child.kill()
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    return stored


def check_whole_papers(store: Store) -> None:
    """Every stored chunk belongs to a listed paper: no paper was left half-written."""
    listed = {p.paper_id for p in store.papers()}
    assert {c.paper_id for c in store.iter_chunks()} == listed


def test_a_killed_ingest_still_answers_and_a_rerun_completes_it(
    tmp_path: Path, corpus: Path, run: Callable[..., Result]
) -> None:
    store_path = tmp_path / "store"
    planned = json.loads(run("ingest", "--check", "--json", corpus).stdout)

    reported = kill_mid_ingest(store_path, corpus)

    store = Store(store_path, "papers")
    left = store.count()
    assert reported <= left < planned["chunks"], "the kill did not land mid-ingest"
    check_whole_papers(store)
    asked = run("--store", store_path, "ask", "--mode", "extractive", "--json", QUESTION)
    assert asked.exit_code == 0, asked.output
    answer: dict[str, Any] = json.loads(asked.stdout)
    stored_titles = {p.title for p in store.papers()}
    assert answer["retrieved"] and {p["title"] for p in answer["retrieved"]} <= stored_titles
    assert {c["title"] for c in answer["citations"]} <= stored_titles

    rerun = run("--store", store_path, "ingest", "--json", corpus)

    assert rerun.exit_code == 0, rerun.output
    report = json.loads(rerun.stdout)
    assert report["added_chunks"] == planned["chunks"] - left
    final = Store(store_path, "papers")
    assert final.count() == planned["chunks"]
    papers = final.papers()
    assert len(papers) == len({p.paper_id for p in papers}) == planned["papers"] == PAPERS
    assert len({c.chunk_id for c in final.iter_chunks()}) == planned["chunks"]
    check_whole_papers(final)


def test_a_killed_rebuild_leaves_the_old_store_as_it_was(
    tmp_path: Path, corpus: Path, fixture_corpus: Path, embedder: Embedder, run: Callable[..., Result]
) -> None:
    store_path = tmp_path / "store"
    old = Store(store_path, "papers")
    ingest(fixture_corpus, old, embedder, 200, 1, batch_size=64)
    old_titles = sorted(p.title for p in old.papers())
    old.close()

    kill_mid_ingest(store_path, corpus, "--rebuild")

    store = Store(store_path, "papers")
    assert sorted(p.title for p in store.papers()) == old_titles
    assert collection_names(store_path) == {"papers", "papers__rebuild"}  # the partial new one, aside
    asked = run("--store", store_path, "ask", "--mode", "extractive", "--json", "What is grokking?")
    assert json.loads(asked.stdout)["citations"][0]["title"].startswith("Grokking")

    rebuilt = run("--store", store_path, "ingest", "--rebuild", "--json", corpus)

    assert rebuilt.exit_code == 0, rebuilt.output
    final = Store(store_path, "papers")
    assert sorted(p.title for p in final.papers()) == sorted(p.title for p in load_corpus(corpus).papers)
    assert collection_names(store_path) == {"papers"}


# ---- a failed ingest creates no store -------------------------------------------------------------


@pytest.mark.parametrize("rebuild", [(), ("--rebuild",)], ids=["ingest", "rebuild"])
@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("nonexistent.txt", None, "corpus file not found"),
        ("short.jsonl", json.dumps({"title": "A title", "abstract": "two words"}) + "\n", "no papers found"),
    ],
    ids=["missing file", "no valid paper"],
)
def test_a_failed_ingest_leaves_no_store_behind(
    run: Callable[..., Result],
    tmp_path: Path,
    rebuild: tuple[str, ...],
    name: str,
    content: str | None,
    message: str,
) -> None:
    corpus = tmp_path / name
    if content is not None:
        corpus.write_text(content)
    store = tmp_path / "store"

    line = one_line_error(run("--store", store, "ingest", *rebuild, corpus))

    assert message in line
    assert not store.exists()  # not even an empty folder or chroma.sqlite3
    assert [p.name for p in tmp_path.iterdir()] == ([name] if content is not None else [])
