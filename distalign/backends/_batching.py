"""Micro-batching for in-process model backends (transformers, vLLM): concurrent calls -> one batch.

The run engine calls ``Backend.complete`` concurrently, one coroutine per request. An in-process model is
fastest when it sees those requests together, so :class:`MicroBatcher` queues them for one worker thread,
which gathers a batch (up to ``batch_size`` jobs, waiting until none has arrived for ``gather_s`` — a
sliding window, so the same command forms the same batches) and hands it to the backend's ``run``
function. Results or exceptions come back to each caller's event loop; a failure of the batch reaches
every request in it, never silently. A running batch may :meth:`MicroBatcher.take` more queued jobs of its kind
(continuous batching: a finished row's place goes to a waiting request); the others keep their order.
"""

from __future__ import annotations

import asyncio
import collections
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from distalign.backends._tokens import letter_token_ids, render_prompt
from distalign.backends.base import Backend
from distalign.types import Completion, Request


@dataclass
class Job:
    """One queued request and the future its caller awaits."""

    request: Request
    future: asyncio.Future[Completion]
    loop: asyncio.AbstractEventLoop
    ids: list[int] = field(default_factory=list)  # the encoded prompt, filled in by the worker thread


class MicroBatcher:
    """A queue drained by one worker thread into batches passed to ``run``.

    Args:
        name: thread name suffix (the backend's name).
        run: processes one batch; it must resolve every job (see :func:`deliver`).
        batch_size: most jobs per batch (``None``: no limit, e.g. vLLM schedules itself).
        gather_s: how long the worker waits for one more job before running the batch.
    """

    def __init__(self, name: str, run: Callable[[list[Job]], None], batch_size: int | None, gather_s: float) -> None:
        self.name, self.run, self.batch_size, self.gather_s = name, run, batch_size, gather_s
        self._jobs: queue.Queue[Job | None] = queue.Queue()
        self._backlog: collections.deque[Job | None] = collections.deque()  # drained by take(), served first
        self._worker: threading.Thread | None = None
        self._lock = threading.Lock()

    async def submit(self, request: Request) -> Completion:
        """Queue ``request``; resolves when its batch has run."""
        loop = asyncio.get_running_loop()
        job = Job(request, loop.create_future(), loop)
        with self._lock:
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(target=self._work, name=f"distalign-{self.name}", daemon=True)
                self._worker.start()
        self._jobs.put(job)
        return await job.future

    async def close(self) -> None:
        """Stop the worker thread after the queued jobs."""
        if self._worker is not None and self._worker.is_alive():
            self._jobs.put(None)
            await asyncio.to_thread(self._worker.join)
        self._worker = None

    def take(self, wanted: Callable[[Job], bool], limit: int) -> list[Job]:
        """Up to ``limit`` queued jobs that ``wanted`` accepts, without waiting (called by the worker thread)."""
        while True:
            try:
                self._backlog.append(self._jobs.get_nowait())
            except queue.Empty:
                break
        taken: list[Job] = []
        for job in list(self._backlog):
            if len(taken) >= limit or job is None:
                break
            if wanted(job):
                taken.append(job)
                self._backlog.remove(job)
        return taken

    def _next(self, timeout: float | None) -> Job | None:
        if self._backlog:
            return self._backlog.popleft()
        return self._jobs.get(timeout=timeout)

    def _work(self) -> None:
        while True:
            first = self._next(None)
            if first is None:
                return
            jobs, stop = self._gather(first)
            self.run(jobs)
            if stop:
                return

    def _gather(self, first: Job) -> tuple[list[Job], bool]:
        """``first`` plus the jobs that follow it closely; ``True`` when the stop signal came too."""
        jobs = [first]
        while self.batch_size is None or len(jobs) < self.batch_size:
            try:
                nxt = self._next(self.gather_s)
            except queue.Empty:
                break
            if nxt is None:
                return jobs, True
            jobs.append(nxt)
        return jobs, False


def deliver(jobs: Sequence[Job], results: Sequence[Completion | BaseException], started: float) -> None:
    """Hand each job its result (or exception) on its own event loop, with the batch's mean latency."""
    latency = (time.perf_counter() - started) / max(1, len(jobs))
    for job, result in zip(jobs, results, strict=True):
        job.loop.call_soon_threadsafe(_resolve, job.future, result, latency)


def _resolve(future: asyncio.Future[Completion], result: Completion | BaseException, latency: float) -> None:
    if future.done():
        return
    if isinstance(result, BaseException):
        future.set_exception(result)
    else:
        future.set_result(Completion(**{**result.__dict__, "latency_s": latency}))


class TokenizerMixin:
    """Prompt encoding and option-letter token ids shared by the in-process backends."""

    tokenizer: Any
    _letters: dict[str, tuple[int, ...]] | None = None

    @property
    def letter_ids(self) -> dict[str, tuple[int, ...]]:
        """Token ids of each option letter (every token that decodes to it; computed once)."""
        if self._letters is None:
            self._letters = letter_token_ids(self.tokenizer)
        return self._letters

    def encode(self, request: Request) -> list[int]:
        """Token ids of the chat-templated prompt."""
        text, templated = render_prompt(self.tokenizer, request.messages)
        return list(self.tokenizer(text, add_special_tokens=not templated)["input_ids"])


class BatchedBackend(TokenizerMixin, Backend):
    """An in-process backend whose concurrent calls run in micro-batches.

    Subclasses set ``_batcher`` (a :class:`MicroBatcher` whose ``run`` answers a batch) and ``_identity``
    (the cache identity, e.g. ``name@dtype``).
    """

    _batcher: MicroBatcher
    _identity: str

    def cache_identity(self) -> str:
        """Model name and dtype (answers of different precisions differ in the last digits)."""
        return self._identity

    async def complete(self, request: Request) -> Completion:
        """Queue the request; it runs in a batch with its concurrent neighbours."""
        return await self._batcher.submit(request)

    async def aclose(self) -> None:
        """Stop the worker thread (after the queued requests)."""
        await self._batcher.close()
