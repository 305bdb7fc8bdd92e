"""Real OpenAI clients, unchanged, against the real app under uvicorn on 127.0.0.1: simonw's
`llm` CLI (a subprocess configured through `extra-openai-models.yaml`, as its documentation
says), the official `openai` SDK, LangChain's `ChatOpenAI`, and raw server-sent events read line
by line as curl shows them. The model is the scripted one, so the answers and their token counts
are known; the real bundled model through `rag serve` is tests/e2e/test_rag_serve_sdk.py.

A change to the response shape that breaks one of these clients breaks a test here first.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from api_fixtures import settings_for
from api_helpers import GROKKING, ScriptedModel, serve_in_thread
from openai import OpenAI
from openai.types.chat import ChatCompletionMessageParam

from rag.api import create_app
from rag.service import RagService

QUESTION = "What is grokking?"
FOLLOW_UP = "and how much optimization does it need on smaller datasets?"
MESSAGES: list[ChatCompletionMessageParam] = [{"role": "user", "content": QUESTION}]
FOOTER = f"Sources:\n[1] {GROKKING}"


@pytest.fixture(scope="module")
def server(api_store: Path, api_service: RagService) -> Iterator[str]:
    """One server for the module: the app `rag serve` runs, over the session's service."""
    with serve_in_thread(create_app(settings_for(api_store), api_service)) as url:
        yield url


# ---- simonw's llm ---------------------------------------------------------------------------


@pytest.fixture
def llm_home(server: str, tmp_path: Path) -> Path:
    """A fresh LLM_USER_PATH with `rag` (and `rag-plain`, footer off by header) pointing at the server."""
    models = [
        {"model_id": "rag", "model_name": "rag", "api_base": f"{server}/v1"},
        {
            "model_id": "rag-plain",
            "model_name": "rag",
            "api_base": f"{server}/v1",
            "headers": {"X-Sources-Footer": "off"},
        },
    ]
    # JSON is YAML: no YAML writer needed
    (tmp_path / "extra-openai-models.yaml").write_text(json.dumps(models), encoding="utf-8")
    return tmp_path


def llm(home: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "LLM_"))}
    env["LLM_USER_PATH"] = str(home)
    env["LLM_LOAD_PLUGINS"] = ""  # only llm's built-in OpenAI models: the installed plugins load a model each start
    command = [str(Path(sys.executable).parent / "llm"), *args]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"llm {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    assert "Traceback" not in result.stderr and "Error" not in result.stderr, result.stderr
    return result.stdout


def last_logged(home: Path) -> dict[str, Any]:
    """What llm recorded of the last response: its text, token counts and the raw JSON."""
    logged = json.loads(llm(home, "logs", "--json", "-n", "1"))
    assert len(logged) == 1
    return dict(logged[0])


@pytest.mark.parametrize("stream", [False, True], ids=["no-stream", "stream"])
def test_llm_prints_the_answer_with_its_sources_and_records_usage(
    llm_home: Path, model: ScriptedModel, stream: bool
) -> None:
    output = llm(llm_home, "-m", "rag", *([] if stream else ["--no-stream"]), QUESTION)

    assert "[1]" in output
    assert output.rstrip().endswith(FOOTER)
    logged = last_logged(llm_home)
    # llm reads `usage` (no-stream: completion.usage; stream: the include_usage chunk)
    assert logged["output_tokens"] == model.tokens_sent > 0
    assert logged["input_tokens"] == sum(len(m["content"].split()) for call in model.calls for m in call)


def test_llm_continues_the_conversation_about_the_cited_paper(llm_home: Path, model: ScriptedModel) -> None:
    llm(llm_home, "-m", "rag", "--no-stream", QUESTION)

    output = llm(llm_home, "-c", "--no-stream", FOLLOW_UP)

    logged = last_logged(llm_home)
    assert logged["prompt"] == FOLLOW_UP
    # llm sent the first answer back with its footer; the server read the cited title from it
    assert GROKKING in logged["response_json"]["query"]
    assert output.rstrip().endswith(FOOTER)


def test_llm_turns_the_footer_off_with_a_header(llm_home: Path, model: ScriptedModel) -> None:
    output = llm(llm_home, "-m", "rag-plain", "--no-stream", QUESTION)

    assert "[1]" in output and "Sources:" not in output


# ---- the openai SDK -------------------------------------------------------------------------


@pytest.fixture
def sdk(server: str) -> OpenAI:
    return OpenAI(base_url=f"{server}/v1", api_key="unused", max_retries=0, timeout=60)


