"""The evaluation on two cores: result files shared between the process and one forked worker, merged in order.

:func:`shared_files` gives every result file to whichever of the two processes asks first (a pipe of file
numbers: each 4-byte read takes the next one, atomically), so neither waits while the other has work left; the
worker first runs an extra job (the human baseline, data-only simulations). Each file's rows, counted skips
(its own :class:`~distalign.evaluation.tally.Tally`) and side results (``Semantics.drain``) are kept per file
and merged in file order, so the rows, the tally's order and every written byte are those of one process
reading the files one after another. The first error in file order is raised, as a sequential run would.

Used where it pays (:func:`parallel_ok`: ``fork`` available, two or more cores, enough files);
``DISTALIGN_EVAL_WORKERS=1`` turns it off.
"""

from __future__ import annotations

import os
import pickle
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from distalign.evaluation.base import Semantics
from distalign.evaluation.tally import Tally
from distalign.results import ResultKey
from distalign.types import TVRow

T = TypeVar("T")
MIN_FILES = 16  # below this a fork does not pay
Outcome = tuple[list[TVRow], Tally, Any] | BaseException  # one file: rows, its tally, Semantics.drain()
FileFn = Callable[[Semantics, ResultKey, Path, bool], list[TVRow]]


def parallel_ok(n_items: int, minimum: int = MIN_FILES) -> bool:
    """Whether sharing ``n_items`` pieces of work (at least ``minimum``) with a forked worker pays here."""
    wanted = os.environ.get("DISTALIGN_EVAL_WORKERS", "")
    if wanted.strip() == "1" or not hasattr(os, "fork") or n_items < minimum:
        return False
    return len(os.sched_getaffinity(0)) >= 2 if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1) >= 2


def forked(job: Callable[[], T]) -> Callable[[], T]:
    """Start ``job`` in a forked child; the returned function waits for its result (or raises its exception)."""
    sys.stdout.flush()
    sys.stderr.flush()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: run, send the pickled result, leave without running the parent's exit handlers
        os.close(read_end)
        try:
            payload = _pickled(job)
            with os.fdopen(write_end, "wb") as out:
                out.write(payload)
        finally:
            os._exit(0)
    os.close(write_end)

    def result() -> T:
        with os.fdopen(read_end, "rb") as f:
            data = f.read()
        os.waitpid(pid, 0)
        if not data:
            raise RuntimeError("the evaluation worker process died without a result")
        ok, value = pickle.loads(data)
        if not ok:
            raise value
        return value

    return result


def _pickled(job: Callable[[], Any]) -> bytes:
    try:
        return pickle.dumps((True, job()), protocol=pickle.HIGHEST_PROTOCOL)
    except BaseException as e:  # noqa: BLE001 - every failure goes back to the parent, which raises it
        try:
            return pickle.dumps((False, e), protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:  # noqa: BLE001 - an exception that cannot be pickled
            return pickle.dumps((False, RuntimeError(f"evaluation worker failed: {e!r}")))


class _Numbers:
    """File numbers 0..n-1 in a pipe: a 4-byte read takes the next one, whichever process reads (atomic)."""

    def __init__(self, n: int) -> None:
        self.read_end, write_end = os.pipe()
        self.n = n
        os.write(write_end, b"".join(i.to_bytes(4, "little") for i in range(n)))  # n < 16,384: fits the pipe
        os.close(write_end)

    def take(self) -> int | None:
        """The next file number, or ``None`` when none is left."""
        data = os.read(self.read_end, 4)
        return int.from_bytes(data, "little") if len(data) == 4 else None


def _take_files(
    numbers: _Numbers, semantics: Semantics, files: Sequence[tuple[ResultKey, Path]], strict: bool, fn: FileFn
) -> dict[int, Outcome]:
    """Score the files this process takes, each with its own tally; stop at the first error."""
    out: dict[int, Outcome] = {}
    ctx, main = semantics.ctx, semantics.ctx.tally
    while (i := numbers.take()) is not None:
        ctx.tally = Tally()
        try:
            key, path = files[i]
            out[i] = (fn(semantics, key, path, strict), ctx.tally, semantics.drain())
        except Exception as e:  # noqa: BLE001 - raised by the merge, in file order
            out[i] = e
            break
        finally:
            ctx.tally = main
    return out


def shared_files(
    semantics: Semantics,
    files: Sequence[tuple[ResultKey, Path]],
    strict: bool,
    fn: FileFn,
    extra: Callable[[], T],
) -> tuple[list[TVRow], Callable[[], T]]:
    """Rows of ``files`` in order, scored by this process and a forked worker that first runs ``extra``.

    The tallies and side results are merged into ``semantics`` in file order; the second value waits for
    ``extra``'s result (call it after the merge, where a sequential run would have computed it).
    """
    if len(files) >= 1 << 14:
        raise ValueError(f"{len(files)} result files: at most 16,383 can be shared between processes")
    numbers = _Numbers(len(files))

    def worker() -> tuple[dict[int, Outcome], T | Exception]:
        try:
            made: T | Exception = extra()
        except Exception as e:  # noqa: BLE001 - raised where a sequential run would have raised it
            made = e
        return _take_files(numbers, semantics, files, strict, fn), made

    wait = forked(worker)
    mine = _take_files(numbers, semantics, files, strict, fn)
    theirs, made = wait()
    os.close(numbers.read_end)
    rows: list[TVRow] = []
    for i in range(len(files)):
        outcome = mine[i] if i in mine else theirs[i]
        if isinstance(outcome, BaseException):
            raise outcome
        file_rows, tally, state = outcome
        rows += file_rows
        semantics.ctx.tally.counts.update(tally.counts)
        semantics.absorb(state)
    return rows, lambda: _value(made)


def _value(made: T | Exception) -> T:
    if isinstance(made, Exception):
        raise made
    return made
