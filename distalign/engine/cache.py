"""Response cache: SQLite (WAL) store of successful completions, keyed by everything that shapes an answer.

The key is the SHA-256 of a canonical JSON of the backend identity (name + server address), the
messages and every :class:`~distalign.types.Request` field except ``meta`` (so the sample index and
the seed are part of it: samples of one prompt never collide). Rerunning a command therefore makes
no backend call for a request that already succeeded. Only successful completions are stored;
a failed request is retried by the next run.

Every write is one transaction: a crash leaves the previous state, never a partial row. A file that
is not a SQLite database, or one locked by another writer for longer than the busy timeout, raises
:class:`CacheError` naming the file and what to do.

>>> from distalign.types import Message, Request
>>> cache = ResponseCache(":memory:")
>>> key = cache.key("fake/uniform", Request((Message("user", "hi"),)))
>>> cache.get(key) is None
True
>>> cache.put(key, Completion(text="A", output_tokens=1))
>>> cache.get(key)
Completion(text='A', top_logprobs=(), continuation_logprobs=(), model_id='', fingerprint='', \
input_tokens=0, output_tokens=1, latency_s=0.0, finish_reason='')
>>> cache.close()
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sqlite3
from pathlib import Path
from typing import Any

from distalign.types import Completion, Request

SCHEMA = "CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, completion TEXT NOT NULL)"
BUSY_TIMEOUT_MS = 10_000


class CacheError(RuntimeError):
    """The cache file is unusable (corrupt, locked, unwritable); the message names it."""


OPTIONAL_FIELDS = ("constraint",)  # Request fields added later: in the key only when set


def request_payload(identity: str, request: Request) -> dict[str, Any]:
    """The canonical content of a cache key: backend identity and every request field but ``meta``.

    A field added later with a ``None`` default (``constraint``) is left out while it is ``None``, so the keys of
    requests that do not use it stay what they were (existing caches keep answering them).

    >>> from distalign.types import Constraint, Message
    >>> sorted(request_payload("fake/x", Request((Message("user", "q"),), sample_index=2)))[:4]
    ['backend', 'continuations', 'letters', 'max_tokens']
    >>> request_payload("f", Request((), constraint=Constraint("regex", "A|B")))["constraint"]
    {'kind': 'regex', 'spec': 'A|B'}
    """
    payload: dict[str, Any] = {"backend": identity}
    for f in dataclasses.fields(Request):
        value = getattr(request, f.name)
        if f.name == "meta" or (f.name in OPTIONAL_FIELDS and value is None):
            continue
        if f.name == "messages":
            value = [[m.role, m.content] for m in value]
        elif dataclasses.is_dataclass(value):
            value = dataclasses.asdict(value)  # type: ignore[arg-type]
        payload[f.name] = value
    return payload


def request_key(identity: str, request: Request) -> str:
    """SHA-256 hex digest of the canonical JSON of :func:`request_payload`.

    >>> from distalign.types import Message
    >>> r = Request((Message("user", "q"),))
    >>> request_key("a", r) == request_key("a", dataclasses.replace(r, meta=(("qid", "x"),)))
    True
    >>> request_key("a", r) == request_key("a", dataclasses.replace(r, sample_index=1))
    False
    """
    text = json.dumps(request_payload(identity, request), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def completion_to_json(completion: Completion) -> str:
    """Serialize a completion (all fields)."""
    return json.dumps(dataclasses.asdict(completion), ensure_ascii=False, allow_nan=True)


def completion_from_json(text: str) -> Completion:
    """Inverse of :func:`completion_to_json` (lists become tuples; unknown fields are ignored).

    >>> c = Completion(text="B", top_logprobs=(("B", -0.1),), continuation_logprobs=(-1.0,))
    >>> completion_from_json(completion_to_json(c)) == c
    True
    """
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError(f"expected a JSON object, found {type(data).__name__}")
    known = {f.name for f in dataclasses.fields(Completion)}
    data = {k: v for k, v in data.items() if k in known}
    data["top_logprobs"] = tuple((str(t), float(p)) for t, p in data.get("top_logprobs", ()))
    data["continuation_logprobs"] = tuple(float(x) for x in data.get("continuation_logprobs", ()))
    return Completion(**data)


class ResponseCache:
    """SQLite (WAL) cache of successful completions.

    Args:
        path: the database file (created with its folder); ``":memory:"`` for tests.
        busy_timeout_ms: how long to wait for another process's write lock before giving up.
    """

    def __init__(self, path: Path | str, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(self.path, timeout=busy_timeout_ms / 1000, isolation_level=None)
            self._db.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(SCHEMA)
        except sqlite3.Error as e:
            raise self._error(e) from None

    def _error(self, e: sqlite3.Error) -> CacheError:
        text = str(e)
        if "locked" in text or "busy" in text:
            hint = "another process holds a write lock; wait for it or pass a different --cache_path"
        elif "not a database" in text or "malformed" in text or "corrupt" in text:
            hint = "the file is corrupt; delete it (it only holds cached responses) or pass --no_cache"
        else:
            hint = "pass a different --cache_path or --no_cache"
        return CacheError(f"response cache {self.path}: {text} ({hint})")

    @staticmethod
    def key(identity: str, request: Request) -> str:
        """The cache key of ``request`` sent to the backend identified by ``identity``."""
        return request_key(identity, request)

    def get(self, key: str) -> Completion | None:
        """The cached completion for ``key`` (``None`` when absent)."""
        try:
            row = self._db.execute("SELECT completion FROM responses WHERE key = ?", (key,)).fetchone()
        except sqlite3.Error as e:
            raise self._error(e) from None
        if row is None:
            return None
        try:
            return completion_from_json(row[0])
        except (ValueError, TypeError, KeyError) as e:
            raise CacheError(f"response cache {self.path}: entry {key} is malformed ({e}); delete the file") from None

    def put(self, key: str, completion: Completion) -> None:
        """Store a successful completion (one atomic transaction; an existing entry is replaced)."""
        try:
            with self._db:
                self._db.execute("BEGIN IMMEDIATE")
                row = (key, completion_to_json(completion))
                self._db.execute("INSERT OR REPLACE INTO responses VALUES (?, ?)", row)
        except sqlite3.Error as e:
            raise self._error(e) from None

    def __len__(self) -> int:
        try:
            return int(self._db.execute("SELECT COUNT(*) FROM responses").fetchone()[0])
        except sqlite3.Error as e:
            raise self._error(e) from None

    def close(self) -> None:
        """Close the database (committed entries are already on disk)."""
        self._db.close()


class NullCache:
    """The ``--no_cache`` stand-in: same API, remembers nothing."""

    path = ""

    @staticmethod
    def key(identity: str, request: Request) -> str:
        """Same keys as :class:`ResponseCache` (used in logs)."""
        return request_key(identity, request)

    def get(self, key: str) -> Completion | None:
        """Always a miss."""
        return None

    def put(self, key: str, completion: Completion) -> None:
        """Forget it."""

    def __len__(self) -> int:
        return 0

    def close(self) -> None:
        """Nothing to close."""


Cache = ResponseCache | NullCache


def open_cache(path: Path | str | None) -> Cache:
    """A :class:`ResponseCache` at ``path``, or a :class:`NullCache` when ``path`` is ``None``."""
    return NullCache() if path is None else ResponseCache(path)
