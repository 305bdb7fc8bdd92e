"""The `rag` command line through click's CliRunner, over real stores in tmp folders.

The embedder is the real one (the session's, handed to every RagService the CLI builds, to
avoid reloading it per command); the language model is replaced by a FakeGenerator unless a test
is about loading the model. The startup checks run the real entry point in fresh interpreters.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import one_line_error
from click.testing import Result

from rag.embedding import native_bf16
from rag.generation import FakeGenerator
from rag.store import Store

TVERSKY_QUESTION = "Which paper models similarity as a function of common and distinctive features?"
OFF_TOPIC_QUESTION = "Who wrote the novel Pride and Prejudice?"
SUMMARY_REQUEST = "Summarize what the collection says about grokking"
TRIPLET = "Deep metric learning using Triplet network"


@pytest.fixture
def fake_model(monkeypatch: pytest.MonkeyPatch, prompt_sources: Callable[..., Any]) -> list[FakeGenerator]:
    """Replaces the language model (it quotes source [1]'s first sentence and cites it); the
    list records each model the CLI loaded."""
    loaded: list[FakeGenerator] = []

    def load(settings: Any) -> FakeGenerator:
        def reply(messages: list[dict[str, str]]) -> str:
            return prompt_sources(messages)[1][1][0].rstrip(".") + " [1]."

        loaded.append(FakeGenerator(reply))
        return loaded[-1]

    monkeypatch.setattr("rag.service.load_generator", load)
    return loaded


# ---- help and ingest ---------------------------------------------------------------------------


def test_help(run: Callable[..., Result]) -> None:
    result = run("--help")
    assert result.exit_code == 0
    for command in ("ask", "ingest", "info", "papers"):
        assert command in result.stdout
    result = run("ask", "--help")
    assert result.exit_code == 0
    assert "--json" in result.stdout and "--model-path" in result.stdout


def test_ingest_check_reports_counts_and_writes_nothing(
    run: Callable[..., Result], tmp_path: Path, fixture_corpus: Path
) -> None:
    store_path = tmp_path / "store"
    result = run("--store", store_path, "ingest", "--check", fixture_corpus)
    assert result.exit_code == 0, result.output
    assert "would ingest 6 papers in 6 chunks" in result.stdout
    result = run("--store", store_path, "ingest", "--check", "--json", fixture_corpus)
    report = json.loads(result.stdout)
    assert (report["papers"], report["chunks"], report["added_chunks"], report["skipped"]) == (
        6,
        6,
        0,
        [],
    )
    store = Store(store_path, "papers")
    assert not store.exists and store.count() == 0


def test_ingest_check_does_not_create_the_store(
    run: Callable[..., Result], tmp_path: Path, fixture_corpus: Path
) -> None:
    store_path = tmp_path / "store"
    assert run("--store", store_path, "ingest", "--check", fixture_corpus).exit_code == 0
    assert not store_path.exists()


def test_ingest_then_info_shows_the_papers(run: Callable[..., Result], tmp_path: Path, fixture_corpus: Path) -> None:
    store_path = tmp_path / "store"
    result = run("--store", store_path, "ingest", fixture_corpus)
    assert result.exit_code == 0, result.output
    assert "ingested 6 papers in 6 chunks (6 new)" in result.stdout

    result = run("--store", store_path, "info", "--json")
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert info["papers"] == 6 and info["chunks"] == 6
    assert info["chunking"] == "sentences-v2:max200:overlap1"
    assert info["store"] == str(store_path)

    again = run("--store", store_path, "ingest", fixture_corpus)
    assert "(0 new)" in again.stdout
    result = run("info", env={"RAG_STORE_PATH": str(store_path)})  # the env var works like --store
    assert "papers: 6" in result.stdout


def test_info_says_how_questions_and_ingests_are_embedded(run: Callable[..., Result], fixture_store: Path) -> None:
    # the precision decided a 5x difference in ingest time between two machines: info shows it
    precision = "bfloat16" if native_bf16() else "float32"
    info = json.loads(run("--store", fixture_store, "info", "--json").stdout)
    assert info["embedding"] == f"questions in numpy, bulk in torch {precision}"
    forced = run("--store", fixture_store, "info", env={"RAG_EMBED_BACKEND": "torch", "RAG_EMBED_DTYPE": "bfloat16"})
    assert "embedding: torch bfloat16" in forced.stdout


def test_ingest_reports_skipped_lines(run: Callable[..., Result], tmp_path: Path, fixture_corpus: Path) -> None:
    corpus = tmp_path / "papers.txt"
    corpus.write_text(fixture_corpus.read_text().rstrip("\n") + "\nA title whose abstract went missing\n")
    result = run("--store", tmp_path / "store", "ingest", "--check", corpus)
    assert result.exit_code == 0
    lines = corpus.read_text().count("\n")
    assert f"skipped line {lines}: title with no abstract" in result.stdout


def test_ingest_of_an_empty_corpus_fails_cleanly(run: Callable[..., Result], tmp_path: Path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    line = one_line_error(run("--store", tmp_path / "store", "ingest", empty))
    assert "no papers found" in line


def test_ingest_of_a_missing_file_fails_cleanly(run: Callable[..., Result], tmp_path: Path) -> None:
    line = one_line_error(run("--store", tmp_path / "store", "ingest", tmp_path / "nope.jsonl"))
    assert "not found" in line


# ---- ask ---------------------------------------------------------------------------------------


def check_answer_json(answer: dict[str, Any], question: str) -> None:
    assert {
        "question",
        "answer",
        "refused",
        "citations",
        "retrieved",
        "timings",
        "model",
        "prompt",
    } <= set(answer)
    assert answer["question"] == question
    assert isinstance(answer["answer"], str) and isinstance(answer["refused"], bool)
    for citation in answer["citations"]:
        assert set(citation) == {"n", "title", "paper_id", "snippet"}
    for paper in answer["retrieved"]:
        assert {"title", "paper_id", "score"} <= set(paper)
    assert {"retrieve_ms", "first_token_ms", "generate_ms", "total_ms"} <= set(answer["timings"])
    assert isinstance(answer["prompt"], str) and answer["prompt"]
    retrieved = {p["paper_id"]: p["title"] for p in answer["retrieved"]}
    for citation in answer["citations"]:
        assert retrieved[citation["paper_id"]] == citation["title"]


def test_ask_json_extractive(run: Callable[..., Result], fixture_store: Path, fixture_titles: set[str]) -> None:
    result = run("--store", fixture_store, "ask", "--json", TVERSKY_QUESTION, env={"RAG_MODE": "extractive"})
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    check_answer_json(answer, TVERSKY_QUESTION)
    assert answer["refused"] is False and answer["model"] == "none"
    assert answer["citations"][0]["title"].startswith("Tversky")
    assert answer["timings"]["first_token_ms"] is None
    assert {c["title"] for c in answer["citations"]} <= fixture_titles


def test_ask_json_generative_with_a_replaced_model(
    run: Callable[..., Result], fixture_store: Path, fake_model: list[FakeGenerator]
) -> None:
    result = run("--store", fixture_store, "ask", "--json", "-k", "3", TVERSKY_QUESTION)
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    check_answer_json(answer, TVERSKY_QUESTION)
    assert len(fake_model) == 1 and len(fake_model[0].calls) == 1
    assert answer["model"] == "fake" and answer["refused"] is False
    assert answer["prompt"].startswith("answer@")  # the template's name and version
    assert len(answer["retrieved"]) == 3
    assert [c["n"] for c in answer["citations"]] == [1]
    assert answer["citations"][0]["title"].startswith("Tversky")
    assert answer["timings"]["first_token_ms"] is not None


def test_ask_streams_the_answer_and_lists_sources(
    run: Callable[..., Result], fixture_store: Path, fake_model: list[FakeGenerator]
) -> None:
    result = run("--store", fixture_store, "ask", TVERSKY_QUESTION)
    assert result.exit_code == 0, result.output
    answer, sources = result.stdout.split("Sources:")
    assert "[1]" in answer
    assert sources.strip().startswith("[1] Tversky Neural Networks")


def test_off_topic_ask_is_refused_without_loading_the_model(
    run: Callable[..., Result], fixture_store: Path, fake_model: list[FakeGenerator]
) -> None:
    result = run("--store", fixture_store, "ask", "--json", OFF_TOPIC_QUESTION)
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert answer["refused"] is True and answer["citations"] == []
    assert fake_model == []  # the model was not even loaded


@pytest.mark.parametrize("question", ["", "   "])
def test_empty_question_fails_with_one_line(run: Callable[..., Result], fixture_store: Path, question: str) -> None:
    line = one_line_error(run("--store", fixture_store, "ask", question))
    assert "question is empty" in line


# A byte that is not UTF-8 in an argument ($'\xff' in bash), as Python reads it: a lone surrogate.
NOT_UTF8 = "\udcff"


@pytest.mark.parametrize(
    "command",
    [
        ("ask", "--json", TVERSKY_QUESTION.replace("common", f"com{NOT_UTF8}mon")),
        ("ask", f"What is {NOT_UTF8} grokking?"),
        ("papers", "--json", f"Tversky {NOT_UTF8}similarity"),
        ("summarize", "--json", f"similarity {NOT_UTF8}of features"),
    ],
    ids=["ask --json", "ask", "papers", "summarize"],
)
def test_text_that_is_not_utf8_is_repaired_with_a_note(
    run: Callable[..., Result], fixture_store: Path, command: tuple[str, ...]
) -> None:
    """Issue 18: `rag ask $'What is \\xff grokking?'` ended in a tokenizer's TypeError."""
    result = run("--store", fixture_store, *command, env={"RAG_MODE": "extractive"})

    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    assert result.stderr.splitlines()[0].startswith("note: removed bytes that are not UTF-8 from ")
    assert NOT_UTF8 not in result.stdout
    if "--json" in command:
        output = json.loads(result.stdout)
        if command[0] == "ask":
            assert output["question"] == TVERSKY_QUESTION and output["citations"][0]["title"].startswith("Tversky")


def test_a_question_of_nothing_but_bytes_that_are_not_utf8_fails_in_one_line(
    run: Callable[..., Result], fixture_store: Path
) -> None:
    result = run("--store", fixture_store, "ask", NOT_UTF8 * 3)

    assert result.exit_code == 1 and "Traceback" not in result.output
    note, error = result.stderr.strip().splitlines()
    assert note == "note: removed bytes that are not UTF-8 from question"
    assert error.startswith("Error: the question is empty") and error.endswith(")")


def test_a_path_that_is_not_utf8_is_used_as_given(
    run: Callable[..., Result], tmp_path: Path, fixture_corpus: Path
) -> None:
    """File names are bytes: one in Latin-1 (caf\xe9.txt) must still open, so paths are not repaired."""
    corpus = tmp_path / f"caf{chr(0xDCE9)}.txt"
    corpus.write_bytes(fixture_corpus.read_bytes())

    result = run("--store", tmp_path / "store", "ingest", "--check", "--json", corpus)

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["papers"] == 6 and result.stderr == ""


def test_missing_model_file_fails_with_one_line(run: Callable[..., Result], fixture_store: Path) -> None:
    line = one_line_error(run("--store", fixture_store, "ask", "--model-path", "/nonexistent.gguf", TVERSKY_QUESTION))
    assert "model file not found: /nonexistent.gguf" in line


def test_a_model_file_that_is_not_gguf_fails_with_one_line(
    run: Callable[..., Result], fixture_store: Path, tmp_path: Path
) -> None:
    fake_file = tmp_path / "model.gguf"
    fake_file.write_bytes(b"not a model at all")
    line = one_line_error(run("--store", fixture_store, "ask", "--model-path", fake_file, TVERSKY_QUESTION))
    assert "not a GGUF model file" in line


def test_invalid_setting_fails_with_one_line(run: Callable[..., Result], fixture_store: Path) -> None:
    line = one_line_error(
        run("--store", fixture_store, "ask", TVERSKY_QUESTION, env={"RAG_TOP_K": "0"}), with_fix=False
    )
    assert "invalid setting" in line and "top_k" in line


def test_a_store_path_that_is_a_file_fails_with_one_line(run: Callable[..., Result], tmp_path: Path) -> None:
    regular_file = tmp_path / "store"
    regular_file.write_text("")
    line = one_line_error(run("--store", regular_file, "info"))
    assert "not a folder" in line


def test_first_ask_on_an_empty_store_ingests_the_corpus(run: Callable[..., Result], tmp_path: Path) -> None:
    store_path = tmp_path / "store"
    result = run("--store", store_path, "ask", "--json", TVERSKY_QUESTION, env={"RAG_MODE": "extractive"})
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert answer["refused"] is False
    assert answer["citations"][0]["title"].startswith("Tversky")
    assert len(Store(store_path, "papers").papers()) == 6


def test_ask_answers_a_summary_request_with_a_summary(run: Callable[..., Result], fixture_store: Path) -> None:
    result = run("--store", fixture_store, "ask", "--mode", "extractive", SUMMARY_REQUEST)
    assert result.exit_code == 0, result.output
    assert re.match(r'\d+ papers? in the collection match(?:es)? "grokking"', result.stdout)
    assert "**Sources**" in result.stdout and "Grokking" in result.stdout
    assert "\nSources:" not in result.stdout  # a summary lists its sources itself

    as_json = run("--store", fixture_store, "ask", "--mode", "extractive", "--json", SUMMARY_REQUEST)
    assert as_json.exit_code == 0, as_json.output
    answer = json.loads(as_json.stdout)
    assert answer["kind"] == "summary" and answer["refused"] is False
    assert any(c["title"].startswith("Grokking") for c in answer["citations"])


# ---- papers ------------------------------------------------------------------------------------


def test_papers_lists_every_paper_with_its_id_by_title(
    run: Callable[..., Result], fixture_store: Path, fixture_papers: list[Any]
) -> None:
    result = run("--store", fixture_store, "papers")
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    expected = sorted(fixture_papers, key=lambda p: p.title)
    assert lines == [f"{p.paper_id}  {p.title}" for p in expected]
    assert len(run("--store", fixture_store, "papers", "-n", "2").stdout.strip().splitlines()) == 2


def test_papers_with_a_query_ranks_the_closest_first(run: Callable[..., Result], fixture_store: Path) -> None:
    result = run("--store", fixture_store, "papers", "--json", "-n", "3", "triplet network metric learning")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert len(rows) == 3 and rows[0]["title"] == TRIPLET
    assert set(rows[0]) == {"paper_id", "title", "score"}
    scores = [r["score"] for r in rows]
    assert scores == sorted(scores, reverse=True)


# ---- serve -------------------------------------------------------------------------------------


def test_serve_help_names_the_routes_and_the_defaults(run: Callable[..., Result]) -> None:
    result = run("serve", "--help")

    assert result.exit_code == 0
    assert "/v1/chat/completions" in result.output and "127.0.0.1" in result.output


def test_serve_with_a_missing_model_fails_in_one_line(run: Callable[..., Result], tmp_path: Path) -> None:
    result = run("--store", tmp_path / "store", "serve", "--model-path", tmp_path / "none.gguf")

    assert result.exit_code == 1
    assert "model file not found" in result.output
    assert "Traceback" not in result.output


def test_serve_rejects_a_bad_port(run: Callable[..., Result]) -> None:
    result = run("serve", "--port", "70000")

    assert result.exit_code == 2 and "70000" in result.output


# ---- startup: help and argument errors import none of the heavy libraries ------------------------
# Each check runs the real entry point in a fresh interpreter under `python -X importtime`, which
# lists every module the process imported, so a stray top-level import anywhere in `rag` fails it.

# What takes seconds to import (torch alone is ~2 s here); none of it is needed to print help.
HEAVY = ("torch", "transformers", "sentence_transformers", "chromadb", "llama_cpp", "numpy", "fastapi", "bm25s")


def _imported_modules(*args: str) -> tuple[set[str], subprocess.CompletedProcess[str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "from rag.cli import main; main()", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    # importtime lines: "import time: self [us] | cumulative | imported package"
    modules = {
        line.rsplit("|", 1)[1].strip()
        for line in done.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }
    return modules, done


@pytest.mark.parametrize(
    "args", [("--help",), ("ask", "--help"), ("ingest", "--help"), ("serve", "--help"), ("papers", "--help")]
)
def test_help_imports_no_heavy_library(args: tuple[str, ...]) -> None:
    modules, done = _imported_modules(*args)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Usage:" in done.stdout
    assert "click" in modules  # the measurement itself works
    heavy = sorted(m for m in modules if m.split(".")[0] in HEAVY)
    assert heavy == [], f"`rag {' '.join(args)}` imported {heavy[:10]}"


def test_a_usage_error_imports_no_heavy_library() -> None:
    modules, done = _imported_modules("ask")  # the QUESTION argument is missing
    assert done.returncode == 2
    assert not any(m.split(".")[0] in HEAVY for m in modules)
