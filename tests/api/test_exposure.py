"""The defaults that limit exposure: `rag serve` binds 127.0.0.1, the API sends no CORS headers
(so a page on another origin cannot read it), and request bodies are capped."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from fastapi.testclient import TestClient

from rag.api.middleware import MAX_BODY_BYTES


def test_serve_binds_loopback_by_default(
    run: Callable[..., Result], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    bound: dict[str, Any] = {}
    monkeypatch.setattr("uvicorn.run", lambda app, **kwargs: bound.update(kwargs))

    result = run("--store", tmp_path / "store", "serve", env={"RAG_MODE": "extractive"})

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


def test_cors_is_off(client: TestClient) -> None:
    origin = {"Origin": "http://elsewhere.example"}
    preflight = client.options("/v1/chat/completions", headers={**origin, "Access-Control-Request-Method": "POST"})
    simple = client.get("/v1/models", headers=origin)

    assert "access-control-allow-origin" not in preflight.headers
    assert "access-control-allow-origin" not in simple.headers
    assert preflight.status_code == 405 and preflight.json()["error"]["type"] == "invalid_request_error"
