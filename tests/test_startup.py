"""The CLI starts fast: help and argument errors import none of the heavy libraries.

Each check runs the real entry point in a fresh interpreter under `python -X importtime`, which
lists every module the process imported, so a stray top-level import anywhere in `rag` fails it.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

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


@pytest.mark.parametrize("args", [("--help",), ("ask", "--help"), ("ingest", "--help"), ("serve", "--help")])
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
