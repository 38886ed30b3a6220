"""OpenAI Chat Completions backend, also for any OpenAI-compatible server (docs/original.md §1, §3.2).

``openai/<model>`` talks to api.openai.com with ``OPENAI_API_KEY``. With ``--base_url`` (or
``OPENAI_BASE_URL``) the same client reaches vLLM (``vllm serve``), SGLang, Ollama, llama.cpp's server,
OpenRouter or Together; the key then defaults to ``"EMPTY"`` and the capabilities come from
:class:`~distalign.backends.base.BackendOptions` (``logprobs``, ``max_top_logprobs`` and ``extra`` keys such
as ``seed=false`` or ``api_key_env=OPENROUTER_API_KEY``).

Log-probabilities are read at the first *answer* token (after a leading ``Answer:`` when the model writes
one). The SDK's own retries are off (``max_retries=0``): the run engine retries what
:func:`~distalign.backends._http.classify` marks transient. Reasoning models (o1/o3/o4, gpt-5, gpt-6) take
no temperature, top_p or log-probs and spend hidden tokens, so they get ``max_completion_tokens`` with a
reasoning allowance, and their stop sequences are applied client-side. The Batch API methods live in
:mod:`distalign.backends.openai_batch`. Structured methods send their constraint as
:mod:`distalign.backends._structured` says (``response_format``, or the server's regex field). Before a run,
:meth:`OpenAIBackend.ready` fails fast on a missing key or a ``--base_url`` where nothing listens.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from distalign.backends._http import (
    CAPABILITY_FIELDS,
    Rule,
    apply_rules,
    capability_overrides,
    classify,
    parse_extra,
    probe,
    truncate_at_stop,
)
from distalign.backends._structured import REGEX_FIELDS, openai_constraints, openai_fields
from distalign.backends.base import Backend, BackendError, BackendOptions, TransientError
from distalign.backends.openai_batch import OpenAIBatch, openai_sdk
from distalign.redact import checked_base_url
from distalign.types import Capabilities, Completion, Request

if TYPE_CHECKING:  # the SDK is imported on first use (:func:`openai_sdk`): capability look-ups never load it
    import openai
    from openai.types.chat import ChatCompletion

OPENAI_HOST = "api.openai.com"
MAX_STOP = 4  # the API accepts at most four stop sequences; the rest are applied client-side
EXTRA_KEYS = (*CAPABILITY_FIELDS, "api_key_env", "reasoning", "reasoning_tokens", "json_schema_format", "regex_field")

CHAT_CAPS = Capabilities(
    logprobs=True,
    max_top_logprobs=20,
    temperature=True,
    top_p=True,
    temperature_with_top_p=True,
    seed=True,
    json_output=True,
    n_samples=True,
    chat_template=True,
    batch_api=True,
    priced=True,
)
REASONING = {
    "logprobs": False,
    "max_top_logprobs": 0,
    "temperature": False,
    "top_p": False,
    "temperature_with_top_p": False,
    "seed": False,
}
REASONING_PATTERN = r"(o1|o3|o4)(-|$)|gpt-5(?!-chat)|gpt-6"
# First match wins; checked against the model name without the provider prefix.
OPENAI_RULES: tuple[Rule, ...] = (
    (REASONING_PATTERN, REASONING),  # "Only the default (1) value is supported"; no logprobs, no top_p
    (r"gpt-4(-0314|-0613|-32k)?$", {"json_output": False}),  # JSON mode came with the 1106 snapshots
    (r"gpt-3\.5-turbo(-0613|-16k)?$", {"json_output": False}),
)
COMPAT_CAPS = Capabilities(
    logprobs=True,
    max_top_logprobs=20,
    temperature=True,
    top_p=True,
    temperature_with_top_p=True,
    seed=True,
    json_output=True,
    n_samples=True,
    chat_template=True,
    batch_api=False,
    priced=True,
)


def _public_url(url: str) -> str:
    """``url`` without user:password and without a trailing slash (safe to log and to key caches by)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", "")).rstrip("/")


