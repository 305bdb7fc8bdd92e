"""The model is single-user: one generation at a time, a bounded wait for a turn, and a way out.

- `ModelQueue` hands out turns in arrival order. A request that waits longer than
  `queue_timeout_s` gets `BusyError` (503 with Retry-After) instead of hanging. Retry-After is
  `retry_after_s`: the measured time of a turn times the turns ahead, capped.
- `AnswerJob` runs one blocking `service.ask` on the queue's model thread and hands its verified
  sentences to the event loop as they come. The turn passes on only when that thread has
  finished, so a cancelled request can never overlap two generations.
- Stopping: `AnswerJob.stop()` (a client disconnected) makes the next `on_text` call raise
  `GenerationStopped` inside the answer loop, and `StoppableGenerator`, when the service's
  generator is wrapped in it, stops between two tokens.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import suppress
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.responses import Response

from rag.constrain import Constraint
from rag.errors import BusyError
from rag.generation import Generator, Message
from rag.lead import OnText

log = logging.getLogger(__name__)

_current = threading.local()  # the stop event of the job running on this thread
_END = object()

T = TypeVar("T")
R = TypeVar("R")


class GenerationStopped(Exception):
    """Raised inside a generation whose client went away."""


class StoppableGenerator:
    """Wraps a `Generator` so the job running it can stop between tokens, not just sentences."""

    def __init__(self, inner: Generator) -> None:
        self.inner = inner
        self.name = inner.name
        self.n_ctx = inner.n_ctx

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def stream(
        self, messages: Sequence[Message], max_tokens: int, constraint: Constraint | None = None
    ) -> Iterator[str]:
        stop: threading.Event | None = getattr(_current, "stop", None)
        pieces = self.inner.stream(messages, max_tokens, constraint)
        try:
            for piece in pieces:
                if stop is not None and stop.is_set():
                    raise GenerationStopped
                yield piece
        finally:
            close = getattr(pieces, "close", None)
            if close is not None:
                close()  # lets the inner generator release its model lock now, not at GC


class AnswerJob:
    """One `ask(on_text)` call run on the model thread, its sentences streamed to the loop."""

    def __init__(self, ask: Callable[[OnText], Any], stream: bool) -> None:
        self._ask = ask
        self._stream = stream
        self._loop = asyncio.get_running_loop()
        self._pieces: asyncio.Queue[object] = asyncio.Queue()
        self._done: asyncio.Future[Any] | None = None  # an Answer, or a Summary for /v1/summaries
        self.stopped = threading.Event()

    def stop(self) -> None:
        """Ask the generation to end at its next token or sentence; safe to call any time."""
        self.stopped.set()

    def _on_text(self, text: str) -> None:
        if self.stopped.is_set():
            raise GenerationStopped
        if self._stream:
            self._loop.call_soon_threadsafe(self._pieces.put_nowait, text)

    def run(self) -> Any:
        """The body of the job, on the model thread."""
        _current.stop = self.stopped
        try:
            return self._ask(self._on_text)
        finally:
            _current.stop = None
            with suppress(RuntimeError):  # the loop is already closed at shutdown
                self._loop.call_soon_threadsafe(self._pieces.put_nowait, _END)

    def attach(self, future: Future[Any]) -> None:
        self._done = asyncio.wrap_future(future, loop=self._loop)
        # a client that left never awaits the outcome; it is expected, not worth a warning
        self._done.add_done_callback(lambda done: done.cancelled() or done.exception())

    async def pieces(self) -> AsyncIterator[str]:
        """The verified sentences as the answer loop releases them (streaming jobs only)."""
        while True:
            item = await self._pieces.get()
            if item is _END:
                return
            assert isinstance(item, str)
            yield item

    async def answer(self) -> Any:
        """The finished answer; raises what the answer loop raised."""
        assert self._done is not None, "the job was never started"
        # shielded: a cancelled request must not cancel the bookkeeping of a running thread
        return await asyncio.shield(self._done)

    async def stop_on_disconnect(self, request: Request, interval_s: float = 0.2) -> None:
        """Poll the client until the job ends; stop the job when the client has gone."""
        assert self._done is not None
        while not self._done.done():
            if await request.is_disconnected():
                log.info("client disconnected; stopping its generation")
                self.stop()
                return
            await asyncio.sleep(interval_s)

    async def answer_while_connected(self, request: Request) -> Any | None:
        """The finished answer, or None when the client went away and the job was stopped."""
        watcher = asyncio.create_task(self.stop_on_disconnect(request))
        try:
            return await self.answer()
        except GenerationStopped:
            return None
        finally:
            watcher.cancel()


# Weight of the newest turn in the moving average of a turn's length: recent turns count most
# (a burst of long summaries should raise the estimate within a few turns), older ones fade.
SERVICE_TIME_WEIGHT = 0.3


def retry_after_s(service_s: float, running_for_s: float | None, waiting: int, cap_s: int) -> int:
    """Whole seconds until a turned-away client could expect a turn: what is left of the running
    turn (`service_s`, the measured length of a turn, less `running_for_s`; nothing when idle)
    plus one turn for each of the `waiting` requests ahead of it. At least 1, at most `cap_s`:
    past the cap the estimate extrapolates turns that have not started, and clients stop
    honouring long waits (the openai SDK does not retry beyond 120 s)."""
    left = 0.0 if running_for_s is None else max(0.0, service_s - running_for_s)
    return max(1, min(cap_s, math.ceil(left + service_s * max(0, waiting))))


class ModelQueue:
    """Turns at the model, first come first served, with a bounded wait."""

    def __init__(self, timeout_s: float, retry_after_max_s: int = 60) -> None:
        self.timeout_s = timeout_s
        self.retry_after_max_s = retry_after_max_s
        self._lock = asyncio.Lock()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rag-model")
        self._current: AnswerJob | None = None
        self._started = 0.0
        self._service_s: float | None = None  # moving average of a finished turn's length
        self.waiting = 0

    @property
    def busy(self) -> bool:
        return self._lock.locked()

    @property
    def service_s(self) -> float | None:
        """The measured length of a turn (a moving average), or None before the first ends."""
        return self._service_s

    def retry_after(self) -> int:
        """Seconds a turned-away client should wait (see `retry_after_s`). Before any turn has
        finished, the running turn's time so far is the only measurement there is."""
        running_for = time.monotonic() - self._started if self.busy else None
        service = self._service_s if self._service_s is not None else (running_for or 0.0)
        return retry_after_s(service, running_for, self.waiting, self.retry_after_max_s)

    async def _acquire(self) -> None:
        self.waiting += 1
        try:
            async with asyncio.timeout(self.timeout_s):
                await self._lock.acquire()
        except TimeoutError:
            raise BusyError(
                f"the model is busy and no turn came within {self.timeout_s:g}s",
                fix="retry after the number of seconds in the Retry-After header",
            ) from None
        finally:
            self.waiting -= 1

    def _release(self) -> None:
        held = time.monotonic() - self._started
        previous = self._service_s if self._service_s is not None else held
        self._service_s = (1 - SERVICE_TIME_WEIGHT) * previous + SERVICE_TIME_WEIGHT * held
        self._current = None
        self._lock.release()

    async def start(self, job: AnswerJob) -> None:
        """Wait for a turn (or raise BusyError), then start `job` on the model thread."""
        await self._acquire()
        loop = asyncio.get_running_loop()
        try:
            self._started = time.monotonic()
            self._current = job
            future = self._executor.submit(job.run)
        except BaseException:
            self._release()
            raise

        def release_from_thread(_: Future[Any]) -> None:
            with suppress(RuntimeError):  # the loop is already closed at shutdown
                loop.call_soon_threadsafe(self._release)

        # the turn ends when the thread ends, whatever happened to the request meanwhile
        future.add_done_callback(release_from_thread)
        job.attach(future)

    async def answer(self, request: Request, ask: Callable[[OnText], T], respond: Callable[[T], R]) -> R | Response:
        """Run `ask` in its turn (BusyError if none comes in time) and `respond` to its result;
        499 if the client went away first, which stops the generation."""
        job = AnswerJob(ask, stream=False)
        await self.start(job)
        result = await job.answer_while_connected(request)
        if result is None:
            return Response(status_code=499)  # the client has gone; nobody reads this
        return respond(result)

    async def close(self) -> None:
        """Stop the running job and wait for the model thread to finish."""
        if self._current is not None:
            self._current.stop()
        await asyncio.to_thread(self._executor.shutdown, True, cancel_futures=True)
