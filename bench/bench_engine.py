"""Benchmark of the request engine (not a test): throughput against a loopback OpenAI-compatible server.

The server (``tests/fakeserver_openai.FakeOpenAI``, one thread per connection, a deep listen backlog) runs in its own
process and answers every chat completion after ``--latency`` seconds; with ``--rate_429`` it answers that share
of calls at once with HTTP 429 and ``Retry-After: --retry_after`` (a real rate limiter answers before any
generation). The client is the real path: :class:`distalign.engine.Executor` (no cache) over the ``openai``
backend (``openai/<model>`` with ``base_url=http://127.0.0.1:PORT/v1`` and a dummy key).

Prints one table: requests/s per concurrency without and with 429s, the ratio to concurrency 1, and the share of
the ideal (concurrency / latency). Concurrency 1 uses fewer requests (``--n_c1``, default 50: 1,000 would take
200 s). Targets: >= 80 % of ideal at concurrency 32; 5 % of 429s cost no throughput beyond the extra calls.

    python bench/bench_engine.py [--latency 0.2] [--requests 1000] [--concurrency 1 8 32 128]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import random
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from fakeserver_openai import FakeOpenAI  # noqa: E402
from fakeservers import _Handler, _Server  # noqa: E402

from distalign.backends import BackendOptions, get_backend  # noqa: E402
from distalign.engine import Executor, RetryPolicy  # noqa: E402
from distalign.engine.cache import NullCache  # noqa: E402
from distalign.types import Message, Request  # noqa: E402

MODEL = "openai/bench-model"


class _DeepServer(_Server):
    request_queue_size = 1024  # 128 clients connect at once; the stdlib default backlog is 5


class RateLimitedOpenAI(FakeOpenAI):
    """FakeOpenAI that answers a seeded share of chat calls with an immediate 429 (before any latency)."""

    def __init__(self, rate_429: float = 0.0, seed: int = 0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rate_429 = rate_429
        self._rng = random.Random(seed)

    def start(self) -> RateLimitedOpenAI:
        self._httpd = _DeepServer(("127.0.0.1", 0), _Handler)
        self._httpd.fake = self
        threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        return self

    def _dispatch(self, h: _Handler, method: str, raw: bytes) -> None:
        with self._lock:
            limited = self.rate_429 > 0 and self._rng.random() < self.rate_429
        if limited and h.path.startswith(self.main_path):
            with self._lock:
                self.counts["429"] += 1
            self._fault(h, "429")
            return
        super()._dispatch(h, method, raw)


def serve(conn: Any, latency: float, rate_429: float, retry_after: float) -> None:
    """Server process: start, send the URL, serve until told to stop, send the call counts."""
    srv = RateLimitedOpenAI(rate_429=rate_429, latency=latency, retry_after=retry_after).start()
    conn.send(srv.url)
    conn.recv()
    conn.send(dict(srv.counts))
    srv.stop()


@dataclass
class Measure:
    """One measured configuration."""

    concurrency: int
    requests: int
    seconds: float
    calls: int
    n_429: int
    failed: int

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


def requests_for(n: int, tag: str) -> list[Request]:
    """``n`` distinct single-letter requests."""
    return [
        Request((Message("user", f"[{tag} {i}] Which one?\nA. yes\nB. no\nAnswer:"),), max_tokens=1, temperature=1.0)
        for i in range(n)
    ]


async def drive(url: str, n: int, concurrency: int, tag: str) -> tuple[float, int]:
    """Send ``n`` requests through the engine; returns (seconds, failures)."""
    backend = get_backend(MODEL, BackendOptions(base_url=url + "/v1", timeout=30.0))
    ex = Executor(backend, NullCache(), concurrency, RetryPolicy(max_retries=8), timeout=70.0)
    await ex.run(requests_for(1, f"warm-{tag}")[0])  # client and connection set-up outside the timing
    reqs = requests_for(n, tag)
    start = time.perf_counter()
    outs = await asyncio.gather(*(ex.run(r) for r in reqs))
    elapsed = time.perf_counter() - start
    await backend.aclose()
    return elapsed, sum(not o.ok for o in outs)


def measure(latency: float, rate_429: float, retry_after: float, concurrency: int, n: int) -> Measure:
    """One configuration against a fresh server process."""
    parent, child = mp.Pipe()
    proc = mp.get_context("spawn").Process(target=serve, args=(child, latency, rate_429, retry_after), daemon=True)
    proc.start()
    url = parent.recv()
    try:
        seconds, failed = asyncio.run(drive(url, n, concurrency, f"c{concurrency}-r{rate_429}"))
    finally:
        parent.send("stop")
        counts = parent.recv()
        proc.join(10)
    calls = counts.get(FakeOpenAI.main_path, 0) + counts.get("429", 0) - 1  # minus the warm-up call
    return Measure(concurrency, n, seconds, calls, counts.get("429", 0), failed)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--latency", type=float, default=0.2)
    p.add_argument("--requests", type=int, default=1000)
    p.add_argument("--n_c1", type=int, default=50, help="requests at concurrency 1")
    p.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32, 128])
    p.add_argument("--rate_429", type=float, default=0.05)
    p.add_argument("--retry_after", type=float, default=0.05)
    args = p.parse_args()
    os.environ.setdefault("OPENAI_API_KEY", "sk-" + "bench-dummy-key-0000000000000000")
    print(
        f"loopback OpenAI server in its own process, {args.latency * 1000:.0f} ms per call; "
        f"429 runs: {args.rate_429:.0%} of calls answered 429 with Retry-After {args.retry_after:g} s"
    )
    head = (
        f"{'conc':>5} {'n':>5} | {'req/s':>7} {'x c=1':>6} {'% ideal':>8} | {'req/s 429':>9} {'x c=1':>6} "
        f"{'% ideal':>8} {'429s':>5} {'calls':>6} {'failed':>6} | {'429 / clean':>11}"
    )
    print(head)
    print("-" * len(head))
    base: dict[bool, float] = {}
    for c in args.concurrency:
        n = args.n_c1 if c == 1 else args.requests
        clean = measure(args.latency, 0.0, args.retry_after, c, n)
        limited = measure(args.latency, args.rate_429, args.retry_after, c, n)
        ideal = c / args.latency
        base.setdefault(False, clean.rate)
        base.setdefault(True, limited.rate)
        print(
            f"{c:>5} {n:>5} | {clean.rate:7.1f} {clean.rate / base[False]:6.1f} {clean.rate / ideal:8.0%} | "
            f"{limited.rate:9.1f} {limited.rate / base[True]:6.1f} {limited.rate / ideal:8.0%} "
            f"{limited.n_429:>5} {limited.calls:>6} {limited.failed + clean.failed:>6} | "
            f"{limited.rate / clean.rate:11.2f}"
        )


if __name__ == "__main__":
    main()
