"""The async request executor: cache lookup, bounded concurrency, retries with backoff.

:class:`Executor` runs one :class:`~distalign.types.Request` at a time per call, many calls at once:

* a cached completion is returned without a backend call;
* at most ``concurrency`` requests are in flight (an :class:`asyncio.Semaphore`);
* a :class:`~distalign.backends.TransientError` (429, 5xx, timeouts, dropped connections) is retried
  up to ``max_retries`` times with exponential backoff and full jitter, waiting at least the
  server's ``Retry-After`` (and just that on the first retry); any other error fails at once;
* a success is scrubbed of secrets (an API key echoed by a proxy never reaches the cache, results or logs)
  and cached; a failure is returned as an :class:`Outcome` with the error text (scrubbed of
  secrets), never raised and never turned into a zero distribution.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

from distalign.backends.base import Backend, TransientError
from distalign.engine.cache import Cache
from distalign.redact import redact
from distalign.types import Completion, Request

Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class RetryPolicy:
    """How transient failures are retried.

    Attributes:
        max_retries: retries after the first attempt (0: no retry).
        base_delay: seconds of the first backoff ceiling; it doubles per retry.
        max_delay: cap of the backoff ceiling.
    """

    max_retries: int = 5
    base_delay: float = 1.0
    max_delay: float = 60.0

    def delay(self, retry: int, rng: random.Random, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number ``retry`` (0-based): full jitter, at least ``retry_after``.

        Without ``Retry-After`` the wait is drawn from [0, min(max_delay, base_delay · 2^retry)]. When the server
        says how long to wait, the first retry waits just that (a rate limiter's short ``Retry-After`` costs no
        more), and later retries wait at least that and at least the jittered backoff one step behind.

        >>> policy = RetryPolicy(base_delay=1.0, max_delay=4.0)
        >>> all(0 <= policy.delay(5, random.Random(s)) <= 4.0 for s in range(50))
        True
        >>> policy.delay(0, random.Random(0), retry_after=7.5), policy.delay(0, random.Random(0), retry_after=0.05)
        (7.5, 0.05)
        >>> all(0.05 <= policy.delay(2, random.Random(s), retry_after=0.05) <= 2.0 for s in range(50))
        True
        """
        if retry_after is not None:
            if retry == 0:
                return retry_after
            retry -= 1
        wait = rng.uniform(0, min(self.max_delay, self.base_delay * 2**retry))
        return max(wait, retry_after) if retry_after is not None else wait


@dataclass(frozen=True)
class Outcome:
    """What happened to one request.

    Attributes:
        request: the request.
        key: its cache key.
        completion: the completion (``None`` when the request failed).
        cached: answered from the cache.
        attempts: backend calls made (0 for a cache hit).
        latency_s: wall time of the successful call (0 for a cache hit).
        error: why it failed ("" on success).
    """

    request: Request
    key: str
    completion: Completion | None
    cached: bool = False
    attempts: int = 0
    latency_s: float = 0.0
    error: str = ""

    @property
    def ok(self) -> bool:
        """Whether a completion is available."""
        return self.completion is not None


@dataclass
class RunStats:
    """Counters of a run (one backend): requests answered, cached, failed; tokens used; retries."""

    sent: int = 0
    cached: int = 0
    failed: int = 0
    retries: int = 0
    input_tokens: int = 0
    output_tokens: int = 0

    def add(self, outcome: Outcome) -> None:
        """Count one finished request."""
        if not outcome.ok:
            self.failed += 1
        elif outcome.cached:
            self.cached += 1
        else:
            self.sent += 1
            assert outcome.completion is not None
            self.input_tokens += outcome.completion.input_tokens
            self.output_tokens += outcome.completion.output_tokens
        self.retries += max(0, outcome.attempts - 1)


class Executor:
    """Runs requests against one backend through the cache.

    Args:
        backend: the model.
        cache: the response cache (a :class:`~distalign.engine.cache.NullCache` for ``--no_cache``).
        concurrency: requests in flight at most.
        policy: retry policy.
        timeout: seconds per attempt (``None``: no limit beyond the backend's own).
        seed: seed of the jitter generator.
        sleep: the sleep function (tests pass a fake one).
    """

    def __init__(
        self,
        backend: Backend,
        cache: Cache,
        concurrency: int = 8,
        policy: RetryPolicy | None = None,
        timeout: float | None = None,
        seed: int = 0,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {concurrency}")
        self.backend = backend
        self.cache = cache
        self.identity = backend.cache_identity()
        self.policy = policy or RetryPolicy()
        self.timeout = timeout
        self.stats = RunStats()
        self._semaphore = asyncio.Semaphore(concurrency)
        self._rng = random.Random(seed)
        self._sleep = sleep

    def key(self, request: Request) -> str:
        """Cache key of ``request`` for this backend."""
        return self.cache.key(self.identity, request)

    def cached(self, request: Request) -> Completion | None:
        """The cached completion of ``request``, if any (no backend call)."""
        return self.cache.get(self.key(request))

    async def run(self, request: Request) -> Outcome:
        """Answer ``request`` from the cache or the backend; failures come back as an :class:`Outcome`."""
        key = self.key(request)
        hit = self.cache.get(key)
        if hit is not None:
            outcome = Outcome(request, key, hit, cached=True)
        else:
            async with self._semaphore:
                outcome = await self._call(request, key)
            if outcome.completion is not None:
                self.cache.put(key, outcome.completion)
        self.stats.add(outcome)
        return outcome

    async def _call(self, request: Request, key: str) -> Outcome:
        """Call the backend with retries on transient errors."""
        attempts = 0
        while True:
            attempts += 1
            start = time.perf_counter()
            try:
                completion = await self._attempt(request)
            except TransientError as e:
                if attempts > self.policy.max_retries:
                    return Outcome(request, key, None, attempts=attempts, error=_describe(e, attempts))
                await self._sleep(self.policy.delay(attempts - 1, self._rng, e.retry_after))
                continue
            except Exception as e:  # noqa: BLE001 - any other backend error fails this request, not the run
                return Outcome(request, key, None, attempts=attempts, error=_describe(e, attempts))
            latency = time.perf_counter() - start
            return Outcome(request, key, without_secrets(completion), attempts=attempts, latency_s=latency)

    async def _attempt(self, request: Request) -> Completion:
        """One backend call; timeouts and dropped connections become :class:`TransientError`."""
        try:
            if self.timeout is None:
                return await self.backend.complete(request)
            return await asyncio.wait_for(self.backend.complete(request), self.timeout)
        except (asyncio.TimeoutError, TimeoutError):
            raise TransientError(f"no answer within {self.timeout:g} s") from None
        except OSError as e:  # ConnectionResetError, BrokenPipeError, ...
            raise TransientError(f"connection error: {type(e).__name__}: {e}") from None


def without_secrets(completion: Completion) -> Completion:
    """``completion`` with secrets masked in its text fields (the same object when there were none)."""
    clean = replace(
        completion,
        text=redact(completion.text),
        model_id=redact(completion.model_id),
        fingerprint=redact(completion.fingerprint),
        top_logprobs=tuple((redact(token), lp) for token, lp in completion.top_logprobs),
    )
    return completion if clean == completion else clean


def _describe(error: BaseException, attempts: int) -> str:
    """A one-line, secret-free description of a failure.

    >>> _describe(TransientError("HTTP 429"), 6)
    'TransientError: HTTP 429 (after 6 attempts)'
    """
    tail = f" (after {attempts} attempts)" if attempts > 1 else ""
    return redact(f"{type(error).__name__}: {error}{tail}")
