"""GET /v1/models and GET /v1/models/{id}: the configured model, also under the alias "rag"."""

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
