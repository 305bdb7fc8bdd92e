"""GET /: the web chat page, plain HTML and JavaScript from `rag/static`, no build step."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response
from starlette.types import Scope

STATIC_DIR = Path(__file__).resolve().parent.parent.parent / "static"
# Only our own files may load or run: a title or answer that smuggled markup past the page's
# escaping could still not execute script or load anything from elsewhere.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

# Sent with the page and with every file under /static, index.html included: the same page
# reached by its file name must not be frameable or looser than at `/`.
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

router = APIRouter(tags=["page"])


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
@router.head("/", response_class=HTMLResponse, include_in_schema=False)
def chat_page() -> HTMLResponse:
    """The chat page: asks /v1/chat/completions with streaming and keeps the conversation."""
    html = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
    return HTMLResponse(html, headers=PAGE_HEADERS)


class PageFiles(StaticFiles):
    """The page's files, with the page's headers."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers.update(PAGE_HEADERS)
        return response
