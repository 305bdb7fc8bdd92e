"""Request and response bodies of the HTTP API, kept apart from the domain types they carry.

The chat schemas follow OpenAI's chat-completions API so its clients work unchanged; what the
project adds is documented on each field: `citations` and `refused` on the assistant message
(on the final chunk's delta when streaming) and `query`, the standalone retrieval query.

Every text a request carries is checked to be encodable (`Text`): JSON may spell a lone UTF-16
surrogate ("\\ud800"), which Python decodes into a string that no tokenizer or UTF-8 encoder
takes. Such a request is a 400 naming the field, never a 500 from deep in the pipeline.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool

from rag.api.sources import answer_footer, split_footer
from rag.conversation import Turn
from rag.corpus import Paper
from rag.generation import TokenUsage
from rag.types import Answer, Citation, Source


def _encodable(text: str) -> str:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        raise ValueError(
            f"the text holds {text[e.start : e.end]!r} at character {e.start}, a lone UTF-16 surrogate "
            "that is not valid Unicode; send the text as UTF-8, or escape a character outside the "
            "Basic Multilingual Plane as a surrogate pair"
        ) from None
    return text


Text = Annotated[str, AfterValidator(_encodable)]

# ---- errors ---------------------------------------------------------------------------------


class ErrorDetail(BaseModel):
    message: str = Field(description="What went wrong and, where it helps, how to fix it.")
    type: str = Field(description="invalid_request_error, authentication_error, not_found_error, server_error.")
    param: str | None = Field(default=None, description="The request field at fault, if any.")
    code: str | None = Field(default=None, description="A stable machine-readable code, if any.")


class ErrorResponse(BaseModel):
    """OpenAI's error shape: every 4xx and 5xx body of this API."""

    error: ErrorDetail


# ---- chat completions ----------------------------------------------------------------------


class TextPart(BaseModel):
    type: Literal["text"]
    text: Text


class CitationOut(BaseModel):
    n: int = Field(description="The number of the `[n]` marker in the answer text.")
    title: str = Field(description="Title of the cited paper.")
    paper_id: str = Field(description="Id of the paper; GET /v1/papers/{paper_id} returns it.")
    snippet: str = Field(description="The sentence of the abstract that supports the claim.")

    @classmethod
    def from_citation(cls, citation: Citation) -> CitationOut:
        return cls(n=citation.n, title=citation.title, paper_id=citation.paper_id, snippet=citation.snippet)


class EvidenceOut(BaseModel):
    n: int = Field(description="The source's number, as the `[n]` markers cite it.")
    title: str = Field(description="Title of the paper.")
    paper_id: str = Field(description="Id of the paper.")
    sentences: list[str] = Field(description="Every sentence chosen from its abstract, best first or in its order.")

    @classmethod
    def from_source(cls, source: Source) -> EvidenceOut:
        return cls(n=source.n, title=source.title, paper_id=source.paper_id, sentences=list(source.sentences))


class CitationIn(BaseModel):
    """A citation a client echoes back on an earlier assistant message (only `title` is read)."""

    model_config = ConfigDict(extra="ignore")

    n: int | None = None
    title: Text = Field(max_length=2000)
    paper_id: str | None = None


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "developer", "user", "assistant"]
    content: Text | list[TextPart] | None = None
    citations: list[CitationIn] | None = Field(
        default=None,
        description="On assistant messages: the `citations` this API returned with them. "
        "Sending them back "
        'lets follow-up questions resolve "it" to the paper cited first.',
    )

    def text(self) -> str:
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "".join(part.text for part in self.content)


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="ignore")

    include_usage: StrictBool = Field(
        default=False, description="Send a last chunk, before [DONE], with empty `choices` and the `usage`."
    )


