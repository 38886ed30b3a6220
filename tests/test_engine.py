"""Async executor: cache hits, bounded concurrency, retries with backoff and Retry-After, failures as data."""

from __future__ import annotations

import asyncio
import random

import pytest

from distalign.backends.base import Backend, BackendError, TransientError
from distalign.engine import Executor, RetryPolicy
from distalign.engine.cache import NullCache, ResponseCache
from distalign.redact import MASK
from distalign.types import Capabilities, Completion, Message, Request


def req(i: int = 0) -> Request:
    return Request((Message("user", f"question {i}"),), sample_index=i)


class Scripted(Backend):
    """Raises the scripted errors in turn, then answers; tracks calls and concurrency."""

    name = "test/scripted"
    capabilities = Capabilities()

    def __init__(self, errors=(), delay: float = 0.0) -> None:
        self.errors = list(errors)
        self.delay = delay
        self.calls = 0
        self.in_flight = 0
        self.max_in_flight = 0

    async def complete(self, request: Request) -> Completion:
        self.calls += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.delay)
            if self.errors:
                raise self.errors.pop(0)
            return Completion(text=request.messages[0].content[-1], input_tokens=3, output_tokens=1)
        finally:
            self.in_flight -= 1


class FakeSleep:
    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def run(coro):
    return asyncio.run(coro)


def test_transient_errors_are_retried_with_retry_after():
    backend = Scripted([TransientError("429", retry_after=7.0), TransientError("503")])
    sleep = FakeSleep()
    ex = Executor(backend, NullCache(), policy=RetryPolicy(max_retries=3, base_delay=1.0), sleep=sleep)
    out = run(ex.run(req()))
    assert out.ok and out.attempts == 3 and backend.calls == 3
    assert sleep.waits[0] == 7.0 and 0 <= sleep.waits[1] <= 2.0
    assert (ex.stats.sent, ex.stats.failed, ex.stats.retries) == (1, 0, 2)


def test_retries_are_bounded_and_failure_is_an_outcome_not_an_exception():
    backend = Scripted([TransientError("HTTP 500")] * 10)
    ex = Executor(backend, NullCache(), policy=RetryPolicy(max_retries=2), sleep=FakeSleep())
    out = run(ex.run(req()))
    assert not out.ok and out.completion is None and backend.calls == 3
    assert out.error == "TransientError: HTTP 500 (after 3 attempts)"
    assert ex.stats.failed == 1 and ex.stats.sent == 0


@pytest.mark.parametrize("error", [BackendError("400 bad request"), KeyError("bug in a backend")])
def test_permanent_errors_are_not_retried(error):
    backend = Scripted([error])
    ex = Executor(backend, NullCache(), sleep=FakeSleep())
    out = run(ex.run(req()))
    assert not out.ok and backend.calls == 1 and type(error).__name__ in out.error


def test_timeouts_and_connection_resets_are_transient():
    backend = Scripted([ConnectionResetError("peer reset")], delay=0.0)
    sleep = FakeSleep()
    ex = Executor(backend, NullCache(), policy=RetryPolicy(max_retries=1), sleep=sleep)
    assert run(ex.run(req())).ok and backend.calls == 2
    slow = Scripted(delay=1.0)
    ex = Executor(slow, NullCache(), policy=RetryPolicy(max_retries=1), timeout=0.01, sleep=FakeSleep())
    out = run(ex.run(req()))
    assert not out.ok and "no answer within 0.01 s" in out.error and slow.calls == 2


def test_cache_hits_make_no_calls_and_failures_are_not_cached(tmp_path):
    cache = ResponseCache(tmp_path / "c.sqlite")
    backend = Scripted([BackendError("boom")])
    ex = Executor(backend, cache, sleep=FakeSleep())
    assert not run(ex.run(req(1))).ok
    assert cache.get(ex.key(req(1))) is None
    assert run(ex.run(req(1))).ok and backend.calls == 2
    again = run(ex.run(req(1)))
    assert again.cached and again.attempts == 0 and backend.calls == 2
    assert (ex.stats.sent, ex.stats.cached, ex.stats.failed) == (1, 1, 1)
    assert (ex.stats.input_tokens, ex.stats.output_tokens) == (3, 1)  # cached answers are not billed again
    cache.close()


def test_concurrency_is_bounded():
    backend = Scripted(delay=0.01)

    async def many():
        ex = Executor(backend, NullCache(), concurrency=3)
        return await asyncio.gather(*(ex.run(req(i)) for i in range(20)))

    outs = run(many())
    assert all(o.ok for o in outs) and backend.max_in_flight == 3


def test_backoff_is_full_jitter_capped():
    policy = RetryPolicy(base_delay=0.5, max_delay=8.0)
    rng = random.Random(1)
    waits = [policy.delay(r, rng) for r in range(10) for _ in range(20)]
    assert all(0 <= w <= 8.0 for w in waits) and max(waits) > 4.0
    assert all(policy.delay(0, rng) <= 0.5 for _ in range(50))
    assert policy.delay(0, rng, retry_after=30.0) == 30.0


def test_bad_concurrency_is_rejected():
    with pytest.raises(ValueError, match="concurrency must be at least 1"):
        Executor(Scripted(), NullCache(), concurrency=0)


def test_error_messages_are_scrubbed(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-" + "test-abcdefghijklmnopqrstuvwxyz")
    backend = Scripted([BackendError("Incorrect API key provided: sk-" + "test-abcdefghijklmnopqrstuvwxyz")])
    out = run(Executor(backend, NullCache(), sleep=FakeSleep()).run(req()))
    assert "abcdefghij" not in out.error and MASK in out.error
