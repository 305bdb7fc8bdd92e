"""GET /healthz, the page with its static assets, and the OpenAPI document."""

from __future__ import annotations

from fastapi.testclient import TestClient

from rag.settings import Settings


def test_health_reports_the_model_the_store_and_an_idle_queue(client: TestClient, api_settings: Settings) -> None:
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "model": "fake",
        "store_id": api_settings.store_id(),
        "generation": {"busy": False, "waiting": 0},
    }
    assert str(api_settings.store.store_path) not in response.text  # an id, not the server's folders


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
