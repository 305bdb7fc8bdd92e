"""GET /v1/models, GET /healthz, and the page with its static assets."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_models_lists_the_configured_model(client: TestClient) -> None:
    body = client.get("/v1/models").json()

    assert body == {
        "object": "list",
        "data": [{"id": "fake", "object": "model", "created": 0, "owned_by": "rag"}],
    }
    assert client.get("/v1/models/rag").json()["id"] == "fake"
    assert client.get("/v1/models/fake").status_code == 200
    unknown = client.get("/v1/models/gpt-4o")
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "model_not_found"


def test_health_reports_the_model_and_an_idle_queue(client: TestClient) -> None:
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "model": "fake",
        "generation": {"busy": False, "waiting": 0},
    }


def test_page_and_assets_are_served_with_a_strict_policy(client: TestClient) -> None:
    page = client.get("/")

    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "default-src 'none'" in policy
    assert '<script src="/static/app.js"' in page.text
    for asset, kind in [("/static/app.js", "javascript"), ("/static/style.css", "text/css")]:
        response = client.get(asset)
        assert response.status_code == 200 and kind in response.headers["content-type"]
    assert "innerHTML" not in client.get("/static/app.js").text


def test_cors_is_off(client: TestClient) -> None:
    origin = {"Origin": "http://elsewhere.example"}
    preflight = client.options("/v1/chat/completions", headers={**origin, "Access-Control-Request-Method": "POST"})
    simple = client.get("/v1/models", headers=origin)

    assert "access-control-allow-origin" not in preflight.headers
    assert "access-control-allow-origin" not in simple.headers
    assert preflight.status_code == 405 and preflight.json()["error"]["type"] == "invalid_request_error"


def test_openapi_documents_the_routes(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()

    for path in [
        "/v1/chat/completions",
        "/v1/ask",
        "/v1/papers",
        "/v1/papers/{paper_id}",
        "/v1/models",
        "/healthz",
    ]:
        assert path in spec["paths"], path
    assert spec["paths"]["/v1/chat/completions"]["post"]["description"]
