"""Bad input and broken state, through the real `rag` command line over real stores.

Each bad corpus ingests what is valid and reports the rest by line, and `--check` reports the
same without writing; an unreadable file fails in one line and leaves the store as it was. Each
broken state (a corrupted or half-missing store, a store built with other settings, a model file
that is missing, invalid or truncated) fails in one line that says the fix. `--rebuild` replaces
the store only once the new one is complete, and can repair a store that no longer opens.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import one_line_error
from click.testing import Result

from rag.chunking import chunking_signature
from rag.corpus import Paper
from rag.embedding import Embedder
from rag.ingest import ingest
from rag.settings import bundled_model_path
from rag.store import Fingerprint, Store

GROKKING_QUESTION = "What happens to generalization long after neural networks overfit?"


def ask_json(run: Callable[..., Result], store: Path, env: dict[str, str] | None = None) -> dict[str, Any]:
    result = run("--store", store, "ask", "--mode", "extractive", "--json", GROKKING_QUESTION, env=env)
    assert result.exit_code == 0, result.output
    answer: dict[str, Any] = json.loads(result.stdout)
    return answer


def titles_in(store_path: Path) -> list[str]:
    return sorted(p.title for p in Store(store_path, "papers").papers())


def collections_in(store_path: Path) -> set[str]:
    return Store(store_path, "papers")._collection_names()


def record(paper: Paper) -> str:
    return f"{paper.title}\n{paper.abstract}\n"


def build_store(path: Path, corpus: Path, embedder: Embedder) -> Path:
    """A real store of `corpus`, closed afterwards: this process holds nothing of it open, so
    what a test does to its files is what the next command sees, as in a new process."""
    store = Store(path, "papers")
    ingest(corpus, store, embedder, 200, 1, batch_size=64)
    store.close()
    return path


@pytest.fixture
def store_of_six(tmp_path: Path, fixture_corpus: Path, embedder: Embedder) -> Path:
    """A fresh store of the six fixture papers that a test may break."""
    return build_store(tmp_path / "store", fixture_corpus, embedder)


@pytest.fixture(scope="module")
def unharmed_store(tmp_path_factory: pytest.TempPathFactory, fixture_corpus: Path, embedder: Embedder) -> Path:
    """A store of the six fixture papers for tests that must leave it as it was."""
    return build_store(tmp_path_factory.mktemp("unharmed") / "store", fixture_corpus, embedder)


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
    assert collections_in(unharmed_store) == {"papers"}


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


BREAKAGES = {"corrupted": corrupt_database, "malformed": malform_database, "lost database": lose_database}


@pytest.mark.parametrize("breakage", BREAKAGES, ids=list(BREAKAGES))
def test_a_broken_store_fails_in_one_line_and_rebuild_repairs_it(
    run: Callable[..., Result], store_of_six: Path, fixture_corpus: Path, breakage: str
) -> None:
    BREAKAGES[breakage](store_of_six)

    for command in (("ask", GROKKING_QUESTION), ("info",), ("ingest", fixture_corpus)):
        line = one_line_error(run("--store", store_of_six, *command))
        assert str(store_of_six) in line and "rag ingest --rebuild" in line, line

    result = run("--store", store_of_six, "ingest", "--rebuild", fixture_corpus)
    assert result.exit_code == 0, result.output
    assert "rebuilt the store with 6 papers" in result.stdout
    kept = [p for p in store_of_six.parent.iterdir() if p.name.startswith("store.broken-")]
    assert len(kept) == 1 and f"moved to {kept[0]}" in result.stderr  # never deleted silently
    assert not (store_of_six.parent / "store.rebuild").exists()
    assert len(titles_in(store_of_six)) == 6
    assert not ask_json(run, store_of_six)["refused"]


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
    assert not ask_json(run, store_of_six, env=other)["refused"]


def test_a_store_built_by_another_embedder_fails_in_one_line(
    run: Callable[..., Result], store_of_six: Path, embedder: Embedder
) -> None:
    store = Store(store_of_six, "papers")
    found = store.fingerprint()
    assert found is not None
    store._collection.modify(metadata={**store._collection.metadata, "embedder": "e5-small@0123abcd"})

    line = one_line_error(run("--store", store_of_six, "ask", GROKKING_QUESTION))
    assert "embedder e5-small@0123abcd" in line and f"ask for {embedder.name}" in line
    assert "rag ingest --rebuild" in line


def test_a_missing_store_with_a_missing_corpus_fails_in_one_line(run: Callable[..., Result], tmp_path: Path) -> None:
    line = one_line_error(
        run("--store", tmp_path / "nowhere", "ask", GROKKING_QUESTION, env={"RAG_CORPUS_PATH": str(tmp_path / "x.txt")})
    )
    assert "is empty and the corpus to fill it failed" in line and "rag ingest PATH" in line


@pytest.fixture(scope="module")
def truncated_gguf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled model's first 2 MB: a valid GGUF header, then nothing."""
    path = tmp_path_factory.mktemp("models") / "truncated.gguf"
    with bundled_model_path().open("rb") as f:
        path.write_bytes(f.read(2_000_000))
    return path


