"""One generation at a time: the queue's bounded wait, and stopping a job whose client left."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from rag.api.model_queue import AnswerJob, GenerationStopped, ModelQueue, StoppableGenerator, retry_after_s
from rag.errors import BusyError
from rag.generation import FakeGenerator
from rag.lead import OnText
from rag.types import Answer


def fake_answer() -> Answer:
    return Answer("q", "a", False, "generative", "fake", "p")


def blocking_job(release: threading.Event, pieces: list[str] | None = None, stream: bool = False) -> AnswerJob:
    def ask(on_text: OnText) -> Answer:
        for piece in pieces or []:
            on_text(piece)
        release.wait(5)
        on_text("last ")  # a stopped job raises here
        return fake_answer()

    return AnswerJob(ask, stream=stream)


def test_second_request_waits_its_turn_then_runs() -> None:
    async def scenario() -> list[str]:
        queue = ModelQueue(timeout_s=5)
        release = threading.Event()
        first = blocking_job(release)
        await queue.start(first)
        assert queue.busy
        second_release = threading.Event()
        second_started = asyncio.create_task(queue.start(blocking_job(second_release)))
        await asyncio.sleep(0.1)
        assert queue.waiting == 1 and not second_started.done()
        release.set()
        await first.answer()
        await asyncio.wait_for(second_started, 2)
        order = ["first done", "second started"]
        second_release.set()
        await queue.close()
        return order

    assert asyncio.run(scenario()) == ["first done", "second started"]


def test_a_wait_longer_than_the_bound_is_busy_with_retry_after() -> None:
    async def scenario() -> tuple[float, int]:
        queue = ModelQueue(timeout_s=0.2)
        release = threading.Event()
        await queue.start(blocking_job(release))
        started = time.monotonic()
        with pytest.raises(BusyError):
            await queue.start(blocking_job(threading.Event()))
        waited = time.monotonic() - started
        retry_after = queue.retry_after()
        release.set()
        await queue.close()
        return waited, retry_after

    waited, retry_after = asyncio.run(scenario())
    assert 0.15 < waited < 1.0
    assert retry_after >= 1


def test_the_turn_passes_only_when_the_thread_ends_even_if_the_request_is_cancelled() -> None:
    async def scenario() -> None:
        queue = ModelQueue(timeout_s=5)
        release = threading.Event()
        job = blocking_job(release)
        await queue.start(job)
        waiter = asyncio.create_task(job.answer())
        await asyncio.sleep(0.05)
        waiter.cancel()  # the request went away; the thread is still generating
        await asyncio.sleep(0.1)
        assert queue.busy, "a cancelled request must not free the model while its thread runs"
        release.set()
        for _ in range(50):
            if not queue.busy:
                break
            await asyncio.sleep(0.02)
        assert not queue.busy
        await queue.close()

    asyncio.run(scenario())


def test_stop_raises_inside_the_answer_loop_at_the_next_sentence() -> None:
    async def scenario() -> list[str]:
        queue = ModelQueue(timeout_s=5)
        release = threading.Event()
        job = blocking_job(release, pieces=["one. ", "two. "], stream=True)
        await queue.start(job)
        got = []
        async for piece in job.pieces():
            got.append(piece)
            if len(got) == 2:
                job.stop()
                release.set()
        with pytest.raises(GenerationStopped):
            await job.answer()
        await queue.close()
        return got

    assert asyncio.run(scenario()) == ["one. ", "two. "]


def test_stoppable_generator_stops_between_tokens() -> None:
    async def scenario() -> tuple[int, bool]:
        queue = ModelQueue(timeout_s=5)
        model = StoppableGenerator(FakeGenerator("a b c d e f g h i j"))
        produced: list[str] = []
        first_token = threading.Event()
        go_on = threading.Event()

        def ask(on_text: OnText) -> Answer:
            for piece in model.stream([], 100):
                produced.append(piece)
                first_token.set()
                go_on.wait(5)
            return fake_answer()

        job = AnswerJob(ask, stream=False)
        await queue.start(job)
        await asyncio.to_thread(first_token.wait, 5)
        job.stop()
        go_on.set()
        try:
            await job.answer()
            stopped = False
        except GenerationStopped:
            stopped = True
        await queue.close()
        return len(produced), stopped

    produced, stopped = asyncio.run(scenario())
    assert stopped and produced == 1


@pytest.mark.parametrize(
    ("service_s", "running_for_s", "waiting", "expected"),
    [
        (10.0, 4.0, 2, 26),  # 6 s left of the running turn, then one turn for each of two waiting
        (10.0, None, 0, 1),  # idle: come back at once (never 0, which clients read as "now")
        (10.0, 14.0, 0, 1),  # a turn running longer than usual leaves nothing to wait for
        (2.5, 0.0, 1, 5),  # whole seconds, rounded up
    ],
)
def test_retry_after_is_the_measured_turn_times_the_turns_ahead(
    service_s: float, running_for_s: float | None, waiting: int, expected: int
) -> None:
    assert retry_after_s(service_s, running_for_s, waiting, cap_s=60) == expected


def test_retry_after_is_capped() -> None:
    # the load that produced 947 s in issue 18: ~63 s turns, 15 requests waiting
    assert retry_after_s(63.0, 10.0, 15, cap_s=60) == 60
    assert retry_after_s(63.0, 10.0, 15, cap_s=120) == 120
