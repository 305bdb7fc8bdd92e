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


def test_the_page_by_its_file_name_has_the_same_policy(client: TestClient) -> None:
    page = client.get("/")

    for path in ["/static/index.html", "/static/app.js", "/static/style.css"]:
        response = client.get(path)
        assert response.status_code == 200
        for header in ["content-security-policy", "x-content-type-options", "referrer-policy"]:
            assert response.headers[header] == page.headers[header], (path, header)
    assert "frame-ancestors 'none'" in client.get("/static/index.html").headers["content-security-policy"]


def test_head_answers_where_get_does(client: TestClient) -> None:
    for path in ["/", "/healthz", "/static/app.js"]:
        response = client.head(path)
        assert response.status_code == 200, path
        assert response.content == b""
    assert "content-security-policy" in client.head("/").headers


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