@pytest.mark.parametrize(
    ("model", "message"),
    [
        ("missing", "model file not found"),
        ("text", "not a GGUF model file"),
        ("magic only", "failed to load"),
        ("truncated", "failed to load"),
    ],
)
def test_a_bad_model_file_fails_in_one_line(
    run: Callable[..., Result], fixture_store: Path, tmp_path: Path, truncated_gguf: Path, model: str, message: str
) -> None:
    files = {
        "missing": tmp_path / "none.gguf",
        "text": tmp_path / "x.gguf",
        "magic only": tmp_path / "magic.gguf",
        "truncated": truncated_gguf,
    }
    files["text"].write_text("this is a text file, not a model\n")
    files["magic only"].write_bytes(b"GGUF" + os.urandom(256))

    line = one_line_error(run("--store", fixture_store, "ask", "--model-path", files[model], GROKKING_QUESTION))
    assert message in line and str(files[model]) in line


# ---- --rebuild replaces the store only when the new one is complete ------------------------------


@pytest.fixture
def failing_embedder(monkeypatch: pytest.MonkeyPatch, embedder: Embedder) -> Iterator[Callable[[BaseException], None]]:
    """`fail_on_second_batch(error)`: the embedder raises `error` when embedding its second batch."""

    def arm(error: BaseException) -> None:
        calls = {"n": 0}
        real = embedder.embed

        def embed(texts: list[str]) -> Any:
            calls["n"] += 1
            if calls["n"] == 2:
                raise error
            return real(texts)

        monkeypatch.setattr(embedder, "embed", embed)

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
    assert ask_json(run, store_of_six)["citations"][0]["title"].startswith("Grokking")


def test_rebuild_replaces_the_store_with_exactly_the_new_corpus(
    run: Callable[..., Result], store_of_six: Path, tmp_path: Path, fixture_papers: list[Paper]
) -> None:
    three = tmp_path / "three.txt"
    three.write_text("".join(record(p) for p in fixture_papers[3:]))
    leftover = Store(store_of_six, "papers")
    leftover.begin_rebuild(Fingerprint("stale", "stale", 384))  # as if an earlier rebuild died
    assert collections_in(store_of_six) == {"papers", "papers__rebuild"}

    result = run("--store", store_of_six, "ingest", "--rebuild", three, env={"RAG_INGEST_BATCH_CHUNKS": "1"})

    assert result.exit_code == 0, result.output
    assert "rebuilt the store with 3 papers in 3 chunks (3 new)" in result.stdout
    assert titles_in(store_of_six) == sorted(p.title for p in fixture_papers[3:])
    assert collections_in(store_of_six) == {"papers"}
    assert Store(store_of_six, "papers").count() == 3


@pytest.mark.parametrize("new_one_built", [True, False], ids=["after-build", "before-build"])
def test_a_swap_cut_short_is_finished_by_the_next_open(
    store_of_six: Path, tmp_path: Path, fixture_papers: list[Paper], embedder: Embedder, new_one_built: bool
) -> None:
    """A crash between the swap's two renames leaves `papers__old` (and, once built, the new
    `papers__rebuild`) but no `papers`: the next open finishes the swap or undoes it."""
    store = Store(store_of_six, "papers")
    if new_one_built:
        three = tmp_path / "three.txt"
        three.write_text("".join(record(p) for p in fixture_papers[3:]))
        ingest(three, Store(store_of_six, "papers__rebuild"), embedder, 200, 1, batch_size=64)
    store._collection.modify(name="papers__old")
    assert "papers" not in collections_in_raw(store)

    reopened = Store(store_of_six, "papers")

    expected = fixture_papers[3:] if new_one_built else fixture_papers
    assert sorted(p.title for p in reopened.papers()) == sorted(p.title for p in expected)
    assert collections_in(store_of_six) == {"papers"}


def collections_in_raw(store: Store) -> set[str]:
    return store._collection_names()
