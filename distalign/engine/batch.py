"""Asynchronous batch APIs (OpenAI Batch, Anthropic Message Batches): about half the price at scale.

With ``--batch_api`` the run engine first hands every pending, uncached request to :func:`run_batches`,
then runs its normal pass, which finds the answers in the response cache. :func:`run_batches`

1. skips requests already cached or already inside a submitted batch (an interrupted run *resumes
   polling*; it never pays twice),
2. submits the rest in chunks within the API's limits (request count and bytes), using the cache key as
   ``custom_id``, and records each batch id in ``state_dir`` (atomic JSON) *before* polling,
3. polls with exponential backoff until each batch ends, downloads the results and puts every answered
   item in the cache; failed items are reported and left to the normal pass.

A backend takes part by implementing :class:`BatchBackend` and declaring ``capabilities.batch_api``.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from distalign.backends.base import Backend, BackendError, TransientError
from distalign.files import DataError, read_json, write_json
from distalign.types import Completion, Request

log = logging.getLogger(__name__)
_CUSTOM_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


@runtime_checkable
class BatchBackend(Protocol):
    """What a backend implements to use its provider's batch API."""

    batch_max_requests: int
    batch_max_bytes: int

    def batch_line(self, request: Request, custom_id: str) -> dict[str, Any]:
        """The JSON entry that carries ``request`` in a batch (used to size chunks)."""

    async def submit_batch(self, requests: Sequence[Request], custom_ids: Sequence[str]) -> str:
        """Submit one batch; returns its id."""

    async def batch_status(self, batch_id: str) -> str:
        """``running``, ``ended`` or ``failed: <why>``."""

    async def batch_results(self, batch_id: str, requests: Mapping[str, Request]) -> dict[str, Completion | str]:
        """``custom_id -> Completion`` (answered) or ``-> error message`` (failed item)."""


class CacheLike(Protocol):
    """The part of :class:`distalign.engine.cache.ResponseCache` used here."""

    def key(self, identity: str, request: Request) -> str:
        """Cache key of a request."""

    def get(self, key: str) -> Completion | None:
        """Cached completion or ``None``."""

    def put(self, key: str, completion: Completion) -> None:
        """Store a completion."""


@dataclass
class BatchReport:
    """What :func:`run_batches` did.

    Attributes:
        submitted: requests sent in new batches.
        resumed: batches found in the state file and polled instead of resubmitted.
        cached: results written to the cache.
        failed: ``custom_id -> reason`` of items that must go through the normal pass.
    """

    submitted: int = 0
    resumed: int = 0
    cached: int = 0
    failed: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Poll:
    """Polling schedule: first wait, growth factor, longest wait, give up after ``timeout_s`` (``None``: never)."""

    first_s: float = 10.0
    factor: float = 1.5
    max_s: float = 300.0
    timeout_s: float | None = None


def custom_id_of(key: str) -> str:
    """A ``custom_id`` both APIs accept (``[A-Za-z0-9_-]{1,64}``) for a cache key.

    >>> custom_id_of("ab12"), len(custom_id_of("x" * 80))
    ('ab12', 64)
    """
    return key if _CUSTOM_ID.fullmatch(key) else hashlib.sha256(key.encode()).hexdigest()


