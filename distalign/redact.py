"""The one secret masker: what reaches a log, the cache, a result file, an error message or the terminal.

Two kinds of secret are masked, wherever they appear:

* the values of the environment variables a backend reads keys from: each backend declares them in its
  capabilities (:attr:`~distalign.types.Capabilities.key_env`, which includes a variable named with
  ``--backend_arg api_key_env=...``), and :func:`distalign.backends.get_backend` registers them here with
  :func:`watch` before the backend can send anything;
* strings shaped like API keys (``sk-...``, ``sk-ant-...``, ``hf_...``), whoever's they are.

Server addresses are checked before a backend uses them (:func:`checked_base_url`): a ``--base_url`` (or
``OPENAI_BASE_URL`` / ``ANTHROPIC_BASE_URL``) with credentials in it (``http://user:pass@host``, which HTTP clients
would send as Basic auth instead of the key, and which would reach logs and caches) or without an
``http``/``https`` scheme is refused with a message that shows the address with its credentials masked.

>>> redact("token sk-" "ant-api03-abcdefghijklmnopqrstuvwxyz0123 rejected")
'token [redacted] rejected'
>>> os.environ["DISTALIGN_DOCTEST_TOKEN"] = "not-a-real-key-123"
>>> watch("DISTALIGN_DOCTEST_TOKEN")
>>> redact("Incorrect API key provided: not-a-real-key-123")
'Incorrect API key provided: [redacted]'
>>> del os.environ["DISTALIGN_DOCTEST_TOKEN"]
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from urllib.parse import urlsplit

MASK = "[redacted]"
MIN_SECRET = 6  # shorter values (``EMPTY``, ``1``) would mask ordinary text
_KEY_SHAPE = re.compile(r"\b(?:sk|hf)-[A-Za-z0-9_\-]{16,}|\bhf_[A-Za-z0-9]{16,}")
_AUTH = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*://)?[^/?#]*@")  # scheme, then user[:password]@
_watched: set[str] = set()


def watch(*env_vars: str) -> None:
    """Mask the values of these environment variables from now on (whatever they hold when masking)."""
    _watched.update(v for v in env_vars if v)


def watched() -> frozenset[str]:
    """The environment variables whose values are masked."""
    return frozenset(_watched)


def checked_base_url(url: str, where: str = "--base_url") -> str:
    """``url`` if it is an ``http(s)://host...`` address without credentials, else a ValueError (password masked).

    >>> checked_base_url("http://localhost:8000/v1")
    'http://localhost:8000/v1'
    >>> checked_base_url("http://user:pass@host/v1")
    Traceback (most recent call last):
    ...
    ValueError: --base_url 'http://***@host/v1' carries credentials: put the key in the key variable instead \
(OPENAI_API_KEY, ANTHROPIC_API_KEY or --backend_arg api_key_env=VAR)
    >>> checked_base_url("user:pass@host:9")
    Traceback (most recent call last):
    ...
    ValueError: --base_url '***@host:9' is not an address: write http://host:port/... or https://...
    """
    masked = _AUTH.sub(r"\1***@", url)
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        raise ValueError(f"{where} {masked!r} is not an address: write http://host:port/... or https://...") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{where} {masked!r} is not an address: write http://host:port/... or https://...")
    if parts.username is not None or parts.password is not None:
        raise ValueError(
            f"{where} {masked!r} carries credentials: put the key in the key variable instead "
            "(OPENAI_API_KEY, ANTHROPIC_API_KEY or --backend_arg api_key_env=VAR)"
        )
    return url


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with secrets masked: ``secrets``, the watched variables' values and key-shaped strings."""
    known = {s for s in (*secrets, *(os.environ.get(v, "") for v in _watched)) if len(s) >= MIN_SECRET}
    for secret in sorted(known, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    if "sk-" in text or "hf_" in text or "hf-" in text:  # cheap pre-check: the regex is slow on long lines
        text = _KEY_SHAPE.sub(MASK, text)
    return text
