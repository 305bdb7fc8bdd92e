"""POST /v1/chat/completions: OpenAI-compatible chat over the collection, streamed or not."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from rag.api.deps import ModelQueueDep, ServiceDep, SettingsDep, resolve_model
from rag.api.errors import ApiError, error_body, rag_error_status
from rag.api.model_queue import AnswerJob, GenerationStopped
from rag.api.schemas import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    ChunkChoice,
    ChunkDelta,
    CitationOut,
    ErrorResponse,
    EvidenceOut,
    Usage,
    new_completion_id,
)
from rag.api.sources import answer_footer
from rag.conversation import Condensed, condense
from rag.errors import QuestionError, RagError
from rag.lead import OnText
from rag.service import RagService
from rag.settings import Settings
from rag.types import Answer

log = logging.getLogger(__name__)
router = APIRouter(tags=["chat"])


class EventStream(StreamingResponse):
    """Server-sent events that stop their job however the response ends, even unstarted."""

    media_type = "text/event-stream"

    def __init__(self, content: AsyncIterator[str], job: AnswerJob) -> None:
        super().__init__(content, headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
        self.job = job

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.job.stop()


def standalone_question(body: ChatCompletionRequest, service: RagService, settings: Settings) -> Condensed:
    """Check the conversation and condense it into the query that retrieval will see."""
    last_user = max((i for i, m in enumerate(body.messages) if m.role == "user"), default=None)
    if last_user is None:
        raise ApiError(
            400,
            "messages must include a user message with the question",
            param="messages",
            code="no_user_message",
        )
    if any(m.role == "assistant" for m in body.messages[last_user + 1 :]):
        raise ApiError(
            400,
            "the last message must be the user's question, not an assistant message",
            param=f"messages[{len(body.messages) - 1}]",
            code="no_question",
        )
    try:
        service.analyse(body.messages[last_user].text())
    except QuestionError as e:
        raise ApiError(400, str(e), param=f"messages[{last_user}].content", code="invalid_question") from e
    return condense(body.turns(), max_chars=settings.answer.max_question_chars)


# The header a client that cannot add body fields (simonw's llm: `headers:` in
# extra-openai-models.yaml) sends to turn the footer off, as `"sources_footer": false` does.
FOOTER_HEADER = "X-Sources-Footer"
_OFF = {"off", "false", "0", "no"}


def wants_footer(body: ChatCompletionRequest, request: Request) -> bool:
    """The "Sources" footer is on unless the body or the header turns it off."""
    return body.sources_footer and request.headers.get(FOOTER_HEADER, "on").strip().lower() not in _OFF


def refuse_unsupported(body: ChatCompletionRequest) -> None:
    """A 400 in OpenAI's shape for a field this server would otherwise silently ignore."""
    unsupported = body.unsupported()
    if unsupported is not None:
        param, message = unsupported
        raise ApiError(400, message, param=param, code="unsupported_parameter")


def _chunk(
    completion_id: str,
    created: int,
    model: str,
    delta: ChunkDelta,
    finish: bool = False,
    query: str | None = None,
) -> str:
    choice = ChunkChoice(delta=delta, finish_reason="stop" if finish else None)
    return ChatCompletionChunk(id=completion_id, created=created, model=model, choices=[choice], query=query).sse()


