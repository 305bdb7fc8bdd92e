"""Real servers in child processes for the tests: a free loopback port, and a command run until
its readiness URL answers. Imported by name (`from servers import ...`): pytest's default
("prepend") import mode puts tests/ on sys.path, as the folder of tests/conftest.py.
"""

from __future__ import annotations

import shlex
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest


def free_socket() -> socket.socket:
    """A socket bound to a free 127.0.0.1 port, for a server to take over."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def free_port() -> int:
    with free_socket() as sock:
        return int(sock.getsockname()[1])


@contextmanager
def running(
    command: Sequence[str],
    ready_url: str,
    log_path: Path,
    *,
    timeout_s: float,
    env: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """`command` in a child process (its output to `log_path`) once `ready_url` answers 2xx; the
    test fails with the log's tail if the process exits or `timeout_s` passes first."""
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        try:
            deadline = time.monotonic() + timeout_s
            while True:
                try:
                    if httpx.get(ready_url, headers=headers, timeout=2).is_success:
                        break
                except httpx.HTTPError:
                    pass
                exit_code = process.poll()
                if exit_code is not None or time.monotonic() > deadline:
                    why = f"exited with {exit_code}" if exit_code is not None else f"not ready in {timeout_s:g}s"
                    pytest.fail(f"{shlex.join(command)} did not start ({why}):\n{log_path.read_text()[-3000:]}")
                time.sleep(0.25)
            yield process
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
