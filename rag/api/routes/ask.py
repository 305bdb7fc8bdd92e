"""POST /v1/ask: one question, the answer in the shape `rag ask --json` prints."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from rag.api.deps import ModelQueueDep, ServiceDep, SettingsDep
from rag.api.schemas import AskRequest, AskResponse, ErrorResponse
from rag.lead import OnText
from rag.types import Answer

router = APIRouter(tags=["ask"])


@router.post(
    "/ask",
    response_model=AskResponse,
    responses={
        400: {"model": ErrorResponse},
        401: {"model": ErrorResponse},
        413: {"model": ErrorResponse},
        503: {"model": ErrorResponse, "description": "The model stayed busy; see Retry-After."},
    },
)
async def ask(
    body: AskRequest,
    request: Request,
    service: ServiceDep,
    settings: SettingsDep,
    queue: ModelQueueDep,
) -> Response | AskResponse:
    """Answer one standalone question: the answer with `[n]` markers, `refused`, `citations`,
    the `retrieved` papers with their scores, per-sentence support, `coverage`, `timings`, the
    `prompt` id and `notes`, exactly as `rag ask --json` prints it.

    Extractive mode quotes the abstracts without the model, so it does not queue for it.
    """
    question = service.analyse(body.question)
    if (body.mode or settings.answer.mode) == "extractive":
        quoted = await run_in_threadpool(service.respond, question, body.k, "extractive")
        return AskResponse.from_answer(quoted)

    def run(on_text: OnText) -> Answer:
        return service.respond(question, k=body.k, mode=body.mode, on_text=on_text)

    return await queue.answer(request, run, AskResponse.from_answer)