class ChatCompletionRequest(BaseModel):
    """The OpenAI request body. Sampling fields are accepted and ignored: the server's settings
    decide how the model samples, so that answers stay reproducible and checkable. Fields that
    would change what the answer is (`tools`, `tool_choice`, `response_format` other than text)
    are refused with a 400 rather than ignored: see `unsupported`."""

    model_config = ConfigDict(extra="ignore")

    model: Text | None = Field(default=None, description="The configured model's id (see GET /v1/models) or `rag`.")
    messages: list[ChatMessage] = Field(
        min_length=1,
        description="The conversation, oldest first; the last message is the user's question.",
    )
    stream: StrictBool = Field(
        default=False,
        description="Send server-sent `chat.completion.chunk` events, ending with `data: [DONE]`.",
    )
    n: int | None = Field(default=None, ge=1, le=1, description="Only 1 is supported.")
    temperature: float | None = Field(default=None, ge=0, le=2, description="Ignored.")
    top_p: float | None = Field(default=None, ge=0, le=1, description="Ignored.")
    max_tokens: int | None = Field(default=None, ge=1, description="Ignored; RAG_MAX_TOKENS applies.")
    max_completion_tokens: int | None = Field(default=None, ge=1, description="Ignored; RAG_MAX_TOKENS applies.")
    stop: str | list[str] | None = Field(default=None, description="Ignored.")
    seed: int | None = Field(default=None, description="Ignored; RAG_SEED applies.")
    user: str | None = Field(default=None, description="Ignored.")
    stream_options: StreamOptions | None = Field(
        default=None, description="`include_usage: true` adds a last chunk with the `usage`."
    )
    sources_footer: StrictBool = Field(
        default=True,
        description="Extra field: end the content with a 'Sources:' list of the cited titles, for clients "
        "that show only the content. False (or the header `X-Sources-Footer: off`) leaves it out.",
    )
    tools: list[Any] | None = Field(default=None, description="Not supported: a non-empty list is a 400.")
    tool_choice: Any = Field(default=None, description="Not supported: anything but `none` is a 400.")
    functions: list[Any] | None = Field(default=None, description="Not supported: a non-empty list is a 400.")
    function_call: Any = Field(default=None, description="Not supported: anything but `none` is a 400.")
    response_format: dict[str, Any] | None = Field(
        default=None, description='Only `{"type": "text"}` is supported; JSON modes are a 400.'
    )

    def unsupported(self) -> tuple[str, str] | None:
        """The first field this server cannot honour, and why, or None. The answer is cited prose
        checked sentence by sentence against the abstracts; a tool call or a JSON object would
        bypass that check, and ignoring the request would hand the client something it did not
        ask for."""
        if self.tools or self.functions:
            param = "tools" if self.tools else "functions"
            return param, f"`{param}` is not supported: this server answers from its papers and calls no tools"
        for param, choice in (("tool_choice", self.tool_choice), ("function_call", self.function_call)):
            if choice not in (None, "none"):
                return param, f"`{param}` is not supported: this server calls no tools (only `none` is accepted)"
        if self.response_format is not None and self.response_format.get("type") != "text":
            return (
                "response_format",
                f"`response_format` {self.response_format.get('type')!r} is not supported: answers are cited "
                'prose (only {"type": "text"} is accepted)',
            )
        return None

    def turns(self) -> list[Turn]:
        """The user and assistant turns, for condensing (system prompts never reach retrieval)."""
        turns = []
        for message in self.messages:
            if message.role == "user":
                turns.append(Turn("user", message.text()))
            elif message.role == "assistant":
                # clients that drop `citations` send back the footer instead; read the titles there
                text, listed = split_footer(message.text())
                titles = tuple(c.title for c in message.citations) if message.citations else listed
                turns.append(Turn("assistant", text, titles))
        return turns


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str = Field(
        description="The answer, with `[n]` markers; a refusal is an ordinary message with `refused: true`."
    )
    refusal: None = Field(default=None, description="Always null: refusals here are answers (see `refused`).")
    citations: list[CitationOut] = Field(description="Extra field: the papers the `[n]` markers cite.")
    refused: bool = Field(description="Extra field: true when the collection does not cover the question.")
    evidence: list[EvidenceOut] = Field(
        default_factory=list, description="Extra field: every sentence chosen from every source, beyond the quotes."
    )


class Usage(BaseModel):
    """Tokens the model read and wrote for this answer, by its own tokenizer, summed over its calls
    (a generative answer calls it once or more). Zero when no model was asked: an extractive or
    refused answer, a quoted summary."""

    prompt_tokens: int
    completion_tokens: int
    total_tokens: int

    @classmethod
    def from_usage(cls, usage: TokenUsage) -> Usage:
        return cls(
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            total_tokens=usage.total_tokens,
        )


class Choice(BaseModel):
    index: int = 0
    message: AssistantMessage
    finish_reason: Literal["stop"] = "stop"
    logprobs: None = None


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    query: str = Field(description="Extra field: the standalone query retrieval used (follow-ups are condensed).")
    usage: Usage
    system_fingerprint: None = None

    @classmethod
    def from_answer(
        cls, completion_id: str, model: str, query: str, answer: Answer, sources_footer: bool = True
    ) -> ChatCompletion:
        message = AssistantMessage(
            content=answer.answer + (answer_footer(answer) if sources_footer else ""),
            citations=[CitationOut.from_citation(c) for c in answer.citations],
            refused=answer.refused,
            evidence=[EvidenceOut.from_source(s) for s in answer.evidence],
        )
        return cls(
            id=completion_id,
            created=int(time.time()),
            model=model,
            choices=[Choice(message=message)],
            query=query,
            usage=Usage.from_usage(answer.usage),
        )


