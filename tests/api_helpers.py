"""What the API tests share besides fixtures: the corpus's titles, a scripted model, a real
uvicorn in a thread, and an SSE parser. Imported by name (`from api_helpers import ...`).
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

import re  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from collections.abc import Iterator, Sequence  # noqa: E402
from contextlib import contextmanager  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import uvicorn  # noqa: E402
from fastapi import FastAPI  # noqa: E402
from servers import free_socket  # noqa: E402

from rag.chunking import split_sentences  # noqa: E402
from rag.constrain import Constraint  # noqa: E402
from rag.generation import FakeGenerator, Message  # noqa: E402

API_CORPUS = Path(__file__).resolve().parent / "api" / "fixtures" / "papers.txt"
GROKKING = "Grokking: Generalization Beyond Overfitting on Small Algorithmic Datasets"
TVERSKY = "Tversky Neural Networks: Psychologically Plausible Deep Learning with Differentiable Tversky Similarity"
TRIPLET = "Deep metric learning using Triplet network"
PLANTED = (
    'Zebrafish Swim Gait Tracking <img src=x onerror="window.__pwned=1"> with '
    "<script>window.__pwned=2</script> Pose Graphs"
)
PAPERS_IN_CORPUS = 7

_SOURCE = re.compile(r"^\[(\d+)\] (.+)\n(.+)$", re.M)


def prompt_sources(messages: Sequence[Message]) -> dict[int, list[str]]:
    """The numbered sources of a rendered answer prompt: {n: sentences}."""
    user = messages[-1]["content"]
    return {int(m.group(1)): split_sentences(m.group(3)) for m in _SOURCE.finditer(user)}


def quote_first_source(messages: Sequence[Message]) -> str:
    """A model that quotes source [1]'s first two sentences, cited: always supported."""
    sentences = prompt_sources(messages).get(1, [])[:2]
    return " ".join(f"{s.rstrip('.')}. [1]" for s in sentences)


def quote_every_source(messages: Sequence[Message]) -> str:
    """A long answer: every sentence of every source, each cited."""
    return " ".join(f"{s.rstrip('.')}. [{n}]" for n, sentences in prompt_sources(messages).items() for s in sentences)


class ScriptedModel(FakeGenerator):
    """The library's fake model, with timing knobs: a pause before the first token and between
    tokens, and counters of what it produced."""

    def __init__(self) -> None:
        super().__init__(quote_first_source, name="fake")
        self.reset()

    def reset(self) -> None:
        self.reply = quote_first_source
        self.first_token_delay_s = 0.0
        self.token_delay_s = 0.0
        self.tokens_sent = 0
        self.tokens_planned = 0
        self.calls.clear()
        self.running = threading.Event()

    def stream(
        self, messages: Sequence[Message], max_tokens: int, constraint: Constraint | None = None
    ) -> Iterator[str]:
        text = self.reply(messages) if callable(self.reply) else self.reply
        self.tokens_planned = len(re.findall(r"\S+\s*", text)[:max_tokens])
        self.running.set()
        time.sleep(self.first_token_delay_s)
        for piece in super().stream(messages, max_tokens, constraint):
            if self.token_delay_s:
                time.sleep(self.token_delay_s)
            self.tokens_sent += 1
            yield piece


@contextmanager
def serve_in_thread(app: FastAPI) -> Iterator[str]:
    """The app under a real uvicorn on 127.0.0.1 (a free port), in a thread; yields its URL."""
    sock = free_socket()
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="on", timeout_graceful_shutdown=2)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()


def sse_events(text: str) -> list[Any]:
    """The `data:` payloads of a server-sent event stream: parsed JSON, or the string [DONE]."""
    import json

    out: list[Any] = []
    for block in text.split("\n\n"):
        for line in block.splitlines():
            if line.startswith("data:"):
                data = line[5:].strip()
                out.append(data if data == "[DONE]" else json.loads(data))
    return out
