"""rag.client without a server: what a server's error response becomes, and when no server is
asked. (tests/e2e/test_cli_server.py runs the commands against a real `rag serve`.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.client import Reply, connect, server_error
from rag.errors import BusyError, ConfigError, NotFoundError, QuestionError, RagError, StoreError
from rag.settings import Settings, bundled_model_path

URL = "http://127.0.0.1:8000"


def openai_error(status: int, message: str, code: str | None = None, **headers: str) -> Reply:
    body = {"error": {"message": message, "type": "server_error", "param": None, "code": code}}
    return Reply(status, json.dumps(body).encode(), {"content-type": "application/json", **headers})


@pytest.mark.parametrize(
    ("response", "kind", "expected"),
    [
        (
            openai_error(503, "the model is busy", "model_busy", **{"Retry-After": "7"}),
            BusyError,
            f"rag serve at {URL} is busy: the model is busy (try again in 7 s, or pass --local to answer without it)",
        ),
        (openai_error(429, "too many requests"), BusyError, "(try again, or pass --local to answer without it)"),
        (openai_error(401, "missing or wrong API key"), ConfigError, "(set RAG_API_KEY to the server's key)"),
        (
            openai_error(400, "the question is empty (ask something)"),
            QuestionError,
            "the question is empty (ask something)",
        ),
        (openai_error(404, "no paper with id x (find ids)"), NotFoundError, "no paper with id x (find ids)"),
        (openai_error(503, "the store is gone (run rag ingest)", "store_unavailable"), StoreError, "the store is gone"),
        (openai_error(500, "internal server error"), RagError, "failed (500): internal server error (see the"),
        (Reply(502, b"<html>bad gateway</html>"), RagError, "failed (502): <html>bad gateway</html>"),
        (Reply(502, b"", reason="Bad Gateway"), RagError, "failed (502): Bad Gateway"),
    ],
)
def test_a_server_error_becomes_the_project_error_with_its_fix(
    response: Reply, kind: type[RagError], expected: str
) -> None:
    error = server_error(URL, response)

    assert type(error) is kind
    assert expected in str(error)


@pytest.mark.parametrize("off", ["off", "", "none"])
def test_server_url_off_asks_no_server(off: str) -> None:
    settings = Settings(server_url=off)

    assert settings.interface.server_url is None
    assert connect(settings, "extractive").why_not == "RAG_SERVER_URL is off"


def test_the_default_server_url_is_where_rag_serve_listens() -> None:
    settings = Settings()

    assert settings.interface.server_url == f"http://{settings.server.host}:{settings.server.port}"


def test_the_store_id_names_the_store_not_its_folder(tmp_path: Path) -> None:
    here = Settings(store_path=tmp_path / "store")

    assert here.store_id() == Settings(store_path=tmp_path / "sub" / ".." / "store").store_id()
    assert here.store_id() != Settings(store_path=tmp_path / "other").store_id()
    assert here.store_id() != Settings(store_path=tmp_path / "store", collection="more").store_id()
    assert str(tmp_path) not in here.store_id()


def test_the_model_name_is_known_before_the_model_loads(tmp_path: Path) -> None:
    assert Settings(model_path=tmp_path / "big.gguf").model_name() == "big.gguf"
    assert Settings(llm_base_url="http://127.0.0.1:9/v1", llm_model="qwen").model_name() == "qwen"
    assert Settings().model_name() == bundled_model_path().name


@pytest.mark.parametrize("url", ["ftp://127.0.0.1:8000", "127.0.0.1:8000", "http://"])
def test_a_server_url_that_is_not_http_is_said_not_asked(url: str) -> None:
    probe = connect(Settings(server_url=url), "extractive")

    assert probe.server is None
    assert probe.why_not is not None and "not an http(s) URL" in probe.why_not
