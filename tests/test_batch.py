"""Batch APIs (distalign/engine/batch.py) round trips against the loopback fake OpenAI and Anthropic servers."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fakeserver_anthropic import FakeAnthropic
from fakeserver_openai import FakeOpenAI
from fakeservers import FakeServer

from distalign.backends import BackendError, BackendOptions, get_backend
from distalign.backends.base import Backend
from distalign.engine import Executor, RetryPolicy
from distalign.engine.batch import BatchReport, Poll, custom_id_of, run_batches, state_path
from distalign.engine.cache import ResponseCache
from distalign.files import DataError
from distalign.parsers import parse_logprobs
from distalign.types import Message, Request

FAST = Poll(first_s=0.001, factor=1.0, max_s=0.001)


def requests(n: int, **kw: Any) -> list[Request]:
    return [Request((Message("user", f"Question {i}? Answer:"),), max_tokens=2, **kw) for i in range(n)]


@pytest.fixture(params=["openai", "anthropic"])
def setup(request: pytest.FixtureRequest) -> Iterator[tuple[FakeServer, Backend]]:
    if request.param == "openai":
        with FakeOpenAI() as srv:
            yield (
                srv,
                get_backend(
                    "openai/gpt-4o-mini",
                    BackendOptions(
                        base_url=srv.url + "/v1",  # type: ignore[misc]
                        extra=(("batch_api", "true"),),
                    ),
                ),
            )
    else:
        with FakeAnthropic() as srv:
            yield (
                srv,
                get_backend(
                    "anthropic/claude-3-haiku-20240307",  # type: ignore[misc]
                    BackendOptions(extra=(("base_url", srv.url),)),
                ),
            )


def batch_run(
    backend: Backend, reqs: list[Request], cache: ResponseCache, state: Path, poll: Poll = FAST
) -> BatchReport:
    return asyncio.run(run_batches(backend, reqs, cache, state, poll))


def submits(srv: FakeServer) -> int:
    return srv.counts["/v1/batches"] + srv.counts["/v1/messages/batches"]


def normal_pass(backend: Backend, reqs: list[Request], cache: ResponseCache) -> list[Any]:
    async def go() -> list[Any]:
        ex = Executor(backend, cache, policy=RetryPolicy(base_delay=0.001))
        out = [await ex.run(r) for r in reqs]
        await backend.aclose()
        return out

    return asyncio.run(go())


def test_round_trip_fills_the_cache_and_the_normal_pass_makes_no_call(
    setup: tuple[FakeServer, Backend], tmp_path: Path
) -> None:
    srv, backend = setup
    reqs = requests(5)
    cache = ResponseCache(tmp_path / "cache.sqlite")
    report = batch_run(backend, reqs, cache, tmp_path / "state")
    assert (report.submitted, report.cached, report.failed) == (5, 5, {})
    assert submits(srv) == 1 and srv.calls == 0
    outcomes = normal_pass(backend, reqs, cache)
    assert all(o.cached for o in outcomes) and srv.calls == 0
    assert all(o.completion.text == "A" for o in outcomes)


def test_logprobs_survive_the_openai_batch(tmp_path: Path) -> None:
    with FakeOpenAI() as srv:
        b = get_backend("openai/gpt-4o", BackendOptions(base_url=srv.url + "/v1", extra=(("batch_api", "true"),)))
        reqs = requests(2, top_logprobs=20, letters=("A", "B", "C"))
        cache = ResponseCache(":memory:")
        batch_run(b, reqs, cache, tmp_path)
        c = cache.get(cache.key(b.cache_identity(), reqs[0]))
        assert c is not None and parse_logprobs(c.top_logprobs, "ABC").parse_ok
        line = json.loads(next(iter(srv.files.values())).decode().splitlines()[0])
        assert line["url"] == "/v1/chat/completions" and line["body"]["top_logprobs"] == 20


def test_failed_items_are_reported_and_left_for_the_normal_pass(
    setup: tuple[FakeServer, Backend], tmp_path: Path
) -> None:
    srv, backend = setup
    reqs = requests(4)
    cache = ResponseCache(":memory:")
    bad = custom_id_of(cache.key(backend.cache_identity(), reqs[2]))
    srv.batch_fail_ids = {bad}
    report = batch_run(backend, reqs, cache, tmp_path)
    assert report.cached == 3 and list(report.failed) == [bad] and "fake item failure" in report.failed[bad]
    outcomes = normal_pass(backend, reqs, cache)
    assert [o.cached for o in outcomes] == [True, True, False, True] and srv.calls == 1


def test_interrupted_run_resumes_polling_instead_of_resubmitting(
    setup: tuple[FakeServer, Backend], tmp_path: Path
) -> None:
    srv, backend = setup
    srv.batch_polls = 1000
    reqs = requests(3)
    cache = ResponseCache(":memory:")
    first = batch_run(backend, reqs, cache, tmp_path, Poll(first_s=0.001, timeout_s=0.0))
    assert first.submitted == 3 and first.cached == 0 and len(first.failed) == 3
    state = json.loads(state_path(tmp_path, backend.cache_identity()).read_text())
    assert len(state["batches"]) == 1 and not state["batches"][0]["done"]
    srv.batch_polls = 0
    second = batch_run(backend, reqs, cache, tmp_path)
    assert (second.submitted, second.resumed, second.cached) == (0, 1, 3) and submits(srv) == 1
    third = batch_run(backend, reqs, cache, tmp_path)  # everything cached: nothing to do
    assert (third.submitted, third.cached) == (0, 0) and submits(srv) == 1


def test_requests_are_chunked_within_api_limits(setup: tuple[FakeServer, Backend], tmp_path: Path) -> None:
    srv, backend = setup
    backend.batch_max_requests = 2  # type: ignore[attr-defined]
    report = batch_run(backend, requests(5), ResponseCache(":memory:"), tmp_path)
    assert report.submitted == 5 and report.cached == 5 and submits(srv) == 3


def test_backend_without_batch_api_is_a_clear_error(tmp_path: Path) -> None:
    b = get_backend("openai/llama", BackendOptions(base_url="http://127.0.0.1:9/v1"))
    with pytest.raises(BackendError, match="no batch API"):
        batch_run(b, requests(1), ResponseCache(":memory:"), tmp_path)


def test_foreign_state_file_is_refused(tmp_path: Path) -> None:
    b = get_backend("anthropic/claude-3-haiku-20240307", BackendOptions(extra=(("base_url", "http://127.0.0.1:9"),)))
    path = state_path(tmp_path, b.cache_identity())
    path.write_text(json.dumps({"identity": "someone else", "batches": []}))
    with pytest.raises(DataError, match="delete it"):
        batch_run(b, requests(1), ResponseCache(":memory:"), tmp_path)
