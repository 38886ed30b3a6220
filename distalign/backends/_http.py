"""Helpers shared by the HTTP backends: error classification, ``Retry-After``, redaction, rules.

The run engine retries; backends only *classify*. A failure is a :class:`TransientError` when waiting
may help (429, 408, 409, 5xx, 529 overloaded, timeouts, dropped connections, a garbled body) and a plain
:class:`BackendError` otherwise (400, 401, 403, 404, 422). Every message passes through
:func:`distalign.redact.redact`, so no API key can reach a log, a cache or a result file.

>>> retry_after({"retry-after": "7"}), retry_after({"retry-after-ms": "1500"}), retry_after({})
(7.0, 1.5, None)
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import json
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import fields, replace
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from distalign.backends.base import BackendError, TransientError
from distalign.redact import redact
from distalign.types import Capabilities

TRANSIENT_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504, 520, 522, 524, 529})
_MAX_MESSAGE = 300


def retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Seconds a server asked us to wait (``retry-after-ms``, ``retry-after`` in seconds or as a date)."""
    if not headers:
        return None
    lower = {k.lower(): v for k, v in headers.items()}
    try:
        if "retry-after-ms" in lower:
            return max(0.0, float(lower["retry-after-ms"]) / 1000)
        if "retry-after" in lower:
            value = lower["retry-after"].strip()
            if re.fullmatch(r"\d+(\.\d+)?", value):
                return float(value)
            when = email.utils.parsedate_to_datetime(value)
            return max(0.0, when.timestamp() - time.time())
    except (ValueError, TypeError, OverflowError):
        return None
    return None


def _short(text: str) -> str:
    return text if len(text) <= _MAX_MESSAGE else text[:_MAX_MESSAGE] + "..."


def classify(exc: BaseException, sdk: ModuleType, label: str, secrets: Iterable[str] = ()) -> BackendError:
    """The backend error for an exception raised by the ``openai`` or ``anthropic`` SDK (same class names)."""
    if isinstance(exc, BackendError):
        return exc
    if isinstance(exc, sdk.APITimeoutError):
        return TransientError(f"{label}: request timed out")
    if isinstance(exc, sdk.APIConnectionError):
        return TransientError(f"{label}: connection failed ({redact(str(exc.__cause__ or exc), secrets)})")
    if isinstance(exc, sdk.APIResponseValidationError | json.JSONDecodeError | UnicodeDecodeError):
        return TransientError(f"{label}: malformed response body")
    status = getattr(exc, "status_code", None)
    if isinstance(status, int):
        message = _short(redact(str(getattr(exc, "message", exc)), secrets))
        if status in TRANSIENT_STATUS or status >= 500:
            headers = getattr(getattr(exc, "response", None), "headers", None)
            return TransientError(f"{label}: HTTP {status}: {message}", retry_after=retry_after(headers))
        return BackendError(f"{label}: HTTP {status}: {message}")
    return BackendError(f"{label}: {type(exc).__name__}: {_short(redact(str(exc), secrets))}")


async def probe(url: str, label: str, timeout: float) -> None:
    """Raise :class:`BackendError` with one clear line when nothing accepts a connection at ``url``'s host and port.

    >>> asyncio.run(probe("http://127.0.0.1:9/v1", "openai/m", 2.0))
    Traceback (most recent call last):
    ...
    distalign.backends.base.BackendError: openai/m: nothing listens at http://127.0.0.1:9/v1 (connection refused); \
start the server or correct --base_url
    """
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(parts.hostname or "localhost", port), timeout)
    except (OSError, asyncio.TimeoutError) as e:
        why = "connection refused" if isinstance(e, ConnectionRefusedError) else str(e) or f"no answer in {timeout:g} s"
        where = urlunsplit((parts.scheme, f"{parts.hostname}:{port}", parts.path, "", ""))  # no credentials
        raise BackendError(
            f"{label}: nothing listens at {where} ({why}); start the server or correct --base_url"
        ) from None
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()


def truncate_at_stop(text: str, stop: Iterable[str]) -> tuple[str, bool]:
    r"""``text`` cut before the earliest stop sequence, and whether one was found.

    >>> truncate_at_stop("B\nQuestion: next", ["\nQuestion:", "\n"])
    ('B', True)
    """
    cut = min((i for s in stop if s and (i := text.find(s)) >= 0), default=-1)
    return (text[:cut], True) if cut >= 0 else (text, False)


# --- per-model capability rules ----------------------------------------------------------------------------
Rule = tuple[str, Mapping[str, Any]]  # (regex matched at the start of the model name, Capabilities overrides)
CAPABILITY_FIELDS = tuple(f.name for f in fields(Capabilities) if f.name not in ("key_env", "constraints"))  # flags


def apply_rules(model: str, base: Capabilities, rules: Iterable[Rule]) -> Capabilities:
    """``base`` updated by the first rule whose pattern matches the start of ``model``.

    >>> apply_rules("o3-mini", Capabilities(), [(r"o[134]", {"logprobs": False})]).logprobs
    False
    """
    for pattern, overrides in rules:
        if re.match(pattern, model):
            return replace(base, **overrides)
    return base


def parse_extra(extra: Iterable[tuple[str, str]], allowed: Iterable[str]) -> dict[str, str]:
    """``--backend_arg key=value`` pairs checked against the keys a backend understands."""
    valid = set(allowed)
    out = dict(extra)
    unknown = sorted(set(out) - valid)
    if unknown:
        raise ValueError(f"unknown backend option(s) {unknown}; valid: {sorted(valid)}")
    return out


def capability_overrides(extra: Mapping[str, str]) -> dict[str, Any]:
    """Capabilities fields set through ``extra`` (``logprobs=false``, ``max_top_logprobs=5``).

    >>> capability_overrides({"seed": "false", "max_top_logprobs": "5", "other": "x"})
    {'seed': False, 'max_top_logprobs': 5}
    """
    out: dict[str, Any] = {}
    for key, value in extra.items():
        if key == "max_top_logprobs":
            out[key] = int(value)
        elif key in CAPABILITY_FIELDS:
            if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError(f"backend option {key}={value!r}: expected true or false")
            out[key] = value.lower() in ("true", "1", "yes")
    return out
