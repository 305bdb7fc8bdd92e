"""The command line's client of a running `rag serve`: `rag ask` and `rag summarize` use it when
one answers at `RAG_SERVER_URL`, so a question costs an HTTP round trip instead of loading the
embedder, the store and the model.

    connect(settings)  ->  Server | None, and why not
        GET /healthz         is it up, which store does it serve, which model
    Server.ask           POST /v1/ask          the answer as `rag ask --json` prints it
    Server.summarize     POST /v1/summaries    the summary as `rag summarize --json` prints it

A server is used only when it serves the store the command would read (`Settings.store_id`),
and, when the command names a model (`--model-path`, `RAG_MODEL_PATH`, `RAG_LLM_BASE_URL`),
that model: otherwise the command answers in-process and says why. The command sends its own
`k` and `mode`, so those options mean the same either way; every other setting is the server's.

The server's errors come back as the project's errors (`rag.errors`), the same one line with its
fix that the in-process path prints. This module imports neither numpy nor any model library,
nor httpx: the standard library's http.client is enough for one keep-alive connection to one
server, and importing httpx cost the command 0.17 s of CPU (30 Nov), a fifth of its share of a
warm-server answer. So the whole path costs the interpreter, click and pydantic.
"""

from __future__ import annotations

import http.client
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from rag.errors import BusyError, ConfigError, NotFoundError, QuestionError, RagError, StoreError
from rag.settings import Settings

log = logging.getLogger(__name__)

# Connecting to a server on this machine takes well under a millisecond and a refused port
# fails at once; the limit matters only for a remote RAG_SERVER_URL whose host drops packets,
# where it bounds what a missing server costs before the command answers in-process.
CONNECT_TIMEOUT_S = 0.3
# /healthz touches neither store nor model, so a server slower than this is not one to use.
HEALTH_TIMEOUT_S = 2.0
# An answer waits for the model queue (RAG_QUEUE_TIMEOUT_S, 30 s by default) and then generates;
# a summary generates a key point per paper. The server bounds both; this only stops a hang.
ANSWER_TIMEOUT_S = 600.0


@dataclass(frozen=True)
class Reply:
    """One HTTP response, read whole."""

    status: int
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    reason: str = ""

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.body)


class Connection:
    """One keep-alive HTTP connection to a server URL (http or https, with an optional path)."""

    def __init__(self, url: str, api_key: str | None) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"RAG_SERVER_URL is not an http(s) URL: {url}", fix="set it like http://127.0.0.1:8000")
        self.url = url
        self._prefix = parts.path.rstrip("/")
        self._headers = {"Accept": "application/json"} | ({"Authorization": f"Bearer {api_key}"} if api_key else {})
        if parts.scheme == "https":
            import ssl  # only here: building a verifying context loads the CA bundle (40-100 ms)

            self._http: http.client.HTTPConnection = http.client.HTTPSConnection(
                parts.hostname, parts.port, timeout=CONNECT_TIMEOUT_S, context=ssl.create_default_context()
            )
        else:
            self._http = http.client.HTTPConnection(parts.hostname, parts.port, timeout=CONNECT_TIMEOUT_S)

    def request(self, method: str, path: str, body: dict[str, Any] | None, timeout_s: float) -> Reply:
        """The server's reply; OSError or http.client.HTTPException when there is none."""
        if self._http.sock is None:
            self._http.connect()  # within CONNECT_TIMEOUT_S
        assert self._http.sock is not None
        self._http.sock.settimeout(timeout_s)
        headers = dict(self._headers)
        data = None
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        self._http.request(method, self._prefix + path, body=data, headers=headers)
        response = self._http.getresponse()
        return Reply(response.status, response.read(), dict(response.getheaders()), response.reason)

    def close(self) -> None:
        self._http.close()


@dataclass(frozen=True)
class Probe:
    """What asking for a server found: the server to use, or why none is used (for a note)."""

    server: Server | None
    why_not: str | None = None


