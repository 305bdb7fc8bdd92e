"""A real uvicorn on 127.0.0.1: bounded bursts get 503, a disconnect stops its generation, and
retrieval never waits for the model."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from api_helpers import ScriptedModel, quote_every_source

CHAT = {"model": "rag", "messages": [{"role": "user", "content": "What is grokking?"}]}


def wait_until(check: Callable[[], bool], timeout_s: float = 10.0) -> float:
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout_s:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)
    return time.monotonic() - started


def busy(url: str) -> bool:
    return bool(httpx.get(f"{url}/healthz").json()["generation"]["busy"])


def test_a_bounded_burst_gets_503_with_retry_after(live_server: Callable[..., Any], model: ScriptedModel) -> None:
    model.first_token_delay_s = 1.5  # each generation holds the model this long

    async def burst(url: str, n: int) -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            bodies = [{**CHAT, "stream": i % 2 == 1} for i in range(n)]  # streamed or not alike
            return list(await asyncio.gather(*(client.post("/v1/chat/completions", json=b) for b in bodies)))

    # the cap is 1 s: below any estimate of a turn that holds the model 1.5 s, so exactly 1
    with live_server(queue_timeout_s=0.3, retry_after_max_s=1) as url:
        responses = asyncio.run(burst(url, 4))
        statuses = sorted(r.status_code for r in responses)
        assert statuses == [200, 503, 503, 503]
        for response in responses:
            if response.status_code == 503:
                assert response.headers["retry-after"] == "1"
                error = response.json()["error"]
                assert error["type"] == "server_error" and error["code"] == "model_busy"
        model.first_token_delay_s = 0
        wait_until(lambda: not busy(url))
        assert httpx.post(f"{url}/v1/chat/completions", json=CHAT, timeout=30).status_code == 200


def test_requests_within_the_bound_wait_their_turn(live_server: Callable[..., Any], model: ScriptedModel) -> None:
    model.first_token_delay_s = 0.3

    async def burst(url: str, n: int) -> list[int]:
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            responses = await asyncio.gather(*(client.post("/v1/chat/completions", json=CHAT) for _ in range(n)))
            return [r.status_code for r in responses]

    with live_server(queue_timeout_s=10) as url:
        assert asyncio.run(burst(url, 3)) == [200, 200, 200]


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "non-stream"])
def test_a_client_that_disconnects_stops_its_generation(
    live_server: Callable[..., Any], model: ScriptedModel, stream: bool
) -> None:
    model.reply = quote_every_source
    model.token_delay_s = 0.05  # about 10 s for the whole answer

    with live_server() as url:
        if stream:
            with httpx.stream("POST", f"{url}/v1/chat/completions", json={**CHAT, "stream": True}, timeout=30) as r:
                for line in r.iter_lines():
                    if line.startswith("data:"):
                        break  # the stream has begun (the lead is shown once checked): hang up
        else:
            model.running.clear()
            with pytest.raises(httpx.ReadTimeout):
                httpx.post(f"{url}/v1/chat/completions", json=CHAT, timeout=1.0)
        took = wait_until(lambda: not busy(url), timeout_s=5)

    assert model.tokens_planned > 60
    assert model.tokens_sent < model.tokens_planned / 2, "the generation ran on after the client left"
    assert took < 3


def test_retrieval_is_not_blocked_by_generation(live_server: Callable[..., Any], model: ScriptedModel) -> None:
    model.first_token_delay_s = 4.0

    with live_server() as url:
        generating = threading.Thread(
            target=lambda: httpx.post(f"{url}/v1/chat/completions", json=CHAT, timeout=30),
            daemon=True,
        )
        generating.start()
        assert model.running.wait(10)
        assert busy(url)
        started = time.monotonic()
        search = httpx.get(f"{url}/v1/papers", params={"q": "triplet network"}, timeout=10)
        listing = httpx.get(f"{url}/v1/papers", timeout=10)
        paper = httpx.get(f"{url}/v1/papers/{listing.json()['data'][0]['id']}", timeout=10)
        models = httpx.get(f"{url}/v1/models", timeout=10)
        elapsed = time.monotonic() - started
        still_busy = busy(url)
        model.first_token_delay_s = 0
        generating.join(15)

    assert [r.status_code for r in (search, listing, paper, models)] == [200, 200, 200, 200]
    assert still_busy, "the generation was still running while retrieval answered"
    assert elapsed < 3.0
