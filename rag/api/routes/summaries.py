"""POST /v1/summaries: a cited summary of a topic or of chosen papers, streamed or not."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse

from rag.api.deps import ModelQueueDep, ServiceDep, SettingsDep
from rag.api.errors import ApiError
from rag.api.model_queue import AnswerJob
from rag.api.schemas import ErrorResponse, SummaryRequest, SummaryResponse
from rag.errors import RagError
from rag.lead import OnText
from rag.summary import Summary

router = APIRouter(tags=["summaries"])


async def _events(job: AnswerJob, request: Request) -> AsyncIterator[str]:
    try:
        async for piece in job.pieces():
            yield f"data: {piece}\n\n"
        try:
            summary: Summary | None = await job.answer_while_connected(request)
        except RagError as e:
            yield f"data: {json.dumps({'type': 'error', 'message': str(e)})}\n\n"
            return
        if summary is None:
            return
        yield f"data: {json.dumps({'type': 'summary', 'summary': summary.to_dict()}, ensure_ascii=False)}\n\n"
        yield "data: [DONE]\n\n"
    finally:
        job.stop()


@router.post(
    "/summaries",
    response_model=SummaryResponse,
    responses={
        200: {
            "content": {"text/event-stream": {}},
            "description": "The summary, or with `stream: true` server-sent events.",
        },
        400: {"model": ErrorResponse},
        401: {"model": ErrorResponse},
        404: {
            "model": ErrorResponse,
            "description": "A named paper is not in the collection (the message lists near titles).",
        },
        503: {"model": ErrorResponse, "description": "The model stayed busy; see Retry-After."},
    },
)
async def summaries(
    body: SummaryRequest, request: Request, service: ServiceDep, settings: SettingsDep, queue: ModelQueueDep
) -> Response | SummaryResponse:
    """Summarize a `topic` (every matching paper: the response says how many matched and how many
    were used) or the `papers` named by id or title. Every sentence cites a paper as `[n]`;
    `markdown` is the readable form; `matched` and `coverage` describe the set. A topic the
    collection does not cover returns `refused: true` and a "Nothing in the collection matches"
    message. With `stream: true`: one `{"type": "progress", ...}` event per paper, then
    `{"type": "summary", "summary": {...}}`, then `data: [DONE]`."""
    if not body.topic and not body.papers:
        raise ApiError(400, "give a topic or at least one paper", param="topic", code="nothing_to_summarize")
    service.summarizer.resolve(body.papers)  # an unknown paper fails now, before queueing (404)

    def run(on_text: OnText) -> Summary:
        def progress(done: int, total: int, title: str) -> None:
            on_text(json.dumps({"type": "progress", "done": done, "total": total, "title": title}, ensure_ascii=False))

        return service.summarize(body.topic, body.papers, mode=body.mode, progress=progress)

    if body.stream:
        job = AnswerJob(run, stream=True)
        await queue.start(job)
        return StreamingResponse(
            _events(job, request), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
        )
    return await queue.answer(request, run, lambda summary: SummaryResponse(**summary.to_dict()))
