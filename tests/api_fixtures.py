"""Fixtures for the HTTP API, shared by tests/api and tests/e2e (a plugin of tests/conftest.py):
one real service for the session (real embedder, real Chroma in a tmp folder, the API corpus:
the fixture papers plus a planted paper whose title and abstract carry HTML), a scripted model
behind the real generator interface, and the app under a real uvicorn on 127.0.0.1.
tests/api/conftest.py adds the in-process TestClient.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from api_helpers import API_CORPUS, PAPERS_IN_CORPUS, ScriptedModel, serve_in_thread
from fastapi import FastAPI

from rag.api import create_app
from rag.api.model_queue import StoppableGenerator
from rag.embedding import Embedder
from rag.service import RagService
from rag.settings import Settings


@pytest.fixture(scope="session")
def api_corpus() -> Path:
    return API_CORPUS


@pytest.fixture(scope="session")
def scripted_model() -> ScriptedModel:
    return ScriptedModel()


@pytest.fixture(scope="session")
def api_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("api-store") / "store"


def settings_for(store: Path, **overrides: Any) -> Settings:
    """The API's settings over `store`, with `overrides` (flat names: `api_key=...`). The scripted
    models quote the sentences they are shown, so they are shown three, not the default one."""
    return Settings(
        **{"store_path": store, "corpus_path": API_CORPUS, "queue_timeout_s": 10.0, "prompt_sentences": 3, **overrides}
    )


@pytest.fixture(scope="session")
def api_settings(api_store: Path) -> Settings:
    return settings_for(api_store)


@pytest.fixture(scope="session")
def api_service(api_settings: Settings, scripted_model: ScriptedModel, embedder: Embedder) -> RagService:
    """The real pipeline over the API corpus, ingested once, with the session's embedder; the
    model is scripted and wrapped the way `create_app` wraps the real one, so a disconnect
    stops it between tokens."""
    service = RagService(api_settings, generator=StoppableGenerator(scripted_model), embedder=embedder)
    report = service.ingest()
    assert report.papers == PAPERS_IN_CORPUS
    return service


@pytest.fixture
def model(scripted_model: ScriptedModel) -> Iterator[ScriptedModel]:
    """The scripted model, reset to quick, supported answers for each test."""
    scripted_model.reset()
    yield scripted_model
    scripted_model.reset()


@pytest.fixture
def make_app(api_store: Path, api_service: RagService, model: ScriptedModel) -> Callable[..., FastAPI]:
    """`make_app(api_key=..., queue_timeout_s=...)`: the real app over the session's service."""

    def make(**overrides: Any) -> FastAPI:
        return create_app(settings_for(api_store, **overrides), api_service)

    return make


@pytest.fixture
def live_server(make_app: Callable[..., FastAPI]) -> Callable[..., Any]:
    """`with live_server(**settings) as url:` the app under real uvicorn on 127.0.0.1."""

    def start(**overrides: Any) -> Any:
        return serve_in_thread(make_app(**overrides))

    return start
