"""GET /v1/papers and /v1/papers/{id}: list, search and read the collection.

Retrieval only: these routes never wait for the model, whatever it is generating.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from rag.api.deps import ServiceDep, SettingsDep
from rag.api.errors import ApiError
from rag.api.schemas import ErrorResponse, PaperList, PaperOut
from rag.service import RagService

router = APIRouter(tags=["papers"])

MAX_LIMIT = 100
MAX_SEARCH_DEPTH = 1000


def search_papers(service: RagService, query: str, limit: int, offset: int) -> list[PaperOut]:
    """Hybrid retrieval (dense and BM25), best first, with each paper's record."""
    hits = service.search(query, offset + limit)[offset:]
    records = service.store.get_papers([h["paper_id"] for h in hits])
    return [PaperOut.from_paper(records[h["paper_id"]], score=h["score"]) for h in hits if h["paper_id"] in records]


@router.get(
    "/papers",
    response_model=PaperList,
    responses={400: {"model": ErrorResponse}, 401: {"model": ErrorResponse}},
)
def list_papers(
    service: ServiceDep,
    settings: SettingsDep,
    q: Annotated[str | None, Query(description="Search text; without it, every paper in title order.")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Papers per page.")] = 20,
    offset: Annotated[int, Query(ge=0, description="Papers to skip.")] = 0,
) -> PaperList:
    """List the collection's papers in title order, or with `q` search it: the same hybrid
    retrieval questions use, best match first, each paper with its `score`."""
    query = " ".join((q or "").split())
    if not query:
        papers = service.papers()
        page = [PaperOut.from_paper(p) for p in papers[offset : offset + limit]]
        return PaperList(data=page, total=len(papers), limit=limit, offset=offset)
    if len(query) > settings.answer.max_question_chars:
        raise ApiError(
            400,
            f"q is {len(query):,} characters long; the limit is {settings.answer.max_question_chars:,}",
            param="q",
            code="invalid_value",
        )
    if offset + limit > MAX_SEARCH_DEPTH:
        raise ApiError(
            400,
            f"search results go {MAX_SEARCH_DEPTH} deep; offset + limit must not exceed it",
            param="offset",
            code="invalid_value",
        )
    return PaperList(
        data=search_papers(service, query, limit, offset),
        total=None,
        limit=limit,
        offset=offset,
        query=query,
    )


@router.get(
    "/papers/{paper_id}",
    response_model=PaperOut,
    responses={401: {"model": ErrorResponse}, 404: {"model": ErrorResponse}},
)
def get_paper(service: ServiceDep, paper_id: Annotated[str, Path(max_length=128)]) -> PaperOut:
    """One paper: title, abstract and, where the corpus has them, url, year and authors."""
    return PaperOut.from_paper(service.paper(paper_id))