async def _events(
    job: AnswerJob, request: Request, model: str, query: str, sources_footer: bool, include_usage: bool
) -> AsyncIterator[str]:
    completion_id, created = new_completion_id(), int(time.time())
    watcher = asyncio.create_task(job.stop_on_disconnect(request))
    try:
        yield _chunk(completion_id, created, model, ChunkDelta(role="assistant", content=""))
        async for piece in job.pieces():
            yield _chunk(completion_id, created, model, ChunkDelta(content=piece))
        try:
            answer = await job.answer()
        except GenerationStopped:
            return
        except RagError as e:
            status, type_, code = rag_error_status(e)
            log.warning("streamed answer failed (%d): %s", status, e)
            yield f"data: {json.dumps(error_body(str(e), type_, None, code))}\n\n"
            return
        except Exception:  # the stream has started: report in-band, as OpenAI does
            log.exception("streamed answer failed")
            message = "internal server error; the server log has the details"
            yield f"data: {json.dumps(error_body(message, 'server_error'))}\n\n"
            return
        citations = [CitationOut.from_citation(c) for c in answer.citations]
        footer = answer_footer(answer) if sources_footer else ""
        if footer:
            yield _chunk(completion_id, created, model, ChunkDelta(content=footer))
        yield _chunk(
            completion_id,
            created,
            model,
            ChunkDelta(
                citations=citations,
                refused=answer.refused,
                evidence=[EvidenceOut.from_source(s) for s in answer.evidence],
            ),
            finish=True,
            query=query,
        )
        if include_usage:  # as OpenAI sends it: a last chunk with no choices
            yield ChatCompletionChunk(
                id=completion_id, created=created, model=model, choices=[], usage=Usage.from_usage(answer.usage)
            ).sse()
        yield "data: [DONE]\n\n"
    finally:
        watcher.cancel()
        job.stop()


@router.post(
    "/chat/completions",
    response_model=ChatCompletion,
    responses={
        200: {
            "content": {"text/event-stream": {}},
            "description": "A chat completion, or with `stream: true` server-sent chunks.",
        },
        400: {"model": ErrorResponse},
        401: {"model": ErrorResponse},
        404: {"model": ErrorResponse},
        413: {"model": ErrorResponse},
        503: {"model": ErrorResponse, "description": "The model stayed busy; see Retry-After."},
    },
)
async def chat_completions(
    body: ChatCompletionRequest,
    request: Request,
    service: ServiceDep,
    settings: SettingsDep,
    queue: ModelQueueDep,
) -> Response | ChatCompletion:
    """Answer the conversation's last user message from the collection, citing papers as `[n]`.

    Works with OpenAI's clients (`base_url=http://127.0.0.1:8000/v1`). A follow-up ("and what
    dataset did it use?") is condensed with the earlier turns into a standalone query, returned
    as `query`. The answer's `message` adds `citations` (the papers behind each `[n]`) and
    `refused` (true when the collection does not cover the question; the content then says so
    and names the nearest papers). With `stream: true` the verified sentences arrive as
    `chat.completion.chunk` events; the final chunk's delta carries `citations` and `refused`,
    then `data: [DONE]`; `stream_options: {"include_usage": true}` adds a last chunk with the
    `usage`. The content ends with a "Sources:" list of the cited titles unless
    `sources_footer: false` or the header `X-Sources-Footer: off` is sent. `tools`,
    `tool_choice` and JSON `response_format`s are refused with 400.

    A message asking for a summary ("Summarize what the collection says about ...") is answered
    by the summary function, as Markdown. One generation runs at a time: a request that waits
    longer than RAG_QUEUE_TIMEOUT_S gets 503 with Retry-After. A client that disconnects stops
    its generation.
    """
    refuse_unsupported(body)
    model = resolve_model(body.model, service)
    condensed = standalone_question(body, service, settings)
    footer = wants_footer(body, request)

    def ask(on_text: OnText) -> Answer:
        return service.respond(condensed.query, on_text=on_text)  # "Summarize ..." gets a summary

    if body.stream:
        job = AnswerJob(ask, stream=True)
        await queue.start(job)
        include_usage = body.stream_options is not None and body.stream_options.include_usage
        return EventStream(_events(job, request, model, condensed.query, footer, include_usage), job)
    return await queue.answer(
        request,
        ask,
        lambda answer: ChatCompletion.from_answer(new_completion_id(), model, condensed.query, answer, footer),
    )


@router.post("/responses", include_in_schema=False)
async def responses() -> None:
    """OpenAI's Responses API is not served (docs/decisions.md): a 404 that says what to use."""
    raise ApiError(
        404,
        "this server speaks the Chat Completions API only: POST /v1/chat/completions "
        "(openai SDK: client.chat.completions.create; LangChain: use_responses_api=False)",
        code="unsupported_api",
    )
