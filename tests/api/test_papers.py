"""GET /v1/papers (list and search) and GET /v1/papers/{id}."""

from __future__ import annotations

from api_helpers import PAPERS_IN_CORPUS, TRIPLET
from fastapi.testclient import TestClient


def test_list_pages_through_the_collection_in_title_order(client: TestClient) -> None:
    everything = client.get("/v1/papers", params={"limit": 100}).json()
    assert everything["object"] == "list" and everything["total"] == PAPERS_IN_CORPUS
    titles = [p["title"] for p in everything["data"]]
    assert titles == sorted(titles, key=str.casefold)

    page = client.get("/v1/papers", params={"limit": 2, "offset": 3}).json()

    assert [p["title"] for p in page["data"]] == titles[3:5]
    assert page["limit"] == 2 and page["offset"] == 3
    assert set(page["data"][0]) >= {"id", "title", "abstract", "url", "year", "authors"}


def test_search_ranks_the_matching_paper_first(client: TestClient) -> None:
    response = client.get("/v1/papers", params={"q": "triplet network metric learning", "limit": 3})

    assert response.status_code == 200
    body = response.json()
    assert body["query"] == "triplet network metric learning" and body["total"] is None
    assert body["data"][0]["title"] == TRIPLET
    scores = [p["score"] for p in body["data"]]
    assert scores == sorted(scores, reverse=True) and len(scores) == 3


def test_search_offset_skips_the_best_hits(client: TestClient) -> None:
    first_two = client.get("/v1/papers", params={"q": "neural networks", "limit": 2}).json()["data"]
    second = client.get("/v1/papers", params={"q": "neural networks", "limit": 1, "offset": 1}).json()["data"]

    assert second[0]["id"] == first_two[1]["id"]


def test_get_one_paper_and_a_missing_one(client: TestClient) -> None:
    listed = client.get("/v1/papers", params={"limit": 1}).json()["data"][0]

    found = client.get(f"/v1/papers/{listed['id']}")
    missing = client.get("/v1/papers/0000000000000000")

    assert found.status_code == 200 and found.json() == listed
    assert missing.status_code == 404
    assert missing.json()["error"]["type"] == "not_found_error"
