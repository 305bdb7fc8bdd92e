"""What the command-line tests share besides the `run` fixture (tests/conftest.py). Imported by
name (`from cli_helpers import ...`), as tests/ is on sys.path like for servers.py."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from click.testing import Result


def one_line_error(result: Result, with_fix: bool = True) -> str:
    """A failure is exit status 1 with one line on stderr, and no traceback; the line ends with
    the fix in parentheses unless `with_fix` is false."""
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), result.exception  # not an uncaught error
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: "), lines[0]
    assert lines[0].endswith(")") or not with_fix, lines[0]  # "... (the fix)"
    return lines[0]


def ask_json(
    run: Callable[..., Result], store: Path, question: str, env: dict[str, str] | None = None
) -> dict[str, Any]:
    """`rag ask --mode extractive --json QUESTION` over `store`, which must succeed."""
    result = run("--store", store, "ask", "--mode", "extractive", "--json", question, env=env)
    assert result.exit_code == 0, result.output
    answer: dict[str, Any] = json.loads(result.stdout)
    return answer
