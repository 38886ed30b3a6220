"""Safe file I/O shared by every stage: atomic writes and JSON/CSV reads with errors that name the file.

Nothing is ever half-written: every write goes to a temporary file in the same folder, is flushed
and fsynced, then renamed over the target (``os.replace`` is atomic on POSIX). A crash or a full
disk leaves either the old file or the new one, plus no stray temporary file. A written file gets the
usual mode: an existing file keeps its own, a new one gets ``0o666`` less the umask (never the temporary
file's ``0o600``), so results folders shared by a group stay shared. Temporary names carry the writer's
process id (``.<name>.<pid>.<random>.tmp``), so a cleaner can tell whose they are.

Names read from data or result files that become path components (demographics, groups, datasets, models)
pass :func:`safe_component` first: no separator, no ``..``, nothing absolute.

Callers that only score numbers (the evaluation) read JSON with orjson (~2.5x the standard parser on the
released result files; it differs only in reading integers beyond 64 bits as floats); files it rejects
(``NaN`` literals, a byte order mark, malformed text) go through :mod:`json`, whose errors name line and column.
"""

from __future__ import annotations

import json
import math
import os
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import orjson


class DataError(ValueError):
    """Malformed or missing input; the message names the file (and key or line)."""


@contextmanager
def atomic_open(path: Path | str, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path``; on success it replaces ``path`` atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent)
    enc = None if "b" in mode else encoding
    try:
        os.fchmod(fd, _mode_for(path))
        with os.fdopen(fd, mode, encoding=enc) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _mode_for(path: Path) -> int:
    """The mode a write of ``path`` leaves: the existing file's, else ``0o666`` less the process umask."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return 0o666 & ~current_umask()


def current_umask() -> int:
    """The process umask, read without changing it where the system says (Linux), else set and restored."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_bytes(path: Path | str, data: bytes) -> None:
    """Atomically write bytes."""
    with atomic_open(path, "wb") as fh:
        fh.write(data)


def write_text(path: Path | str, text: str) -> None:
    """Atomically write text (UTF-8)."""
    with atomic_open(path, "w") as fh:
        fh.write(text)


def _finite_or_none(obj: Any) -> Any:
    """Replace NaN/inf floats by ``None`` so the output is strict JSON."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite_or_none(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite_or_none(v) for v in obj]
    return obj


def write_json(path: Path | str, obj: Any, indent: int | None = None) -> None:
    r"""Atomically write strict JSON (NaN/inf become ``null``).

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     write_json(f"{d}/x.json", {"a": [1.5, float("nan")]})
    ...     open(f"{d}/x.json").read()
    '{"a": [1.5, null]}\n'
    """
    try:  # the common case: nothing to replace (same bytes, without a pass over every value)
        text = json.dumps(obj, indent=indent, ensure_ascii=False, allow_nan=False)
    except ValueError:
        text = json.dumps(_finite_or_none(obj), indent=indent, ensure_ascii=False, allow_nan=False)
    write_text(path, text + "\n")


def read_json(path: Path | str, big_ints_as_floats: bool = False) -> Any:
    """Read a JSON file; a missing or malformed file raises :class:`DataError` naming it.

    ``big_ints_as_floats``: use orjson (faster), which reads an integer beyond 64 bits as the nearest float.
    """
    path = Path(path)
    try:
        if big_ints_as_floats:
            try:
                return orjson.loads(path.read_bytes())
            except orjson.JSONDecodeError:
                pass  # the standard parser decides, and words the error
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except json.JSONDecodeError as e:
        raise DataError(f"{path}: malformed JSON at line {e.lineno} column {e.colno}: {e.msg}") from None
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    except RecursionError:
        raise DataError(f"{path}: JSON nested too deeply to be a data or result file") from None
    except IsADirectoryError:
        raise DataError(f"{path}: a folder, not a file") from None
    except OSError as e:
        raise DataError(f"{path}: cannot read ({e.strerror or e})") from None


def safe_component(name: Any, what: str, where: str) -> str:
    """``name`` if it can be one path component (a file or folder name), else a :class:`DataError`.

    >>> safe_component("Democrat", "demographic", "f.json")
    'Democrat'
    >>> safe_component("../../tmp/x", "demographic", "f.json")
    Traceback (most recent call last):
    ...
    distalign.files.DataError: f.json: demographic '../../tmp/x' cannot name a file (empty, a leading '.' or a \
path separator)
    """
    bad = not isinstance(name, str) or name in ("", ".", "..") or any(c in name for c in "/\\\0")
    if bad or name.startswith("."):
        raise DataError(f"{where}: {what} {name!r} cannot name a file (empty, a leading '.' or a path separator)")
    return name


def require(mapping: Any, key: str, where: str) -> Any:
    """``mapping[key]``, or a :class:`DataError` saying which file/record lacks it."""
    if not isinstance(mapping, dict):
        raise DataError(f"{where}: expected an object, found {type(mapping).__name__}")
    if key not in mapping:
        raise DataError(f"{where}: missing key {key!r}")
    return mapping[key]
