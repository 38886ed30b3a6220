"""Verified fetch of the benchmark data into the repository's data folders (docs/original.md §2).

Every file the project needs is a row of ``distalign/data/manifest.tsv`` (release path, size and sha256
of the mirror copy, sha256 of the authors' original, transform, upstream address; read by
:mod:`distalign.data.manifest`). ``fetch`` reads each
file from a source (a regular file only, streamed, never more bytes than the manifest allows: a link to a
device or a pipe is refused, not read), accepts it only if its sha256 matches the mirror or the upstream digest, removes
participant-identifying data (:mod:`distalign.data.privacy`), and writes it atomically.

Sources, first that is set: ``--source DIR_OR_URL``, ``$DISTALIGN_DATA_SOURCE``, else each row's upstream
address. A folder or base URL must be laid out like the release.

Layout under the destination root: release paths are kept, except the authors' prompt templates
``inputs/...``, which go to ``inputs/authors/...`` (our own templates live in ``inputs/<dataset>/``).
``--no-results`` skips the released model generations ``results/<dataset>/**`` but still fetches
``results/human_annotations/``, which the human baselines need.

Files rewritten by the privacy step match no manifest digest, so the sha256 of what was written is
recorded in ``.distalign-fetch.json`` at the destination root and checked on re-runs. Tested in
``tests/test_data_fetch.py``.
"""

from __future__ import annotations

import json
import os
import re
import stat
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from distalign.data import privacy
from distalign.data.manifest import ManifestRow, is_generation, sha256_bytes, sha256_file
from distalign.files import DataError, write_bytes, write_json

REPO_ROOT = Path(__file__).resolve().parents[2]  # parent of the distalign package
STATE_FILE = ".distalign-fetch.json"
UPSTREAM_SLACK = 4  # an upstream original may be this many times its PII-stripped mirror copy (plus 1 MiB)
ENV_SOURCE = "DISTALIGN_DATA_SOURCE"
URL_RE = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")
HINT = (
    f"set {ENV_SOURCE}=/path/to/benchmark-data or pass --source DIR_OR_URL "
    "(a folder or base URL laid out like the release)"
)


class FetchError(DataError):
    """A file could not be fetched or verified; the message names it."""


class SourceUnavailable(FetchError):
    """The source as a whole cannot be reached; the message says what to do."""


class NotInSource(FetchError):
    """One file is absent from a source that is otherwise reachable."""


@dataclass
class FetchSummary:
    """Counts of one fetch run; ``failed`` holds one message per file that could not be written."""

    fetched: int = 0
    verified: int = 0
    replaced: int = 0
    skipped: int = 0
    failed: list[str] = field(default_factory=list)

    def line(self) -> str:
        """The one-line summary printed at the end."""
        return (
            f"{self.fetched} fetched, {self.verified} already verified, {self.replaced} replaced (corrupt), "
            f"{self.skipped} skipped, {len(self.failed)} failed"
        )


# --- state of privacy-transformed files -------------------------------------------------------------------


