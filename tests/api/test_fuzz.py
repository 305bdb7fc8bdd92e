"""The API under generated and hostile input.

schemathesis reads the app's own OpenAPI schema and sends each operation a bounded number of
generated requests (valid and invalid), in process through ASGI, against the real service (real
embedder and store; the scripted model). No request may get a 5xx. Beside it, the defaults
that limit exposure: the server binds 127.0.0.1, sends no CORS headers, and caps request bodies.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import schemathesis
from api_helpers import ScriptedModel
from click.testing import CliRunner
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from rag.api import create_app
from rag.api.middleware import MAX_BODY_BYTES
from rag.cli import cli
from rag.service import RagService
from rag.settings import Settings

MAX_EXAMPLES = 25  # per operation: about 150 requests in all, well under a minute

# The schema comes from an app that never starts (building it loads nothing); the requests go to
# the session's app over the real service. (schemathesis' `from_fixture` does not run on pytest 9.)
schema = schemathesis.openapi.from_dict(create_app(Settings()).openapi())


@pytest.fixture(scope="module")
def fuzzed_app(api_settings: Settings, api_service: RagService, scripted_model: ScriptedModel) -> FastAPI:
    scripted_model.reset()
    return create_app(api_settings, api_service)


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,  # the same requests on every run: a failure in CI reproduces locally
    suppress_health_check=list(HealthCheck),
)
def test_no_generated_request_gets_a_server_error(case: Any, fuzzed_app: FastAPI) -> None:
    case.call_and_validate(app=fuzzed_app, checks=[not_a_server_error])


# ---- the defaults that limit exposure -----------------------------------------------------------


def test_serve_binds_loopback_by_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    bound: dict[str, Any] = {}
    monkeypatch.setattr("uvicorn.run", lambda app, **kwargs: bound.update(kwargs))

    result = CliRunner().invoke(cli, ["--store", str(tmp_path / "store"), "serve"], env={"RAG_MODE": "extractive"})

    assert result.exit_code == 0, result.output
    assert (bound["host"], bound["port"]) == ("127.0.0.1", 8000)
    assert "warning" not in result.output


def test_no_cors_headers_even_for_a_page_on_another_origin(client: TestClient) -> None:
    origin = {"Origin": "https://evil.example"}
    preflight = client.options("/v1/ask", headers={**origin, "Access-Control-Request-Method": "POST"})
    search = client.get("/v1/papers", params={"q": "grokking"}, headers=origin)

    assert search.status_code == 200
    for response in (preflight, search):
        assert not any(h.lower().startswith("access-control-") for h in response.headers)


@pytest.mark.parametrize("route", ["/v1/ask", "/v1/chat/completions"])
def test_bodies_over_256_kib_are_refused_before_the_route_reads_them(client: TestClient, route: str) -> None:
    assert MAX_BODY_BYTES == 256 * 1024
    question = "What is grokking? "
    just_under = b'{"question": "' + b"x" * (MAX_BODY_BYTES - 100) + b'"}'

    over = client.post(route, content=b" " * (MAX_BODY_BYTES + 1), headers={"content-type": "application/json"})
    under = client.post(route, content=just_under, headers={"content-type": "application/json"})

    assert over.status_code == 413 and over.json()["error"]["code"] == "request_too_large"
    assert under.status_code == 400  # read and judged by the route: too long a question, not too big a body
    assert client.post("/v1/ask", json={"question": question, "mode": "extractive"}).status_code == 200
