"""`rag serve`: its help, and a bad setting reported in one line before any server starts."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from rag.cli import cli


def test_serve_help_names_the_routes_and_the_defaults() -> None:
    result = CliRunner().invoke(cli, ["serve", "--help"])

    assert result.exit_code == 0
    assert "/v1/chat/completions" in result.output and "127.0.0.1" in result.output


def test_serve_with_a_missing_model_fails_in_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli,
        ["--store", str(tmp_path / "store"), "serve", "--model-path", str(tmp_path / "none.gguf")],
    )

    assert result.exit_code == 1
    assert "model file not found" in result.output
    assert "Traceback" not in result.output


def test_serve_rejects_a_bad_port() -> None:
    result = CliRunner().invoke(cli, ["serve", "--port", "70000"])

    assert result.exit_code == 2 and "70000" in result.output
