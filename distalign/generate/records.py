"""What generation writes: result records, result files (incremental, ordered, atomic) and request-log lines.

Mirrors docs/original.md §5.

A :class:`ResultFile` keeps the records of one cell and rewrites the file atomically, records in dataset question
order, so the same command and seed give the same bytes however completions interleave; a record already in
its file is done (resume). :func:`log_record` is the JSONL line of one request (:mod:`distalign.engine.runlog`).
"""

from __future__ import annotations

import glob
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from distalign.engine import Outcome
from distalign.engine.locks import FileLock
from distalign.expression.base import ExpressionMethod
from distalign.generate.plan import Unit
from distalign.results import make_record, read_results, write_results
from distalign.types import Completion, Parsed


def record_of(
    unit: Unit, method: ExpressionMethod, parsed: Parsed, completions: list[Completion], expected: dict
) -> dict[str, Any]:
    """The result record of a unit (docs/original.md §5 fields, the method's extra fields, ``options``)."""
    assert unit.item is not None
    rec = make_record(parsed, unit.item.letters, expected)
    rec.update(method.record_extra(unit.item, completions))
    if unit.requests and unit.requests[0].constraint is not None:  # structured methods: the form enforced
        rec["constraint"] = unit.requests[0].constraint.kind
    rec["options"] = list(unit.item.options)
    return rec


class ResultFile:
    """The records of one cell, rewritten atomically in dataset question order, by the run that owns the cell.

    A rewrite costs the whole file, so the number of new records that triggers one grows with the file
    (``flush_every``, or a quarter of the records already stored, whichever is more): a cell of N questions is
    written O(N) times in total, not O(N²/flush_every). The time limit still saves slow runs every few seconds.

    A run writes a cell only while it holds the cell's lock (:meth:`own`, a
    :class:`~distalign.engine.locks.FileLock` on ``.<name>.lock`` beside the file): it reads the records after
    taking the lock, so a rewrite keeps every record another run stored before, and it removes temporary files
    of killed writers only then (no live writer can own them). :meth:`load` reads without the lock (dry runs).

    Args:
        path: the result file (existing records are kept: resume).
        order: question keys in dataset order.
        flush_every: rewrite after this many new records (at least)...
        flush_seconds: ... or when the last write is this old.
    """

    def __init__(self, path: Path, order: list[str], flush_every: int = 100, flush_seconds: float = 5.0) -> None:
        self.path = path
        self.records: dict[str, dict[str, Any]] = {}
        self.lock = FileLock(path.with_name(f".{path.name}.lock"))
        self.order = order
        self.flush_every, self.flush_seconds = flush_every, flush_seconds
        self.pending = 0  # units still to finish
        self.before_flush: Callable[[], None] | None = None  # e.g. the request log's flush: logged before stored
        self._dirty = 0
        self._written = time.monotonic()

    def load(self) -> ResultFile:
        """Read the stored records (none when the file does not exist)."""
        self.records = read_results(self.path) if self.path.exists() or self.path.is_symlink() else {}
        return self

    def own(self) -> bool:
        """Take the cell's lock if no other run holds it; then clear dead writers' temporary files and read."""
        if not self.lock.acquire():
            return False
        try:
            for stale in self.path.parent.glob(f".{glob.escape(self.path.name)}.*.tmp"):  # left by a killed write
                stale.unlink(missing_ok=True)
            self.load()
        except BaseException:
            self.lock.release()
            raise
        return True

    def drop(self, qids: Iterable[str]) -> None:
        """Forget these records (``--overwrite``: made with other settings); the next flush rewrites the file."""
        for qid in qids:
            self.records.pop(qid, None)
            self._dirty += 1

    def done(self, qid: str) -> bool:
        """Whether ``qid`` already has a record."""
        return qid in self.records

    def add(self, qid: str, record: dict[str, Any]) -> None:
        """Keep one record; rewrite the file when enough new ones or enough time has passed."""
        self.records[qid] = record
        self._dirty += 1
        due = max(self.flush_every, len(self.records) // 4)
        if self._dirty >= due or time.monotonic() - self._written >= self.flush_seconds:
            self.flush()

    def flush(self) -> None:
        """Rewrite the file (question order; unknown keys of an older file keep their order after them).

        Only the owner writes: without the lock (a dry run, a cell another run holds) nothing is written.
        """
        if not self._dirty or not self.lock.held:
            return
        if self.before_flush is not None:
            self.before_flush()
        rank = {q: i for i, q in enumerate(self.order)}
        keys = sorted(self.records, key=lambda q: (0, rank[q]) if q in rank else (1, 0))
        write_results(self.path, {q: self.records[q] for q in keys})
        self._dirty = 0
        self._written = time.monotonic()

    def close(self) -> None:
        """Write the finished cell, release its records (a run holds only the cells in progress) and its lock."""
        try:
            self.flush()
        finally:
            self.records = {}
            self.lock.release()


def log_record(
    run_id: str, model: str, identity: str, unit: Unit, outcome: Outcome, parsed: Parsed | None
) -> dict[str, Any]:
    """The JSONL line of one request (messages only on sample 0 and on failures, to keep logs small)."""
    r, c = outcome.request, outcome.completion
    rec: dict[str, Any] = {
        "run_id": run_id,
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "model": model,
        "backend": identity,
        **dict(r.meta),
        "sample_index": r.sample_index,
        "seed": r.seed,
        "key": outcome.key,
        "cached": outcome.cached,
        "attempts": outcome.attempts,
        "latency_s": round(outcome.latency_s, 4),
        "ok": outcome.ok,
        "error": outcome.error,
        "params": {
            "max_tokens": r.max_tokens,
            "temperature": r.temperature,
            "top_logprobs": r.top_logprobs,
            "n_continuations": len(r.continuations),
        },
    }
    rec.pop("truth", None)
    if r.sample_index == 0 or not outcome.ok:
        rec["messages"] = [{"role": m.role, "content": m.content} for m in r.messages]
    if c is not None:
        rec.update(_completion_fields(c))
    if parsed is not None:
        rec.update(_parsed_fields(parsed))
    return rec


def _completion_fields(c: Completion) -> dict[str, Any]:
    """The log line's fields of a completion: the reply, its log-probs, model id and token counts."""
    return {
        "response": c.text,
        "top_logprobs": [list(t) for t in c.top_logprobs],
        "continuation_logprobs": list(c.continuation_logprobs),
        "model_id": c.model_id,
        "fingerprint": c.fingerprint,
        "input_tokens": c.input_tokens,
        "output_tokens": c.output_tokens,
        "finish_reason": c.finish_reason,
    }


def _parsed_fields(parsed: Parsed) -> dict[str, Any]:
    """The log line's fields of a parsed reply: whether it parsed, why not, the distribution read."""
    return {
        "parse_ok": parsed.parse_ok,
        "parse_error": parsed.reason,
        "distribution": parsed.dist.as_dict() if parsed.dist is not None else None,
    }
