"""The backend interface: one small class per model protocol (docs/original.md §1, "Models").

A backend turns a :class:`~distalign.types.Request` into a :class:`~distalign.types.Completion`. It
declares its :class:`~distalign.types.Capabilities` up front so the run engine can decide, before any
call, which (model, expression method) pairs are applicable. Errors are classified: a
:class:`TransientError` (429, 5xx, timeouts, connection resets) is retried by the engine with backoff;
anything else is recorded as a failed request and retried only by the next run.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

from distalign.types import Capabilities, Completion, Request


class BackendError(Exception):
    """A request failed and retrying it now will not help."""


class TransientError(BackendError):
    """A request failed for a reason that may pass (rate limit, overload, timeout, dropped connection).

    Attributes:
        retry_after: seconds the server asked us to wait (``Retry-After``), when it said.
    """

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class BackendOptions:
    """Options shared by all backends; each backend reads the fields it understands.

    Attributes:
        base_url: server address for HTTP backends (``OPENAI_BASE_URL`` / ``ANTHROPIC_BASE_URL`` otherwise).
        timeout: seconds per HTTP request.
        batch_size: prompts per forward pass (local backends).
        device: ``cpu``, ``cuda``, ``auto`` (local backends).
        dtype: ``auto``, ``bfloat16``, ``float32`` (local backends).
        logprobs: override whether the server returns log-probs (OpenAI-compatible servers).
        max_top_logprobs: override the number of alternatives the server returns.
        tensor_parallel_size: GPUs per model replica (vLLM).
        extra: free-form ``key=value`` options (``--backend_arg``), backend specific.
    """

    base_url: str | None = None
    timeout: float = 60.0
    batch_size: int = 8
    device: str = "auto"
    dtype: str = "auto"
    logprobs: bool | None = None
    max_top_logprobs: int | None = None
    tensor_parallel_size: int = 1
    extra: tuple[tuple[str, str], ...] = field(default=())


class Backend(ABC):
    """A model behind one protocol.

    Attributes:
        name: the ``provider/model`` name.
        capabilities: what this model accepts (checked before a run).
    """

    name: str
    capabilities: Capabilities

    @abstractmethod
    async def complete(self, request: Request) -> Completion:
        """Run one request; raise :class:`TransientError` or :class:`BackendError` on failure."""

    async def ready(self) -> None:  # noqa: B027 - optional hook, default no-op
        """Raise :class:`BackendError` before any request when the model cannot answer at all.

        Called once per run before the grid is sent: a missing API key, or a server where nothing listens, is one
        clear line instead of a failure per request.
        """

    def cache_identity(self) -> str:
        """What distinguishes this backend's answers in the response cache (name + server address)."""
        return self.name

    async def aclose(self) -> None:  # noqa: B027 - optional hook, default no-op
        """Release clients, servers or GPU memory."""
