"""The release manifest and its layout: one row per file the project needs, where it goes, what it hashes to.

``distalign/data/manifest.tsv`` lists every release file (release path, size and sha256 of the mirror copy, sha256
of the authors' original, transform, upstream address); :func:`load_manifest` reads it, :func:`dest_path` maps a
release path to its place under the destination root, and the sha256 helpers hash bytes and files.
:mod:`distalign.data.fetch` fetches and verifies the rows (docs/original.md §2).
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path

from distalign.files import DataError

MANIFEST = Path(__file__).with_name("manifest.tsv")
HUMAN_DIR = "results/human_annotations/"


@dataclass(frozen=True)
class ManifestRow:
    """One release file: where it lives in the release and what its bytes must hash to."""

    path: str  # release path, e.g. "nytimes/SEX_data.json"
    bytes: int  # size of the mirror copy
    sha256: str  # digest of the mirror copy (PII-stripped where transform says so)
    upstream_sha256: str  # digest of the authors' original
    transform: str  # "verbatim" or "pii-stripped" (mirror vs upstream)
    upstream_url: str  # download address at the release commit

    @property
    def dest(self) -> str:
        """Path under the destination root (:func:`dest_path`)."""
        return dest_path(self.path)


def load_manifest(path: Path | str = MANIFEST) -> list[ManifestRow]:
    """Rows of a manifest TSV (lines starting with ``#`` are comments)."""
    with open(path, encoding="utf-8", newline="") as fh:
        lines = [line for line in fh if not line.startswith("#")]
    rows = []
    for rec in csv.DictReader(lines, delimiter="\t"):
        try:
            rows.append(
                ManifestRow(
                    rec["path"],
                    int(rec["bytes"]),
                    rec["sha256"],
                    rec["upstream_sha256"],
                    rec["transform"],
                    rec["upstream_url"],
                )
            )
        except (KeyError, TypeError, ValueError) as e:
            raise DataError(f"{path}: malformed manifest row {rec!r} ({e})") from None
    return rows


def dest_path(rel: str) -> str:
    """Where a release file goes under the destination root.

    >>> dest_path("inputs/nytimes/sequence/prompt_task1.txt"), dest_path("nytimes/SEX_data.json")
    ('inputs/authors/nytimes/sequence/prompt_task1.txt', 'nytimes/SEX_data.json')
    """
    return "inputs/authors/" + rel[len("inputs/") :] if rel.startswith("inputs/") else rel


def is_generation(rel: str) -> bool:
    """Whether a release file is a released model generation (``results/<dataset>/**``).

    >>> is_generation("results/nytimes/sequence/x.json"), is_generation("results/human_annotations/a.csv")
    (True, False)
    """
    return rel.startswith("results/") and not rel.startswith(HUMAN_DIR)


def sha256_bytes(data: bytes) -> str:
    """Hex sha256 of bytes."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