def test_sdk_reads_usage_and_the_footer(sdk: OpenAI, model: ScriptedModel) -> None:
    completion = sdk.chat.completions.create(model="rag", messages=MESSAGES)

    assert completion.usage is not None
    assert completion.usage.completion_tokens == model.tokens_sent > 0
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens
    message = completion.choices[0].message
    assert (message.content or "").endswith(FOOTER)
    assert [c["title"] for c in (message.model_extra or {})["citations"]] == [GROKKING]


def test_sdk_stream_ends_with_a_usage_chunk_when_asked(sdk: OpenAI, model: ScriptedModel) -> None:
    chunks = list(
        sdk.chat.completions.create(model="rag", messages=MESSAGES, stream=True, stream_options={"include_usage": True})
    )

    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == model.tokens_sent > 0
    assert chunks[-2].choices[0].finish_reason == "stop"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.endswith(FOOTER)
    assert all(c.usage is None for c in chunks[:-1])


def test_sdk_turns_the_footer_off_with_extra_body(sdk: OpenAI) -> None:
    completion = sdk.chat.completions.create(model="rag", messages=MESSAGES, extra_body={"sources_footer": False})

    content = completion.choices[0].message.content or ""
    assert "[1]" in content and "Sources:" not in content


def test_sdk_sees_400_for_tools_and_json_mode(sdk: OpenAI, model: ScriptedModel) -> None:
    tool: Any = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}
    with pytest.raises(openai.BadRequestError) as tools:
        sdk.chat.completions.create(model="rag", messages=MESSAGES, tools=[tool])
    with pytest.raises(openai.BadRequestError) as json_mode:
        sdk.chat.completions.create(model="rag", messages=MESSAGES, response_format={"type": "json_object"})

    assert tools.value.code == "unsupported_parameter" and tools.value.param == "tools"
    assert json_mode.value.code == "unsupported_parameter" and json_mode.value.param == "response_format"
    assert model.calls == []


def test_sdk_responses_api_is_a_clear_404(sdk: OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as missing:
        sdk.responses.create(model="rag", input=QUESTION)

    assert missing.value.code == "unsupported_api"
    assert "/v1/chat/completions" in str(missing.value)


# ---- LangChain ------------------------------------------------------------------------------


def test_langchain_chat_openai_sees_usage_and_sources(server: str, model: ScriptedModel) -> None:
    chat_openai = pytest.importorskip("langchain_openai").ChatOpenAI
    llm_model = chat_openai(model="rag", base_url=f"{server}/v1", api_key="unused", max_retries=0, timeout=60)

    reply = llm_model.invoke(QUESTION)
    streamed = list(llm_model.stream(QUESTION, stream_usage=True))

    assert str(reply.content).endswith(FOOTER)
    assert reply.usage_metadata is not None and reply.usage_metadata["output_tokens"] > 0
    assert reply.response_metadata["token_usage"]["total_tokens"] > 0
    whole = streamed[0]
    for piece in streamed[1:]:
        whole += piece
    assert str(whole.content).endswith(FOOTER)
    assert whole.usage_metadata is not None and whole.usage_metadata["output_tokens"] > 0


# ---- raw server-sent events, as curl -N shows them --------------------------------------------


def test_raw_sse_lines(server: str, model: ScriptedModel) -> None:
    body = {"model": "rag", "stream": True, "stream_options": {"include_usage": True}, "messages": MESSAGES}
    lines: list[str] = []
    with httpx.stream("POST", f"{server}/v1/chat/completions", json=body, timeout=60) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-cache"
        lines = list(response.iter_lines())

    events = [line for line in lines if line]
    assert all(line.startswith("data: ") for line in events), "only data: lines, one event each"
    assert lines.count("") == len(events), "every event ends with a blank line"
    assert events[-1] == "data: [DONE]"
    payloads = [json.loads(line[len("data: ") :]) for line in events[:-1]]
    assert payloads[0]["choices"][0]["delta"]["role"] == "assistant"
    assert payloads[-1]["choices"] == [] and payloads[-1]["usage"]["completion_tokens"] == model.tokens_sent
    final = payloads[-2]["choices"][0]
    assert final["finish_reason"] == "stop" and final["delta"]["citations"][0]["title"] == GROKKING
    text = "".join(p["choices"][0]["delta"].get("content", "") for p in payloads[:-1])
    assert text.endswith(FOOTER)
