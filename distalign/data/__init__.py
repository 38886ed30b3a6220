"""The data step: verified fetch of the benchmark release, participant privacy, and a check (docs/original.md §2).

Run ``python -m distalign.data fetch`` (then ``check``); see :mod:`distalign.data.fetch`. Other modules read
human-study files only through :func:`read_annotation_csv` / :func:`read_annotation_json`, which never load
participant-identifying data.
"""

from __future__ import annotations

from distalign.data.privacy import is_identifying, pseudonym, read_annotation_csv, read_annotation_json

__all__ = ["is_identifying", "pseudonym", "read_annotation_csv", "read_annotation_json"]
