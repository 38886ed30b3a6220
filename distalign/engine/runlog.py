"""Request log: one JSON line per completed or failed request, appended in whole lines.

Each line records what was asked and what came back (prompt messages, raw response, parsed
distribution and parse status, token usage, latency, model id / fingerprint, seed, sample index,
cache hit, error), so every number in a result file can be traced to a model reply. Result files stay
in the original layout (docs/original.md §5); this log is the per-sample record that layout lacks.

Secrets never reach the log: every line passes through :func:`distalign.redact.redact`.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from distalign.redact import redact


class RunLog:
    """Append-only JSONL request log, written in whole lines.

    Lines are buffered and written by :meth:`flush` in one append of whole lines (the run flushes the log before
    every result-file write, so each stored record has its log line on disk, and at most every
    ``flush_every`` lines). A killed process therefore leaves complete lines only; a partial last line left by
    an older writer is cut off when the log is reopened, so appended lines never run into it.

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
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            _drop_partial_line(self.path, self._fd)

    def write(self, record: dict[str, Any]) -> None:
        """Buffer one record as a JSON line (secrets masked); write the buffer when it is full."""
        if self._fd is None:
            return
        self._lines.append(redact(json.dumps(record, ensure_ascii=False, default=str)) + "\n")
        if len(self._lines) >= self.flush_every:
            self.flush()

    def flush(self) -> None:
        """Append the buffered lines to the file."""
        if self._fd is None or not self._lines:
            return
        data = "".join(self._lines).encode("utf-8")
        end = os.lseek(self._fd, 0, os.SEEK_END)
        try:
            while data:
                data = data[os.write(self._fd, data) :]
        except OSError as e:  # a full disk: take back the part written (whole lines only), keep the lines
            try:
                os.ftruncate(self._fd, end)
            except OSError:
                pass
            raise OSError(e.errno, e.strerror, str(self.path)) from None
        self._lines = []

    def close(self) -> None:
        """Write what is buffered and close the file."""
        if self._fd is not None:
            try:
                self.flush()
            finally:
                os.close(self._fd)
                self._fd = None


def _drop_partial_line(path: Path, fd: int) -> None:
    """Cut a log that does not end in a newline back to its last complete line."""
    size = os.fstat(fd).st_size
    if not size:
        return
    with open(path, "rb") as fh:
        fh.seek(max(0, size - 1))
        if fh.read(1) == b"\n":
            return
        block = 1 << 16
        end = size
        while end > 0:
            start = max(0, end - block)
            fh.seek(start)
            cut = fh.read(end - start).rfind(b"\n")
            if cut >= 0:
                os.truncate(fd, start + cut + 1)
                return
            end = start
    os.truncate(fd, 0)


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