def state_path(state_dir: Path, identity: str) -> Path:
    """The state file of one backend identity."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", identity)[:60]
    return Path(state_dir) / f"batches-{slug}-{hashlib.sha256(identity.encode()).hexdigest()[:10]}.json"


def _load_state(path: Path, identity: str) -> dict[str, Any]:
    if not path.exists():
        return {"identity": identity, "batches": []}
    state = read_json(path)
    if not isinstance(state, dict) or state.get("identity") != identity or not isinstance(state.get("batches"), list):
        raise DataError(f"{path}: not a batch state file of {identity!r}; delete it to start over")
    return state


def chunk(lines: Sequence[tuple[str, int]], max_requests: int, max_bytes: int) -> list[list[str]]:
    """Split ``(custom_id, size in bytes)`` into chunks within both limits, in order.

    >>> chunk([("a", 5), ("b", 5), ("c", 5)], max_requests=2, max_bytes=100)
    [['a', 'b'], ['c']]
    >>> chunk([("a", 5), ("b", 5), ("c", 5)], max_requests=10, max_bytes=10)
    [['a', 'b'], ['c']]
    """
    chunks: list[list[str]] = []
    current: list[str] = []
    size = 0
    for cid, n in lines:
        if current and (len(current) >= max_requests or size + n > max_bytes):
            chunks.append(current)
            current, size = [], 0
        current.append(cid)
        size += n
    if current:
        chunks.append(current)
    return chunks


async def run_batches(
    backend: Backend, requests: Sequence[Request], cache: CacheLike, state_dir: Path, poll: Poll | None = None
) -> BatchReport:
    """Answer ``requests`` through the backend's batch API and put the answers in ``cache``.

    Raises:
        BackendError: the backend has no batch API.
    """
    if not backend.capabilities.batch_api or not isinstance(backend, BatchBackend):
        raise BackendError(f"{backend.name} has no batch API; run without --batch_api")
    identity = backend.cache_identity()
    path = state_path(Path(state_dir), identity)
    state = _load_state(path, identity)
    pending = _pending(requests, cache, identity)
    report = BatchReport()
    await _submit_new(backend, pending, state, path, report)
    await _collect_all(backend, pending, cache, state, path, report, poll or Poll())
    return report


def _pending(requests: Sequence[Request], cache: CacheLike, identity: str) -> dict[str, tuple[str, Request]]:
    """``custom_id -> (cache key, request)`` of the uncached requests."""
    out: dict[str, tuple[str, Request]] = {}
    for request in requests:
        key = cache.key(identity, request)
        if cache.get(key) is None:
            out[custom_id_of(key)] = (key, request)
    return out


async def _submit_new(
    backend: Any, pending: dict[str, tuple[str, Request]], state: dict[str, Any], path: Path, report: BatchReport
) -> None:
    """Submit the pending requests that no open batch carries; save each batch id at once."""
    in_flight = {cid for b in state["batches"] if not b.get("done") for cid in b["keys"]}
    report.resumed = sum(1 for b in state["batches"] if not b.get("done"))
    todo = [cid for cid in pending if cid not in in_flight]
    sizes = [(cid, len(json.dumps(backend.batch_line(pending[cid][1], cid))) + 1) for cid in todo]
    for ids in chunk(sizes, backend.batch_max_requests, backend.batch_max_bytes):
        batch_id = await backend.submit_batch([pending[c][1] for c in ids], ids)
        state["batches"].append(
            {"id": batch_id, "keys": {c: pending[c][0] for c in ids}, "done": False, "submitted_at": time.time()}
        )
        write_json(path, state)
        report.submitted += len(ids)
        log.info("%s: submitted batch %s with %d requests", backend.name, batch_id, len(ids))


async def _collect_all(
    backend: Any,
    pending: dict[str, tuple[str, Request]],
    cache: CacheLike,
    state: dict[str, Any],
    path: Path,
    report: BatchReport,
    poll: Poll,
) -> None:
    """Poll every open batch until it ends, then store its results."""
    open_batches = [b for b in state["batches"] if not b.get("done")]
    await asyncio.gather(*(_collect(backend, b, pending, cache, report, poll) for b in open_batches))
    write_json(path, state)


async def _collect(
    backend: Any,
    batch: dict[str, Any],
    pending: dict[str, tuple[str, Request]],
    cache: CacheLike,
    report: BatchReport,
    poll: Poll,
) -> None:
    status = await _wait(backend, batch["id"], poll)
    if status != "ended":
        for cid in batch["keys"]:
            report.failed[cid] = f"batch {batch['id']} {status}"
        batch["done"] = status.startswith("failed")
        return
    known = {cid: pending[cid][1] for cid in batch["keys"] if cid in pending}
    results = await backend.batch_results(batch["id"], known)
    for cid in batch["keys"]:
        result = results.get(cid, "no result" if cid in known else "request no longer pending")
        if isinstance(result, Completion):
            cache.put(batch["keys"][cid], result)
            report.cached += 1
        elif cid in known:
            report.failed[cid] = str(result)
    batch["done"] = True
    if report.failed:
        log.warning(
            "%s: batch %s: %d item(s) failed; the normal pass will retry them",
            backend.name,
            batch["id"],
            sum(c in report.failed for c in batch["keys"]),
        )


async def _wait(backend: Any, batch_id: str, poll: Poll) -> str:
    """Poll ``batch_id`` with backoff; its final status, or ``timed out``."""
    start, delay = time.monotonic(), poll.first_s
    while True:
        try:
            status = str(await backend.batch_status(batch_id))
        except TransientError as e:
            log.warning("polling batch %s: %s (will poll again)", batch_id, e)
            status = "running"
        if status != "running":
            return status
        if poll.timeout_s is not None and time.monotonic() - start + delay > poll.timeout_s:
            return "timed out (still running; the next run resumes polling)"
        await asyncio.sleep(delay)
        delay = min(poll.max_s, delay * poll.factor)