def load_state(root: Path) -> dict[str, Any]:
    """The fetch state at ``root`` (``{"files": {dest: {"sha256", "bytes"}}, "no_results": bool}``).

    A missing or unreadable state is empty: the transformed files are then fetched again.
    """
    try:
        state = json.loads((root / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"files": {}}
    return state if isinstance(state, dict) and isinstance(state.get("files"), dict) else {"files": {}}


def save_state(root: Path, state: dict[str, Any]) -> None:
    """Write the fetch state atomically."""
    write_json(root / STATE_FILE, state, indent=1)


def local_status(root: Path, row: ManifestRow, state: dict[str, Any]) -> str:
    """``"ok"``, ``"missing"`` or ``"corrupt"`` for the file of ``row`` under ``root``.

    Files the privacy step rewrites are verified only against the digest recorded in the state (never
    against the manifest, whose upstream digest is that of the file *with* identifying data).
    """
    path = root / row.dest
    if not path.is_file():
        return "missing"
    if privacy.applies(row.path):
        rec = state["files"].get(row.dest)
        if not isinstance(rec, dict):
            return "corrupt"  # unrecorded: cannot be verified, so it is fetched again
        size, accepted = rec.get("bytes"), {rec.get("sha256")}
    else:
        size = row.bytes if row.sha256 == row.upstream_sha256 else None
        accepted = {row.sha256, row.upstream_sha256}
    if size is not None and path.stat().st_size != size:
        return "corrupt"
    return "ok" if sha256_file(path) in accepted else "corrupt"


# --- sources ----------------------------------------------------------------------------------------------


Reader = Callable[[ManifestRow], bytes]


def resolve_source(flag: str | None, environ: Mapping[str, str] = os.environ) -> str | None:
    """The source to read from: the flag, else ``$DISTALIGN_DATA_SOURCE``, else ``None`` (upstream)."""
    return flag or environ.get(ENV_SOURCE) or None


def make_reader(source: str | None) -> Reader:
    """A function returning a file's bytes from ``source`` (folder, base URL, or ``None`` for upstream)."""
    if source is None:
        return lambda row: _read_url(row.upstream_url, row)
    if URL_RE.match(source):
        base = source.rstrip("/") + "/"
        return lambda row: _read_url(base + urllib.parse.quote(row.path), row)
    folder = Path(source)
    if not folder.is_dir():
        raise SourceUnavailable(f"data source {source} is not a folder; {HINT}")
    return lambda row: _read_local(folder, row)


def size_cap(row: ManifestRow) -> int:
    """The most bytes read for a file: its manifest size, or a multiple of it when the upstream copy differs.

    The manifest records the size of the mirror copy; a file whose upstream original carries participant
    columns that the mirror dropped may be larger upstream, never by a factor of :data:`UPSTREAM_SLACK`.
    """
    return row.bytes if row.sha256 == row.upstream_sha256 else UPSTREAM_SLACK * row.bytes + (1 << 20)


def _capped(read: Callable[[int], bytes], row: ManifestRow, where: str) -> bytes:
    """Everything ``read`` gives, in chunks, refusing more than :func:`size_cap` bytes."""
    cap, chunks, total = size_cap(row), [], 0
    while chunk := read(1 << 20):
        total += len(chunk)
        if total > cap:
            raise FetchError(f"{row.path}: {where} is larger than the manifest allows ({cap:,} bytes); not read on")
        chunks.append(chunk)
    return b"".join(chunks)


def _read_local(folder: Path, row: ManifestRow) -> bytes:
    """Bytes of ``folder/<row.path>``, a regular file no larger than the manifest allows, else a FetchError."""
    path = folder / row.path
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # a FIFO opens without waiting for a writer
    except FileNotFoundError:
        raise NotInSource(f"{row.path}: not found in source {folder}") from None
    except OSError as e:
        raise FetchError(f"{row.path}: cannot read {path}: {e.strerror}") from None
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise FetchError(f"{row.path}: {path} is not a regular file (a device, pipe or folder); not read")
        try:
            return _capped(fh.read, row, str(path))
        except OSError as e:
            raise FetchError(f"{row.path}: cannot read {path}: {e.strerror}") from None


def _read_url(url: str, row: ManifestRow) -> bytes:
    """Bytes at ``url`` (at most :func:`size_cap`); an HTTP error names the file, a network failure the source."""
    rel = row.path
    request = urllib.request.Request(url, headers={"User-Agent": "distalign-data-fetch"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return _capped(response.read, row, url)
    except urllib.error.HTTPError as e:
        if e.code == 404:
            raise NotInSource(f"{rel}: not found at {url} (HTTP 404)") from None
        raise FetchError(f"{rel}: HTTP {e.code} from {url}") from None
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise SourceUnavailable(f"cannot reach {url} ({reason}); {HINT}") from None


# --- fetch ------------------------------------------------------------------------------------------------


def verify_source_bytes(row: ManifestRow, data: bytes) -> None:
    """Raise :class:`FetchError` unless ``data`` hashes to the mirror or the upstream digest of ``row``."""
    actual = sha256_bytes(data)
    if actual not in (row.sha256, row.upstream_sha256):
        expected = row.sha256 if row.sha256 == row.upstream_sha256 else f"{row.sha256} or {row.upstream_sha256}"
        raise FetchError(f"{row.path}: sha256 mismatch in source: expected {expected}, got {actual}; not written")


def fetch_one(row: ManifestRow, read: Reader, root: Path, state: dict[str, Any]) -> None:
    """Read, verify, strip identifying data, and atomically write one file (recording its digest if rewritten)."""
    data = read(row)
    verify_source_bytes(row, data)
    out = privacy.transform(row.path, data)
    write_bytes(root / row.dest, out)
    if privacy.applies(row.path):
        state["files"][row.dest] = {"sha256": sha256_bytes(out), "bytes": len(out)}


def fetch(
    rows: Iterable[ManifestRow],
    source: str | None,
    root: Path | str = REPO_ROOT,
    no_results: bool = False,
    progress: Callable[[str], None] | None = None,
) -> FetchSummary:
    """Fetch every row into ``root``, skipping files already verified; see the module docstring.

    A file that fails is reported in the summary and the others are still tried. Raises
    :class:`SourceUnavailable` when the source cannot be reached, or holds none of the files to fetch.
    """
    root, rows = Path(root), list(rows)
    read, state, summary = make_reader(source), load_state(root), FetchSummary()
    state["no_results"] = no_results
    absent = 0
    try:
        for i, row in enumerate(rows, start=1):
            if progress and (i % 100 == 0 or i == len(rows)):
                progress(f"  {i}/{len(rows)} files")
            try:
                outcome = _fetch_if_needed(row, read, root, state, no_results)
            except SourceUnavailable:
                raise
            except DataError as e:
                absent += isinstance(e, NotInSource)
                summary.failed.append(str(e))
                continue
            setattr(summary, outcome, getattr(summary, outcome) + 1)
    finally:
        save_state(root, state)
    if absent and absent == len(summary.failed) and summary.fetched + summary.replaced == 0:
        raise SourceUnavailable(f"data source {source} holds none of the {absent} files needed; {HINT}")
    return summary


def _fetch_if_needed(row: ManifestRow, read: Reader, root: Path, state: dict[str, Any], no_results: bool) -> str:
    """Process one row; returns the :class:`FetchSummary` counter it adds to."""
    if no_results and is_generation(row.path):
        return "skipped"
    status = local_status(root, row, state)
    if status == "ok":
        return "verified"
    fetch_one(row, read, root, state)
    return "fetched" if status == "missing" else "replaced"
