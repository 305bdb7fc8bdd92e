"""Every folder of code is linted (ruff check and ruff format), so `make test`, which CI runs,
fails on what `make lint` would report. mypy stays in `make lint`: a cold run takes minutes."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[2]
# the docs too: ruff formats the Python blocks of Markdown files, which users copy
CODE = ["rag", "tests", "benchmarks", "scripts", "eval", "docs", "README.md"]


@pytest.mark.parametrize("command", [["check"], ["format", "--check"]], ids=["check", "format"])
def test_ruff_is_clean(command: list[str]) -> None:
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    assert ruff, "ruff is a test dependency: pip install -e '.[test]'"
    done = subprocess.run([ruff, *command, *CODE], cwd=PROJECT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
