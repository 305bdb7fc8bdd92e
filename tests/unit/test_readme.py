"""The README is the front door: at most 12 KB, and everything it names exists (the docs pages,
the settings, the commands), so a rename breaks a test and not a reader."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner

from rag.cli import cli

PROJECT = Path(__file__).resolve().parents[2]
README = (PROJECT / "README.md").read_text(encoding="utf-8")


def test_the_readme_fits_in_12_kb() -> None:
    assert len(README.encode("utf-8")) <= 12 * 1024


def test_every_page_and_file_it_names_exists() -> None:
    named = set(re.findall(r"\b((?:docs|eval|benchmarks|scripts|rag)/[\w./-]+\.(?:md|py|jsonl))\b", README))
    named -= {"eval/sets/SET.jsonl"}  # a placeholder in a command
    assert named, "the README names no file: the pattern is wrong"
    assert [n for n in sorted(named) if not (PROJECT / n).is_file()] == []


def test_every_setting_it_names_is_a_setting() -> None:
    documented = (PROJECT / "docs" / "configuration.md").read_text(encoding="utf-8")
    named = set(re.findall(r"\bRAG_[A-Z_]+[A-Z]\b", README))
    assert named
    assert [n for n in sorted(named) if f"`{n}`" not in documented] == []


def test_every_command_it_names_exists() -> None:
    named = set(re.findall(r"`rag ([a-z]+)\b", README))
    assert {"ask", "summarize", "serve"} <= named
    runner = CliRunner()
    for command in sorted(named):
        result = runner.invoke(cli, [command, "--help"])
        assert result.exit_code == 0, f"rag {command}: {result.output}"