class ChunkDelta(BaseModel):
    role: Literal["assistant"] | None = None
    content: str | None = None
    citations: list[CitationOut] | None = Field(default=None, description="Extra field, on the final chunk only.")
    refused: bool | None = Field(default=None, description="Extra field, on the final chunk only.")
    evidence: list[EvidenceOut] | None = Field(default=None, description="Extra field, on the final chunk only.")


class ChunkChoice(BaseModel):
    index: int = 0
    delta: ChunkDelta
    finish_reason: Literal["stop"] | None = None
    logprobs: None = None


class ChatCompletionChunk(BaseModel):
    """One server-sent event of a streamed answer."""

    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChunkChoice]
    query: str | None = Field(default=None, description="Extra field, on the final chunk only.")
    usage: Usage | None = Field(
        default=None, description="With `stream_options.include_usage`: on a last chunk whose `choices` is empty."
    )
    system_fingerprint: None = None

    def sse(self) -> str:
        """The chunk as one server-sent event; fields left unset are left out, as OpenAI does."""
        body = self.model_dump(mode="json")
        for choice in body["choices"]:
            choice["delta"] = {k: v for k, v in choice["delta"].items() if v is not None}
        for extra in ("query", "usage"):
            if body[extra] is None:
                del body[extra]
        return f"data: {json.dumps(body, ensure_ascii=False, separators=(',', ':'))}\n\n"


def new_completion_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex}"


# ---- ask ------------------------------------------------------------------------------------


class AskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: Text = Field(description="The question, on its own (no conversation).")
    k: int | None = Field(default=None, ge=1, le=50, description="Papers to retrieve; default RAG_TOP_K.")
    mode: Literal["generative", "extractive"] | None = Field(
        default=None,
        description="generative: the model writes; extractive: quote the abstracts, no model. Default RAG_MODE.",
    )


class AskResponse(BaseModel):
    """The answer as `rag ask --json` prints it."""

    model_config = ConfigDict(extra="allow")

    question: str
    answer: str
    refused: bool
    citations: list[CitationOut]
    retrieved: list[dict[str, Any]]
    sentences: list[dict[str, Any]]
    timings: dict[str, float | None]
    model: str
    prompt: str
    mode: str
    coverage: dict[str, Any] | None
    dropped_markers: int
    unsupported_sentences: int
    notes: list[str]

    @classmethod
    def from_answer(cls, answer: Answer) -> AskResponse:
        return cls.model_validate(answer.to_dict())


# ---- papers ---------------------------------------------------------------------------------


class PaperOut(BaseModel):
    id: str
    title: str
    abstract: str
    url: str | None = None
    year: int | None = None
    authors: list[str] = Field(default_factory=list)
    score: float | None = Field(default=None, description="Search only: the fused retrieval score, higher is better.")

    @classmethod
    def from_paper(cls, paper: Paper, score: float | None = None) -> PaperOut:
        return cls(
            id=paper.paper_id,
            title=paper.title,
            abstract=paper.abstract,
            url=paper.url,
            year=paper.year,
            authors=list(paper.authors),
            score=score,
        )


class PaperList(BaseModel):
    object: Literal["list"] = "list"
    data: list[PaperOut]
    total: int | None = Field(
        description="Papers in the collection when listing; null when searching (results are ranked, not counted)."
    )
    limit: int
    offset: int
    query: str | None = None


# ---- models and health ----------------------------------------------------------------------


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str = "rag"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


class GenerationStatus(BaseModel):
    busy: bool = Field(description="A generation is running.")
    waiting: int = Field(description="Requests waiting for the model.")


class Health(BaseModel):
    status: Literal["ok"] = "ok"
    model: str
    store_id: str = Field(
        description="An opaque id of the store served (a hash of its place and collection): `rag ask` uses this "
        "server only when it names the store the command would read."
    )
    generation: GenerationStatus


class SummaryRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    topic: Text | None = Field(default=None, description="A topic: every matching paper is summarized.")
    papers: list[Text] = Field(
        default_factory=list, max_length=50, description="Paper ids or exact titles to summarize instead of a topic."
    )
    mode: Literal["generative", "extractive"] | None = Field(
        default=None, description="generative: the model writes key points; extractive: quotes only. Default RAG_MODE."
    )
    stream: StrictBool = Field(
        default=False, description="Server-sent events: a `progress` event per paper, then the `summary`, then [DONE]."
    )


class SummaryResponse(BaseModel):
    """The summary as `rag summarize --json` prints it."""

    model_config = ConfigDict(extra="allow")

    topic: str
    refused: bool
    markdown: str
    sentences: list[dict[str, Any]]
    citations: list[CitationOut]
    matched: list[dict[str, Any]]
    coverage: dict[str, Any]
