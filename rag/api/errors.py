"""Every error the API returns, in OpenAI's shape: `{"error": {message, type, param, code}}`.

The project's error tree maps to status codes here, so routes just let `RagError`s rise:

    QuestionError        400 invalid_request_error
    NotFoundError        404 not_found_error
    BusyError            503 server_error, code model_busy, with Retry-After
    StoreError           503 server_error, code store_unavailable
    ConfigError,
    ModelError, others   500 server_error

Request validation (wrong types, missing fields, malformed JSON) is a 400, never FastAPI's 422,
and no exception reaches the client as an HTML page or a bare 500.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from rag.errors import (
    BusyError,
    ConfigError,
    ModelError,
    NotFoundError,
    QuestionError,
    RagError,
    StoreError,
)

log = logging.getLogger(__name__)

_HTTP_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    413: "invalid_request_error",
    429: "rate_limit_error",
}


class ApiError(Exception):
    """An HTTP error raised by the API layer itself (auth, unknown model, a bad field)."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str | None = None,
        param: str | None = None,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type or _HTTP_TYPES.get(status, "invalid_request_error" if status < 500 else "server_error")
        self.param = param
        self.code = code
        self.headers = dict(headers or {})


def error_body(message: str, type: str, param: str | None = None, code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


def error_response(
    status: int,
    message: str,
    type: str,
    param: str | None = None,
    code: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(error_body(message, type, param, code), status_code=status, headers=dict(headers or {}))


def rag_error_status(error: RagError) -> tuple[int, str, str | None]:
    """Status, OpenAI error type and code for a project error."""
    if isinstance(error, QuestionError):
        return 400, "invalid_request_error", "invalid_question"
    if isinstance(error, NotFoundError):
        return 404, "not_found_error", "not_found"
    if isinstance(error, BusyError):
        return 503, "server_error", "model_busy"
    if isinstance(error, StoreError):
        return 503, "server_error", "store_unavailable"
    if isinstance(error, ConfigError):
        return 500, "server_error", "config_error"
    if isinstance(error, ModelError):
        return 500, "server_error", "model_error"
    return 500, "server_error", None


def _location(loc: Sequence[Any]) -> str:
    # pydantic names the member of a union it tried ("list[TextPart]", "function-after[...]");
    # the client's field is the path without them
    parts = [str(p) for p in loc if p not in ("body", "query", "path") and (str(p).isdigit() or str(p).isidentifier())]
    out = ""
    for part in parts:
        out += f"[{part}]" if part.isdigit() else (f".{part}" if out else part)
    return out


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.message, exc.type, exc.param, exc.code, exc.headers)


async def _rag_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RagError)
    status, type_, code = rag_error_status(exc)
    headers = {}
    if isinstance(exc, BusyError):
        queue = getattr(request.app.state, "model_queue", None)
        headers["Retry-After"] = str(queue.retry_after() if queue is not None else 1)
    if status >= 500:
        log.warning("%s %s failed: %s", request.method, request.url.path, exc)
    return error_response(status, str(exc), type_, None, code, headers)


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
    param = _location(first.get("loc", ())) or None
    if first.get("type") == "json_invalid":
        message, param = "the request body is not valid JSON", None
    else:
        message = "; ".join(f"{_location(e.get('loc', ())) or 'body'}: {e.get('msg', 'invalid')}" for e in errors[:5])
    return error_response(400, message, "invalid_request_error", param, "invalid_value")


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    message = exc.detail if isinstance(exc.detail, str) else "request failed"
    if exc.status_code == 404 and message == "Not Found":
        message = f"no route {request.method} {request.url.path}; see the README, section HTTP API"
    return error_response(
        exc.status_code,
        message,
        _HTTP_TYPES.get(exc.status_code, "server_error" if exc.status_code >= 500 else "invalid_request_error"),
        headers=getattr(exc, "headers", None),
    )


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return error_response(500, "internal server error; the server log has the details", "server_error")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RagError, _rag_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
