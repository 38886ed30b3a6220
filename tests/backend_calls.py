"""Drive a backend from synchronous tests: one request, a failing request, or several concurrent ones.

Each helper runs its own event loop and closes the backend afterwards (worker threads, HTTP clients).
"""

from __future__ import annotations

import asyncio

import pytest

from distalign.backends.base import Backend, BackendError
from distalign.types import Completion, Request


def complete_all(backend: Backend, requests: list[Request]) -> list[Completion]:
    """The completions of ``requests``, sent concurrently (in-process backends batch them)."""

    async def go() -> list[Completion]:
        try:
            return list(await asyncio.gather(*(backend.complete(r) for r in requests)))
        finally:
            await backend.aclose()

    return asyncio.run(go())


def complete_one(backend: Backend, request: Request) -> Completion:
    """The completion of one request."""
    return complete_all(backend, [request])[0]


def complete_fails(backend: Backend, request: Request) -> BackendError:
    """The error one request raises (the test fails when it raises none)."""
    with pytest.raises(BackendError) as info:
        complete_one(backend, request)
    return info.value
