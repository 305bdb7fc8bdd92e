"""The optional API key: every route but /healthz and the page's assets needs it when set."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

KEY = "s3cret-key"
CHAT = {"model": "rag", "messages": [{"role": "user", "content": "What is grokking?"}]}
PROTECTED = [
    ("POST", "/v1/chat/completions", CHAT),
    ("POST", "/v1/ask", {"question": "What is grokking?", "mode": "extractive"}),
    ("GET", "/v1/papers", None),
    ("GET", "/v1/papers?q=triplet", None),
    ("GET", "/v1/papers/0000000000000000", None),
    ("GET", "/v1/models", None),
    ("GET", "/openapi.json", None),
]
OPEN = ["/healthz", "/", "/static/app.js", "/static/style.css"]


@pytest.fixture
def keyed(make_app: Callable[..., FastAPI]) -> Iterator[TestClient]:
    with TestClient(make_app(api_key=KEY)) as test_client:
        yield test_client


@pytest.mark.parametrize(("method", "path", "body"), PROTECTED)
@pytest.mark.parametrize(
    "header",
    [None, "Bearer wrong-key", f"Basic {KEY}", f"Bearer {KEY}x", "Bearer "],
    ids=["none", "wrong", "basic-scheme", "longer", "empty"],
)
def test_protected_routes_refuse_without_the_key(
    keyed: TestClient, method: str, path: str, body: object, header: str | None
) -> None:
    headers = {"Authorization": header} if header else {}

    response = keyed.request(method, path, json=body, headers=headers)

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    error = response.json()["error"]
    assert error["type"] == "authentication_error" and error["code"] == "invalid_api_key"


@pytest.mark.parametrize(("method", "path", "body"), PROTECTED)
def test_protected_routes_answer_with_the_key(keyed: TestClient, method: str, path: str, body: object) -> None:
    response = keyed.request(method, path, json=body, headers={"Authorization": f"Bearer {KEY}"})

    assert response.status_code in (200, 404)  # the made-up paper id is a 404, past auth


@pytest.mark.parametrize("path", OPEN)
def test_health_and_page_need_no_key(keyed: TestClient, path: str) -> None:
    assert keyed.get(path).status_code == 200


def test_auth_comes_before_validation(keyed: TestClient) -> None:
    response = keyed.post("/v1/chat/completions", json={"messages": "not a list"})

    assert response.status_code == 401


@pytest.mark.parametrize(("method", "path", "body"), PROTECTED)
def test_without_a_configured_key_no_header_is_needed(client: TestClient, method: str, path: str, body: object) -> None:
    assert client.request(method, path, json=body).status_code in (200, 404)
