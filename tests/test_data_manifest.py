"""The package manifest and the real release: every row well formed, the real fetch from the local mirror.

The ``data`` test runs the real fetch from the local mirror ``<repo>/../shared/benchmark-data`` (skipped when
absent) and checks that no participant identifier is left in what it wrote. The fetch logic itself is tested on a
tiny release in ``tests/test_data_fetch.py``.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest

from distalign.data import fetch as fetch_mod
from distalign.data.fetch import fetch, local_status
from distalign.data.manifest import load_manifest
from distalign.data.privacy import is_identifying

REPO = Path(__file__).resolve().parents[1]
MIRROR = REPO.parent / "shared" / "benchmark-data"


def test_package_manifest_is_complete() -> None:
    manifest = load_manifest()
    paths = {r.path for r in manifest}
    assert len(manifest) == len(paths) > 600
    assert all(
        re.fullmatch(r"[0-9a-f]{64}", r.sha256) and re.fullmatch(r"[0-9a-f]{64}", r.upstream_sha256) for r in manifest
    )
    for prefix in (
        "opinions_qa/",
        "nytimes/",
        "Global_Values/",
        "inputs/",
        "results/human_annotations/",
        "results/opinionqa/",
        "results/nytimes/",
        "results/globalvalues/",
    ):
        assert any(p.startswith(prefix) for p in paths), prefix
    assert all(r.upstream_url.startswith("https://") for r in manifest)


@pytest.mark.data
def test_real_fetch_from_mirror(tmp_path: Path) -> None:
    if not (MIRROR / "MANIFEST.tsv").is_file():
        pytest.skip(f"no local mirror at {MIRROR}")
    manifest, dest = load_manifest(), tmp_path / "repo"
    summary = fetch(manifest, str(MIRROR), dest)
    assert summary.failed == [] and summary.fetched == len(manifest)
    state = fetch_mod.load_state(dest)
    assert all(local_status(dest, r, state) == "ok" for r in manifest)
    prolific_like = re.compile(rb"\b[0-9a-f]{24}\b")
    for folder in ("results/human_annotations", "nytimes/individual_annotations"):
        for path in (dest / folder).rglob("*"):
            data = path.read_bytes()
            assert not prolific_like.search(data), path
            if path.suffix == ".csv":
                header = next(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
                assert not [c for c in header if is_identifying(c)], path
