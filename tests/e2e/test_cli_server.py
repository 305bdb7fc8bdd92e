"""`rag ask` and `rag summarize` through a real `rag serve` on 127.0.0.1, against the same
commands answered in-process (`--local`), over the same store.

The server is a child process (`rag serve`, extractive mode so that no model loads) over the
session's fixture store, with an API key; the commands run through click's CliRunner in this
process, as `rag` would. Answers must be equal field for field, timings aside.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import one_line_error
from click.testing import Result
from servers import free_port, running

TVERSKY_QUESTION = "Which paper models similarity as a function of common and distinctive features?"
OFF_TOPIC_QUESTION = "Who wrote the novel Pride and Prejudice?"
SUMMARY_REQUEST = "Summarize what the collection says about grokking"
KEY = "cli-test-key"
# what a cold process loads and a command answered by the server must not
HEAVY = ("torch", "transformers", "sentence_transformers", "chromadb", "llama_cpp", "numpy", "bm25s")
# not heavy, but 0.17 and 0.08 s of CPU that the client's path does without (30 Nov)
CLIENT_NEEDS_NOT = ("httpx", "pydantic_settings")


@pytest.fixture(scope="module")
def server_url(fixture_store: Path, fixture_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`rag serve` over the fixture store (extractive, with an API key) on a free port."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env.update(RAG_MODE="extractive", RAG_API_KEY=KEY, RAG_CORPUS_PATH=str(fixture_corpus), HF_HUB_OFFLINE="1")
    command = [sys.executable, "-c", "from rag.cli import main; main()", "--store", str(fixture_store)]
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    url = f"http://127.0.0.1:{port}"
    with running([*command, "serve", "--port", str(port)], f"{url}/healthz", log, timeout_s=600, env=env):
        yield url


def through(server_url: str) -> dict[str, str]:
    return {"RAG_SERVER_URL": server_url, "RAG_API_KEY": KEY}


def answered(run: Callable[..., Result], *args: str | Path, env: dict[str, str]) -> tuple[dict[str, Any], str]:
    """The --json output (timings left out: they differ from run to run) and stderr."""
    result = run(*args, env=env)
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    data.pop("timings", None)
    return data, result.stderr


@pytest.mark.parametrize("question", [TVERSKY_QUESTION, OFF_TOPIC_QUESTION, SUMMARY_REQUEST])
def test_ask_through_the_server_equals_ask_in_process(
    run: Callable[..., Result], fixture_store: Path, server_url: str, question: str
) -> None:
    args = ("--store", fixture_store, "ask", "--json", "--mode", "extractive", "-k", "4", question)

    remote, remote_err = answered(run, *args, env=through(server_url))
    local, local_err = answered(run, *args, "--local", env=through(server_url))

    assert remote.pop("answered_by") == server_url
    assert local.pop("answered_by") == "in-process"
    assert remote == local
    assert remote_err.strip().endswith(f"(answered by rag serve at {server_url})")
    assert local_err.strip().endswith("(answered in-process: --local)")
    assert len(local["retrieved"]) == 4 or local["kind"] == "summary"  # -k reached the server too


def test_the_text_output_is_the_same_either_way(
    run: Callable[..., Result], fixture_store: Path, server_url: str
) -> None:
    args = ("--store", fixture_store, "ask", "--mode", "extractive", "--evidence", TVERSKY_QUESTION)

    remote = run(*args, env=through(server_url))
    local = run(*args, "--local", env=through(server_url))

    assert remote.exit_code == local.exit_code == 0, remote.output + local.output
    assert remote.stdout == local.stdout
    assert "\nSources:\n  [1] Tversky" in remote.stdout and "\nEvidence:\n" in remote.stdout


def test_summarize_through_the_server_equals_summarize_in_process(
    run: Callable[..., Result], fixture_store: Path, server_url: str
) -> None:
    args = ("--store", fixture_store, "summarize", "--json", "--mode", "extractive", "grokking")

    remote, remote_err = answered(run, *args, env=through(server_url))
    local, _ = answered(run, *args, "--local", env=through(server_url))

    assert (remote.pop("answered_by"), local.pop("answered_by")) == (server_url, "in-process")
    assert remote == local and remote["refused"] is False
    assert f"(answered by rag serve at {server_url})" in remote_err


def test_a_server_of_another_store_is_not_used(run: Callable[..., Result], store_of_six: Path, server_url: str) -> None:
    data, stderr = answered(
        run, "--store", store_of_six, "ask", "--json", "--mode", "extractive", TVERSKY_QUESTION, env=through(server_url)
    )

    assert data["answered_by"] == "in-process" and data["refused"] is False
    assert f"(answered in-process: rag serve at {server_url} serves another store)" in stderr


def test_a_server_with_another_model_is_not_used_for_generation(
    run: Callable[..., Result], fixture_store: Path, server_url: str, tmp_path: Path
) -> None:
    other = tmp_path / "other.gguf"  # never loaded: the question is refused before any model runs
    data, stderr = answered(
        run,
        "--store",
        fixture_store,
        "ask",
        "--json",
        "--mode",
        "generative",
        "--model-path",
        other,
        OFF_TOPIC_QUESTION,
        env=through(server_url),
    )

    assert data["answered_by"] == "in-process" and data["refused"] is True
    assert "not other.gguf" in stderr


def test_no_server_at_the_url_means_in_process_without_a_note(run: Callable[..., Result], fixture_store: Path) -> None:
    nobody = f"http://127.0.0.1:{free_port()}"
    data, stderr = answered(
        run, "--store", fixture_store, "ask", "--json", "--mode", "extractive", TVERSKY_QUESTION,
        env={"RAG_SERVER_URL": nobody},
    )  # fmt: skip

    assert data["answered_by"] == "in-process"
    assert stderr.strip().splitlines()[-1] == "(answered in-process)"


def test_a_wrong_api_key_is_one_line_with_the_fix(
    run: Callable[..., Result], fixture_store: Path, server_url: str
) -> None:
    result = run(
        "--store", fixture_store, "ask", "--mode", "extractive", TVERSKY_QUESTION,
        env={"RAG_SERVER_URL": server_url, "RAG_API_KEY": "wrong"},
    )  # fmt: skip

    line = one_line_error(result)
    assert f"rag serve at {server_url} refused the request" in line and "(set RAG_API_KEY" in line


def test_a_paper_the_server_does_not_hold_is_the_same_error_either_way(
    run: Callable[..., Result], fixture_store: Path, server_url: str
) -> None:
    args = ("--store", fixture_store, "summarize", "--mode", "extractive", "--paper", "No such paper at all")

    remote = one_line_error(run(*args, env=through(server_url)), with_fix=False)
    local = one_line_error(run(*args, "--local", env=through(server_url)), with_fix=False)

    assert remote == local


def ask_with_importtime(**env_vars: str) -> tuple[dict[str, Any], set[str]]:
    """`rag ask --json --mode extractive` in a fresh process under `-X importtime`: the answer
    and every module the process imported."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env.update(env_vars)
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "from rag.cli import main; main()"]
        + ["ask", "--json", "--mode", "extractive", TVERSKY_QUESTION],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    modules = {line.rsplit("|", 1)[1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}
    return json.loads(done.stdout), modules


def test_ask_through_the_server_imports_no_heavy_library(fixture_store: Path, server_url: str) -> None:
    answer, modules = ask_with_importtime(RAG_STORE_PATH=str(fixture_store), **through(server_url))

    assert answer["answered_by"] == server_url
    assert "http.client" in modules  # the measurement itself works
    heavy = sorted(m for m in modules if m.split(".")[0] in HEAVY + CLIENT_NEEDS_NOT)
    assert heavy == [], f"`rag ask` through the server imported {heavy[:10]}"


def test_ask_in_process_does_not_import_torch(fixture_store: Path) -> None:
    # torch and sentence-transformers were 9 of a cold ask's 15 CPU seconds; the question is
    # embedded in numpy (rag.bert), and torch is for bulk work only
    answer, modules = ask_with_importtime(RAG_STORE_PATH=str(fixture_store), RAG_SERVER_URL="off", HF_HUB_OFFLINE="1")

    assert answer["refused"] is False and answer["citations"]
    assert "chromadb" in modules  # it did answer in this process
    torch_family = sorted(m for m in modules if m.split(".")[0] in ("torch", "transformers", "sentence_transformers"))
    assert torch_family == [], f"an in-process `rag ask` imported {torch_family[:10]}"
