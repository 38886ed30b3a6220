"""Request log: one JSON line per completed or failed request, appended in whole lines.

Each line records what was asked and what came back (prompt messages, raw response, parsed
distribution and parse status, token usage, latency, model id / fingerprint, seed, sample index,
cache hit, error), so every number in a result file can be traced to a model reply. Result files stay
in the original layout (docs/original.md §5); this log is the per-sample record that layout lacks.

Secrets never reach the log: every line passes through :func:`distalign.redact.redact`.
"""

from __future__ import annotations

import fcntl
import json
import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from distalign.redact import redact


class RunLog:
    """Append-only JSONL request log, written in whole lines; several processes may append to one log.

    Lines are buffered and written by :meth:`flush` in one ``O_APPEND`` write of whole lines (the run flushes the
    log before every result-file write, so each stored record has its log line on disk, and at most every
    ``flush_every`` lines). Each flush holds an exclusive ``flock`` on the log for the duration of the write, so
    the appends of concurrent runs (a grid split by dataset across processes) never interleave, and a partial
    last line is repaired only under that lock: it can then only be the remains of a writer that died mid-write
    (every live writer writes whole lines under the lock), and is cut off so the next line does not run into
    it. Opening a log changes nothing in it.

    Args:
        path: the log file (created with its folder); ``None`` logs nothing.
        flush_every: buffered lines that trigger a write.
    """

    def __init__(self, path: Path | str | None, flush_every: int = 256) -> None:
        self.path = Path(path) if path is not None else None
        self.flush_every = flush_every
        self._fd: int | None = None
        self._lines: list[str] = []
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o666)

    def write(self, record: dict[str, Any]) -> None:
        """Buffer one record as a JSON line (secrets masked); write the buffer when it is full."""
        if self._fd is None:
            return
        self._lines.append(redact(json.dumps(record, ensure_ascii=False, default=str)) + "\n")
        if len(self._lines) >= self.flush_every:
            self.flush()

    def flush(self) -> None:
        """Append the buffered lines to the file, under the log's exclusive lock."""
        if self._fd is None or not self._lines:
            return
        data = "".join(self._lines).encode("utf-8")
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            end = _drop_partial_line(self._fd)
            _append(self._fd, data, end, self.path)
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._lines = []

    def close(self) -> None:
        """Write what is buffered and close the file."""
        if self._fd is not None:
            try:
                self.flush()
            finally:
                os.close(self._fd)
                self._fd = None


def _append(fd: int, data: bytes, end: int, path: Path | None) -> None:
    """Write ``data`` at the end of the log; on a failure (a full disk) cut the log back to ``end``, whole lines."""
    try:
        while data:
            data = data[os.write(fd, data) :]
    except OSError as e:
        try:
            os.ftruncate(fd, end)
        except OSError:
            pass
        raise OSError(e.errno, e.strerror, str(path)) from None


def _drop_partial_line(fd: int) -> int:
    """Cut a log that does not end in a newline back to its last complete line (call under the lock); its size."""
    size = os.fstat(fd).st_size
    if not size or os.pread(fd, 1, size - 1) == b"\n":
        return size
    block, end = 1 << 16, size
    while end > 0:
        start = max(0, end - block)
        cut = os.pread(fd, end - start, start).rfind(b"\n")
        if cut >= 0:
            os.ftruncate(fd, start + cut + 1)
            return start + cut + 1
        end = start
    os.ftruncate(fd, 0)
    return 0


def read_log(path: Path | str) -> Iterator[dict[str, Any]]:
    """The records of a log; a truncated last line (a killed run) is skipped with a warning, other bad lines raise.

    Raises:
        ValueError: a line before the last one is not a JSON object (names file and line).
    """
    with open(path, encoding="utf-8") as fh:
        lines = fh.read().split("\n")
    for i, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            if i == len(lines):  # no newline after it: cut off by a kill
                warnings.warn(f"{path}:{i}: skipped a truncated last line (an interrupted write)", stacklevel=2)
                return
            raise ValueError(f"{path}:{i}: not a JSON line") from None
        if not isinstance(rec, dict):
            raise ValueError(f"{path}:{i}: expected a JSON object")
        yield rec
