"""Anthropic Messages backend (docs/original.md §1, §3.2: Claude has no log-probabilities).

``anthropic/<model>`` uses the official SDK (``AsyncAnthropic``) with ``ANTHROPIC_API_KEY`` and, when set,
``ANTHROPIC_BASE_URL`` (or ``--backend_arg base_url=...``). System messages become the ``system``
parameter. Retries belong to the run engine (``max_retries=0``).

Sampling parameters, as of 2026 (encoded in :data:`ANTHROPIC_RULES`, first match wins):

* Claude 3.x, 3.5, 3.7 and the first Claude 4 snapshots accept ``temperature`` and ``top_p`` together.
* Opus 4.1-4.6, Sonnet 4.5+ and Haiku 4.5 reject ``temperature`` together with ``top_p``.
* Opus 4.7+, every generation-5 model and later remove ``temperature``/``top_p``/``top_k`` (400 at any value).
* API version ``2026-10-21`` (the default of SDK 2.x) rejects every sampling parameter on every model, even
  at its default. A request at temperature 1 (the paper's setting and every model's default) therefore
  sends none; another temperature is sent with ``anthropic-version: 2023-06-01`` to models that accept it,
  and is an error for models that do not.

Stop sequences are applied client-side too, because the API refuses whitespace-only ones (a lone newline).
Structured methods (a JSON schema) use ``output_config`` where the model has structured outputs and a forced tool
call otherwise (:mod:`distalign.backends._structured`); a tool call's input is the reply.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Mapping, Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any, cast

from distalign.backends._http import (
    CAPABILITY_FIELDS,
    Rule,
    apply_rules,
    capability_overrides,
    classify,
    parse_extra,
    truncate_at_stop,
)
from distalign.backends._structured import anthropic_form, anthropic_params
from distalign.backends.base import Backend, BackendError, BackendOptions
from distalign.redact import checked_base_url
from distalign.types import Capabilities, Completion, Request

if TYPE_CHECKING:  # the SDK is imported on first use (:func:`_sdk`): capability look-ups and evaluation never load it
    import anthropic
    from anthropic.types import Message as AnthropicMessage

LEGACY_API_VERSION = "2023-06-01"  # the last API version that accepts sampling parameters
DEFAULT_TEMPERATURE = 1.0
BATCH_MAX_REQUESTS = 100_000
BATCH_MAX_BYTES = 240 * 1024 * 1024  # the limit is 256 MB per batch
EXTRA_KEYS = (*CAPABILITY_FIELDS, "base_url", "api_key_env", "structured")

BASE_CAPS = Capabilities(
    logprobs=False,
    max_top_logprobs=0,
    temperature=True,
    top_p=True,
    temperature_with_top_p=True,
    seed=False,
    json_output=False,
    n_samples=False,
    chat_template=True,
    batch_api=True,
    priced=True,
)
NO_SAMPLING = {"temperature": False, "top_p": False, "temperature_with_top_p": False}
ANTHROPIC_RULES: tuple[Rule, ...] = (
    (
        r"claude-(opus|sonnet|haiku)-4-[7-9](?!\d)|claude-(opus|sonnet|haiku)-([5-9]|\d\d)|claude-(fable|mythos)",
        NO_SAMPLING,
    ),
    (r"claude-(opus-4-[1-6]|sonnet-4-[5-9]|haiku-4-[5-9])(?!\d)", {"temperature_with_top_p": False}),
    (r"claude-(instant|2|3)|claude-(opus|sonnet|haiku)-4(-0|-2025|$)|claude-(3-5|3-7)", {}),
    (r".", NO_SAMPLING),  # unknown (newer) names: send no sampling parameters
)


class AnthropicBackend(Backend):
    """Claude through the official ``anthropic`` SDK."""

    batch_max_requests = BATCH_MAX_REQUESTS
    batch_max_bytes = BATCH_MAX_BYTES

    def __init__(self, model: str, options: BackendOptions) -> None:
        self.model = model
        self.name = f"anthropic/{model}"
        self.options = options
        self.extra = parse_extra(options.extra, EXTRA_KEYS)
        self.base_url = self.extra.get("base_url") or os.environ.get("ANTHROPIC_BASE_URL") or None
        self.base_url = checked_base_url(self.base_url, "base_url (or ANTHROPIC_BASE_URL)") if self.base_url else None
        caps = apply_rules(model, BASE_CAPS, ANTHROPIC_RULES)
        key_env = (self.extra.get("api_key_env", "ANTHROPIC_API_KEY"),)
        self.structured = anthropic_form(model, self.extra)  # native output_config, a forced tool call, or none
        kinds = ("json_schema",) if self.structured != "none" else ()
        overrides = {**capability_overrides(self.extra), "key_env": key_env, "constraints": kinds}
        self.capabilities = Capabilities(**{**caps.__dict__, **overrides})
        self._client: anthropic.AsyncAnthropic | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _api_key(self) -> str:
        env = self.extra.get("api_key_env", "ANTHROPIC_API_KEY")
        key = os.environ.get(env, "") or ("EMPTY" if self.base_url else "")
        if not key:
            raise BackendError(f"{self.name} needs {env} in the environment")
        return key

    async def ready(self) -> None:
        """Fail fast on a missing key (before any request is sent)."""
        self._api_key()

    @property
    def client(self) -> anthropic.AsyncAnthropic:
        """The SDK client, created on first use (so capabilities can be read without a key)."""
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:  # an SDK client is bound to its event loop
            self._loop = loop
            key = self._api_key()
            self._client = _sdk().AsyncAnthropic(
                api_key=key, base_url=self.base_url, timeout=self.options.timeout, max_retries=0
            )
        return self._client

    def _secrets(self) -> list[str]:
        return [self._client.api_key or ""] if self._client is not None else []

    def request_params(self, request: Request) -> tuple[dict[str, Any], dict[str, str]]:
        """Messages API parameters and extra headers for ``request``."""
        if request.top_logprobs or request.letters or request.continuations:
            raise BackendError(f"{self.name} returns no log-probabilities")
        system = "\n\n".join(m.content for m in request.messages if m.role == "system")
        params: dict[str, Any] = {
            "model": self.model,
            "max_tokens": request.max_tokens,
            "messages": [{"role": m.role, "content": m.content} for m in request.messages if m.role != "system"],
        }
        if system:
            params["system"] = system
        if request.constraint is not None:  # structured outputs (distalign.backends._structured)
            params.update(anthropic_params(request.constraint, self.structured, self.name, _sdk().transform_schema))
        stops = [s for s in request.stop if s.strip()]
        if stops:
            params["stop_sequences"] = stops
        headers: dict[str, str] = {}
        if request.temperature is not None and request.temperature != DEFAULT_TEMPERATURE:
            if not self.capabilities.temperature:
                raise BackendError(
                    f"{self.name} accepts no temperature (sampling parameters were removed "
                    f"for this model), got {request.temperature}"
                )
            params["extra_body"] = {"temperature": request.temperature}
            headers["anthropic-version"] = LEGACY_API_VERSION
        return params, headers

    def completion(self, message: AnthropicMessage, request: Request, latency: float) -> Completion:
        """The :class:`Completion` of an SDK message (live call or batch result)."""
        raw = "".join(getattr(block, "text", "") for block in message.content if block.type == "text")
        if not raw and request.constraint is not None:  # a forced tool call: its input is the reply
            tool = next((b for b in message.content if b.type == "tool_use"), None)
            raw = json.dumps(getattr(tool, "input", None)) if tool is not None else ""
        text, stopped = truncate_at_stop(raw, request.stop)
        return Completion(
            text=text,
            model_id=message.model or "",
            input_tokens=message.usage.input_tokens or 0,
            output_tokens=message.usage.output_tokens or 0,
            latency_s=latency,
            finish_reason="stop_sequence" if stopped else str(message.stop_reason or ""),
        )

    async def complete(self, request: Request) -> Completion:
        """One Messages call; SDK exceptions become Transient/BackendError."""
        params, headers = self.request_params(request)
        start = time.perf_counter()
        try:
            message = await self.client.messages.create(**params, extra_headers=headers or None)
        except Exception as exc:  # noqa: BLE001 - every SDK error is classified, nothing is swallowed
            raise classify(exc, _sdk(), self.name, self._secrets()) from None
        if not isinstance(message, _sdk().types.Message):
            raise BackendError(f"{self.name}: unexpected response type {type(message).__name__}")
        return self.completion(message, request, time.perf_counter() - start)

    async def aclose(self) -> None:
        """Close the HTTP client."""
        if self._client is not None and self._loop is asyncio.get_running_loop():
            await self._client.close()
        self._client = None

    # --- Message Batches (distalign/batch.py drives these) -----------------------------------------------------
    def batch_line(self, request: Request, custom_id: str) -> dict[str, Any]:
        """One entry of a Message Batch (``custom_id`` + ``params``)."""
        params, headers = self.request_params(request)
        if headers:
            raise BackendError(f"{self.name}: a non-default temperature cannot go through the batch API")
        return {"custom_id": custom_id, "params": params}

    async def _call(self, coro: Any) -> Any:
        try:
            return await coro
        except Exception as exc:  # noqa: BLE001 - classified
            raise classify(exc, _sdk(), self.name, self._secrets()) from None

    async def submit_batch(self, requests: Sequence[Request], custom_ids: Sequence[str]) -> str:
        """Create a Message Batch; returns its id."""
        entries = [self.batch_line(r, c) for r, c in zip(requests, custom_ids, strict=True)]
        batch = await self._call(self.client.messages.batches.create(requests=cast(Any, entries)))
        return str(batch.id)

    async def batch_status(self, batch_id: str) -> str:
        """``running`` or ``ended`` (results can be read)."""
        batch = await self._call(self.client.messages.batches.retrieve(batch_id))
        return "ended" if batch.processing_status == "ended" else "running"

    async def batch_results(self, batch_id: str, requests: Mapping[str, Request]) -> dict[str, Completion | str]:
        """``custom_id -> Completion`` for succeeded items, ``custom_id -> error message`` for the others."""
        out: dict[str, Completion | str] = {}
        decoder = await self._call(self.client.messages.batches.results(batch_id))
        try:
            async for item in decoder:
                result = item.result
                if result.type == "succeeded" and item.custom_id in requests:
                    out[item.custom_id] = self.completion(result.message, requests[item.custom_id], 0.0)
                else:
                    detail = getattr(getattr(result, "error", None), "error", None)
                    out[item.custom_id] = f"batch item {result.type}: {getattr(detail, 'message', detail)}"
        except Exception as exc:  # noqa: BLE001 - classified
            raise classify(exc, _sdk(), self.name, self._secrets()) from None
        return out


def _sdk() -> ModuleType:
    """The ``anthropic`` SDK module, imported on first use (~2 s of imports that a capability look-up never needs)."""
    import anthropic

    return anthropic


def capabilities(model: str, options: BackendOptions) -> Capabilities:
    """What ``anthropic/<model>`` supports (no client is created, no key needed)."""
    return AnthropicBackend(model, options).capabilities


def make_backend(model: str, options: BackendOptions) -> Backend:
    """Registry factory for ``anthropic/<model>``."""
    return AnthropicBackend(model, options)
