"""Dependencies the routes declare with `Annotated`: settings, service, model queue, API key.

Everything comes from `app.state`, set up once by the app's lifespan; nothing reads settings at
import time, so tests hand the app their own.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from rag.api.errors import ApiError
from rag.api.model_queue import ModelQueue
from rag.service import RagService
from rag.settings import Settings


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_service(request: Request) -> RagService:
    service: RagService = request.app.state.service
    return service


def get_model_queue(request: Request) -> ModelQueue:
    queue: ModelQueue = request.app.state.model_queue
    return queue


SettingsDep = Annotated[Settings, Depends(get_settings)]
ServiceDep = Annotated[RagService, Depends(get_service)]
ModelQueueDep = Annotated[ModelQueue, Depends(get_model_queue)]

_bearer = HTTPBearer(auto_error=False, description="Needed when the server sets RAG_API_KEY.")


def require_api_key(
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """When RAG_API_KEY is set, the request must carry `Authorization: Bearer <key>`."""
    if not settings.server.api_key:
        return
    given = credentials.credentials.encode("utf-8") if credentials else b""
    # compare_digest takes time independent of where the strings differ
    if not hmac.compare_digest(given, settings.server.api_key.encode("utf-8")):
        raise ApiError(
            401,
            "missing or wrong API key; send the header `Authorization: Bearer <RAG_API_KEY>`",
            code="invalid_api_key",
            headers={"WWW-Authenticate": "Bearer"},
        )


def resolve_model(requested: str | None, service: RagService) -> str:
    """The configured model's id when `requested` names it (or is `rag` or absent)."""
    configured = service.model_name
    if requested in (None, "", "rag", configured):
        return configured
    raise ApiError(
        404,
        f"the model '{requested}' does not exist; this server serves '{configured}' (alias 'rag')",
        param="model",
        code="model_not_found",
    )
