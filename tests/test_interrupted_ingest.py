"""An ingest killed mid-way (SIGKILL, a real `rag ingest` process): the store it leaves still
answers, and a re-run completes it without duplicates. A killed `--rebuild` leaves the old store
as it was.

The kill comes once the process has logged a few stored batches (`rag -v` logs each one), so
it lands mid-ingest rather than at a time guessed in advance.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from rag.cli import cli
from rag.corpus import load_corpus
from rag.embedding import Embedder
from rag.ingest import ingest
from rag.store import Store

PAPERS = 40  # of the bundled corpus: enough batches to kill in the middle, quick to finish
BATCH = 4
KILL_AFTER_CHUNKS = 2 * BATCH
START_TIMEOUT_S = 180  # the child imports torch and loads the embedder first
QUESTION = "How do graph neural networks pass messages between nodes?"


@pytest.fixture(autouse=True)
def _shared_embedder(monkeypatch: pytest.MonkeyPatch, embedder: Embedder) -> None:
    monkeypatch.setattr("rag.service.Embedder", lambda *args, **kwargs: embedder)


@pytest.fixture
def run() -> Callable[..., Result]:
    runner = CliRunner()

    def invoke(*args: str | Path) -> Result:
        return runner.invoke(cli, [str(a) for a in args], prog_name="rag")

    return invoke


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
    assert store._collection_names() == {"papers", "papers__rebuild"}  # the partial new one, aside
    asked = run("--store", store_path, "ask", "--mode", "extractive", "--json", "What is grokking?")
    assert json.loads(asked.stdout)["citations"][0]["title"].startswith("Grokking")

    rebuilt = run("--store", store_path, "ingest", "--rebuild", "--json", corpus)

    assert rebuilt.exit_code == 0, rebuilt.output
    final = Store(store_path, "papers")
    assert sorted(p.title for p in final.papers()) == sorted(p.title for p in load_corpus(corpus).papers)
    assert final._collection_names() == {"papers"}