def answer_position(tokens: Sequence[str]) -> int:
    r"""Index of the first answer token: the first non-blank token, or the one after a leading ``Answer:``.

    >>> answer_position([" B"]), answer_position(["Answer", ":", " B"]), answer_position(["\n", "C", "."])
    (0, 2, 1)
    """
    text = "".join(tokens)
    stripped = text.lstrip()
    boundary = len(text) - len(stripped)
    prefix = re.match(r"answer\s*:\s*", stripped, re.IGNORECASE)
    if prefix:
        boundary += prefix.end()
    pos = 0
    for i, token in enumerate(tokens):
        pos += len(token)
        if pos > boundary and token.strip():
            return i
    return 0


class OpenAIBackend(OpenAIBatch, Backend):
    """Chat Completions through the official ``openai`` SDK (``AsyncOpenAI``), with the Batch API."""

    def __init__(self, model: str, options: BackendOptions) -> None:
        self.model = model
        self.name = f"openai/{model}"
        self.options = options
        self.extra = parse_extra(options.extra, EXTRA_KEYS)
        raw_url = options.base_url or os.environ.get("OPENAI_BASE_URL") or ""
        raw_url = checked_base_url(raw_url, "--base_url (or OPENAI_BASE_URL)") if raw_url else ""
        self.base_url = _public_url(raw_url) if raw_url else ""
        self._raw_url = raw_url or None
        self.compatible = bool(raw_url) and urlsplit(raw_url).hostname != OPENAI_HOST
        self.reasoning = self._flag("reasoning", default=bool(re.match(REASONING_PATTERN, model)))
        self.reasoning_tokens = int(self.extra.get("reasoning_tokens", "2048"))
        self.capabilities = self._capabilities()
        self._client: openai.AsyncOpenAI | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _flag(self, key: str, default: bool) -> bool:
        value = self.extra.get(key)
        return default if value is None else value.lower() in ("true", "1", "yes")

    def _capabilities(self) -> Capabilities:
        caps = COMPAT_CAPS if self.compatible else apply_rules(self.model, CHAT_CAPS, OPENAI_RULES)
        overrides: dict[str, Any] = dict(REASONING) if self.compatible and self.reasoning else {}
        if self.options.logprobs is not None:
            overrides["logprobs"] = self.options.logprobs
        if self.options.max_top_logprobs is not None:
            overrides["max_top_logprobs"] = self.options.max_top_logprobs
        overrides.update(capability_overrides(self.extra))
        overrides["key_env"] = (self.extra.get("api_key_env", "OPENAI_API_KEY"),)
        overrides["constraints"] = openai_constraints(self.model, self.compatible, self.extra)
        return Capabilities(**{**caps.__dict__, **overrides})

    def cache_identity(self) -> str:
        """The model name, plus the server address for OpenAI-compatible servers (never the key)."""
        return f"{self.name}@{self.base_url}" if self.compatible else self.name

    @property
    def label(self) -> str:
        """How errors name this backend."""
        return self.cache_identity()

    def _api_key(self) -> str:
        env = self.extra.get("api_key_env", "OPENAI_API_KEY")
        key = os.environ.get(env, "")
        if key:
            return key
        if self._raw_url:
            return "EMPTY"
        raise BackendError(f"{self.name} needs {env} in the environment (or --base_url for a compatible server)")

    @property
    def client(self) -> openai.AsyncOpenAI:
        """The SDK client, created on first use (so capabilities can be read without a key)."""
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:  # an SDK client is bound to its event loop
            self._loop = loop
            self._client = openai_sdk().AsyncOpenAI(
                api_key=self._api_key(), base_url=self._raw_url, timeout=self.options.timeout, max_retries=0
            )
        return self._client

    # --- request building --------------------------------------------------------------------------------------
    def request_body(self, request: Request) -> dict[str, Any]:
        """The JSON body of a chat completion for ``request`` (also one line of a batch file)."""
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [{"role": m.role, "content": m.content} for m in request.messages],
        }
        if self.reasoning:
            body["max_completion_tokens"] = request.max_tokens + self.reasoning_tokens
        else:
            body["max_tokens"] = request.max_tokens
            if request.stop:
                body["stop"] = list(request.stop[:MAX_STOP])
        body.update(self._sampling(request))
        if request.constraint is not None:  # structured outputs (distalign.backends._structured)
            if request.constraint.kind not in self.capabilities.constraints:
                raise BackendError(f"{self.label} enforces no {request.constraint.kind} (structured outputs)")
            body.update(openai_fields(request.constraint, self.extra, self.label))
        return body

    def _sampling(self, request: Request) -> dict[str, Any]:
        caps, out = self.capabilities, {}
        if request.temperature is not None:
            if caps.temperature:
                out["temperature"] = request.temperature
            elif request.temperature != 1.0:
                raise BackendError(
                    f"{self.label} accepts no temperature (only its default 1), got {request.temperature}"
                )
        if request.top_logprobs or request.letters:
            if not caps.logprobs:
                raise BackendError(f"{self.label} returns no log-probabilities")
            out["logprobs"] = True
            out["top_logprobs"] = min(request.top_logprobs or caps.max_top_logprobs, caps.max_top_logprobs)
        if request.seed is not None and caps.seed:
            out["seed"] = request.seed + request.sample_index
        if request.continuations:
            raise BackendError(f"{self.label} cannot score given continuations (option_likelihood)")
        return out

    # --- response reading -------------------------------------------------------------------------------------
    def completion(self, response: ChatCompletion, request: Request, latency: float) -> Completion:
        """The :class:`Completion` of an SDK response (from a live call or a batch result line)."""
        if not response.choices:
            raise TransientError(f"{self.label}: the server returned no choices")
        choice = response.choices[0]
        text, stopped = truncate_at_stop(choice.message.content or "", request.stop)
        usage = response.usage
        return Completion(
            text=text,
            top_logprobs=self._top_logprobs(choice, request),
            model_id=response.model or "",
            fingerprint=getattr(response, "system_fingerprint", None) or "",
            input_tokens=getattr(usage, "prompt_tokens", 0) or 0,
            output_tokens=getattr(usage, "completion_tokens", 0) or 0,
            latency_s=latency,
            finish_reason="stop" if stopped else str(choice.finish_reason or ""),
        )

    def _top_logprobs(self, choice: Any, request: Request) -> tuple[tuple[str, float], ...]:
        if not (request.top_logprobs or request.letters):
            return ()
        content = getattr(choice.logprobs, "content", None) if choice.logprobs else None
        if not content:
            raise BackendError(
                f"{self.label} returned no log-probabilities although they were requested "
                "(for a compatible server that cannot, pass --backend_arg logprobs=false)"
            )
        at = content[answer_position([t.token for t in content])]
        return tuple((alt.token, float(alt.logprob)) for alt in at.top_logprobs) or ((at.token, float(at.logprob)),)

    async def complete(self, request: Request) -> Completion:
        """One chat completion; SDK exceptions become Transient/BackendError."""
        body = self.request_body(request)
        extension = {k: body.pop(k) for k in REGEX_FIELDS if k in body}  # server fields the SDK does not know
        start = time.perf_counter()
        try:
            response = await self.client.chat.completions.create(**body, extra_body=extension or None)
        except Exception as exc:  # noqa: BLE001 - every SDK error is classified, nothing is swallowed
            raise classify(exc, openai_sdk(), self.label, [self._api_key_or_empty()]) from None
        if not isinstance(response, openai_sdk().types.chat.ChatCompletion):
            raise TransientError(f"{self.label}: malformed response body")
        return self.completion(response, request, time.perf_counter() - start)

    async def ready(self) -> None:
        """Fail fast: a missing key, or a ``--base_url`` where nothing listens (before any request is sent)."""
        self._api_key()
        if self.compatible and self._raw_url:
            await probe(self._raw_url, self.name, min(self.options.timeout, 10.0))

    def _api_key_or_empty(self) -> str:
        return self._client.api_key if self._client is not None else ""

    async def aclose(self) -> None:
        """Close the HTTP client."""
        if self._client is not None and self._loop is asyncio.get_running_loop():
            await self._client.close()
        self._client = None


def capabilities(model: str, options: BackendOptions) -> Capabilities:
    """What ``openai/<model>`` supports (no client is created, no key needed)."""
    return OpenAIBackend(model, options).capabilities


def make_backend(model: str, options: BackendOptions) -> Backend:
    """Registry factory for ``openai/<model>``."""
    return OpenAIBackend(model, options)