class Server:
    """A running `rag serve` that serves the command's store."""

    def __init__(self, url: str, connection: Connection, model: str) -> None:
        self.url = url
        self.model = model
        self._connection = connection

    def close(self) -> None:
        self._connection.close()

    def ask(self, question: str, k: int, mode: str) -> dict[str, Any]:
        """The answer, as `rag ask --json` prints it (POST /v1/ask)."""
        return self._post("/v1/ask", {"question": question, "k": k, "mode": mode})

    def summarize(self, topic: str | None, papers: list[str], mode: str) -> dict[str, Any]:
        """The summary, as `rag summarize --json` prints it (POST /v1/summaries)."""
        return self._post("/v1/summaries", {"topic": topic, "papers": papers, "mode": mode})

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            reply = self._connection.request("POST", path, body, ANSWER_TIMEOUT_S)
        except (OSError, http.client.HTTPException) as e:
            raise RagError(
                f"rag serve at {self.url} stopped answering: {e or type(e).__name__}",
                fix="try again, or pass --local to answer without it",
            ) from e
        if reply.status != 200:
            raise server_error(self.url, reply)
        try:
            data = reply.json()
        except ValueError as e:
            raise RagError(
                f"{self.url}{path} answered something that is not JSON",
                fix="check that RAG_SERVER_URL points at `rag serve`, or pass --local",
            ) from e
        if not isinstance(data, dict):
            raise RagError(
                f"{self.url}{path} answered something that is not an answer",
                fix="check that RAG_SERVER_URL points at `rag serve`, or pass --local",
            )
        return data


def server_error(url: str, reply: Reply) -> RagError:
    """The project's error for a server's error response (OpenAI's shape, `{"error": {...}}`).
    The server's message already ends with its fix when it has one, as the CLI prints it."""
    try:
        detail = reply.json().get("error") or {}
        message = str(detail.get("message") or reply.text)
    except (ValueError, AttributeError):
        detail, message = {}, reply.text[:300] or reply.reason
    status = reply.status
    if status in (429, 503) and detail.get("code") != "store_unavailable":
        wait = {k.casefold(): v for k, v in reply.headers.items()}.get("retry-after")
        return BusyError(
            f"rag serve at {url} is busy: {message}",
            fix=f"try again{f' in {wait} s' if wait else ''}, or pass --local to answer without it",
        )
    if status in (401, 403):
        return ConfigError(
            f"rag serve at {url} refused the request: {message}", fix="set RAG_API_KEY to the server's key"
        )
    if status in (400, 413, 422):
        return QuestionError(message)  # the question itself, as the in-process check says it
    if status == 404:
        return NotFoundError(message)
    if status == 503:
        return StoreError(f"rag serve at {url}: {message}")
    return RagError(
        f"rag serve at {url} failed ({status}): {message}",
        fix="see the server's log, or pass --local to answer without it",
    )


def _named_model(settings: Settings) -> str | None:
    """The model the command was told to use, or None when it would load the default one."""
    g = settings.generation
    return settings.model_name() if (g.model_path is not None or g.llm_base_url) else None


def connect(settings: Settings, mode: str) -> Probe:
    """The running server to use for a command in `mode`, or why none is used. A server that
    does not answer is no error: the command answers in-process."""
    url = settings.interface.server_url
    if url is None:
        return Probe(None, "RAG_SERVER_URL is off")
    try:
        connection = Connection(url, settings.server.api_key)
    except ConfigError as e:
        return Probe(None, str(e))
    try:
        reply = connection.request("GET", "/healthz", None, HEALTH_TIMEOUT_S)
        health: Any = reply.json() if reply.status == 200 else None
    except (OSError, http.client.HTTPException, ValueError) as e:
        connection.close()
        log.info("no rag serve at %s: %s", url, e)
        return Probe(None)  # nothing listening: the usual case, not worth a note
    why_not = _unusable(health, url, settings, mode)
    if why_not is not None:
        connection.close()
        return Probe(None, why_not)
    return Probe(Server(url, connection, str(health.get("model", ""))))


def _unusable(health: Any, url: str, settings: Settings, mode: str) -> str | None:
    """Why the server whose /healthz said `health` is not one to use, or None when it is."""
    if not isinstance(health, dict) or health.get("status") != "ok":
        return f"{url} does not answer like rag serve"
    if "store_id" not in health:
        return f"rag serve at {url} does not say which store it serves (an older version)"
    if health["store_id"] != settings.store_id():
        return f"rag serve at {url} serves another store"
    named = _named_model(settings)
    model = str(health.get("model", ""))
    if mode == "generative" and named is not None and named != model:
        return f"rag serve at {url} runs {model}, not {named}"
    return None
