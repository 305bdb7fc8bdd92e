"""The HTTP API: an OpenAI-compatible chat endpoint, ask, papers, models, health, a chat page.

`create_app(settings)` builds the FastAPI app; its lifespan loads the embedder, the store and the
model once. A request travels: a route in `routes/` (thin) → `RagService`, the same functions
the CLI calls → for generation, one turn at a time through `model_queue`. Errors leave in
OpenAI's shape (`errors`). Layout:

    routes/chat.py     POST /v1/chat/completions   (follow-ups condensed by rag.conversation)
    routes/ask.py      POST /v1/ask                (the `rag ask --json` shape)
    routes/papers.py   GET  /v1/papers, /v1/papers/{id}
    routes/summaries.py POST /v1/summaries          (the `rag summarize --json` shape)
    routes/models.py   GET  /v1/models
    routes/health.py   GET  /healthz
    routes/page.py     GET  /  and /static/*       (the web chat page)
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI
from starlette.concurrency import run_in_threadpool

from rag.api.deps import require_api_key
from rag.api.errors import install_error_handlers
from rag.api.middleware import MAX_BODY_BYTES, BodyLimitMiddleware
from rag.api.model_queue import ModelQueue, StoppableGenerator
from rag.api.routes import ask, chat, health, models, page, papers, summaries
from rag.generation import load_generator
from rag.service import RagService
from rag.settings import Settings

__all__ = ["create_app"]

log = logging.getLogger(__name__)


def build_service(settings: Settings) -> RagService:
    """The service with its model loaded, wrapped so a disconnected client stops it between two
    tokens. In extractive mode the model loads only if a request asks for generation."""
    if settings.answer.mode == "extractive":
        return RagService(settings)
    return RagService(settings, generator=StoppableGenerator(load_generator(settings)))


def load(service: RagService) -> None:
    """Ingest on first run, then load the embedder, the store's indexes and the model."""
    report = service.ensure_ingested()
    if report is not None:
        log.warning(
            "first run: ingested %d papers from %s into %s",
            report.papers,
            report.path,
            service.store.location,
        )
    service.answerer  # noqa: B018 - loads embedder, store, BM25 index and term statistics
    if service.settings.answer.mode == "generative":
        service.generator()


def create_app(settings: Settings, service: RagService | None = None) -> FastAPI:
    """The app. `settings` decides serving (API key, queue wait); `service`, when given (tests),
    answers instead of one built from `settings` in the lifespan."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        rag = service if service is not None else await run_in_threadpool(build_service, settings)
        await run_in_threadpool(load, rag)
        app.state.service = rag
        app.state.model_queue = ModelQueue(settings.server.queue_timeout_s, settings.server.retry_after_max_s)
        log.info("serving %s with model %s", rag.store.location, rag.model_name)
        try:
            yield
        finally:
            await app.state.model_queue.close()

    app = FastAPI(
        title="rag",
        summary="Questions answered from paper abstracts; every claim cites its paper.",
        version="0.1.0",
        lifespan=lifespan,
        # Swagger and ReDoc load their scripts from a CDN; the README documents the API instead
        docs_url=None,
        redoc_url=None,
        openapi_url=None,  # served below, behind the API key like the API it describes
    )
    app.state.settings = settings
    install_error_handlers(app)
    app.add_middleware(BodyLimitMiddleware, max_bytes=MAX_BODY_BYTES)
    # no CORS middleware: browsers may call the API only from the page this server serves

    protected = [Depends(require_api_key)]
    for router in (chat.router, ask.router, summaries.router, papers.router, models.router):
        app.include_router(router, prefix="/v1", dependencies=protected)

    @app.get("/openapi.json", include_in_schema=False, dependencies=protected)
    def openapi_schema() -> dict[str, Any]:
        return app.openapi()

    app.include_router(health.router)
    app.include_router(page.router)
    app.mount("/static", page.PageFiles(directory=page.STATIC_DIR), name="static")
    return app
