"""Verified data fetch and check (distalign/data/fetch.py, check.py, __main__.py); no network.

Each test builds a tiny "release" in tmp_path with its own manifest rows. The package manifest and the real fetch
from the local mirror are tested in ``tests/test_data_manifest.py``.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import urllib.error
from pathlib import Path

import pytest

import distalign.data.__main__ as cli
from distalign.data import check as check_mod
from distalign.data import fetch as fetch_mod
from distalign.data.fetch import STATE_FILE, SourceUnavailable, fetch, local_status, resolve_source
from distalign.data.manifest import ManifestRow
from distalign.data.privacy import ID_JSON, pseudonym

REPO = Path(__file__).resolve().parents[1]
PID = "6641edad07bdb5ab55169227"
UPSTREAM_CSV = f"QDem_Gend,IPAddress,PROLIFIC_PID,1_Q138\nFemale,10.0.0.1,{PID},3\n".encode()
MIRROR_CSV = b"QDem_Gend,1_Q138\nFemale,3\n"  # the mirror's PII-stripped copy of UPSTREAM_CSV
FILES = {
    "nytimes/SEX_data.json": b'{"Book": {"Male": {"1": 2}}}\n',
    "inputs/nytimes/sequence/prompt_task1.txt": b"Answer with a sequence.\n",
    "results/nytimes/sequence/gpt-4/task1/Male.json": b'{"Book": {"A": 1.0}}\n',
    "results/human_annotations/NYTIMES_BOOK_DATASET.csv": b"Year,Title\r\n2023,B\r\n",
    "results/human_annotations/study.csv": MIRROR_CSV,
    ID_JSON: json.dumps({"Book": {"genre": "F", "Democrat": {PID: "1: Very unlikely"}}}, indent=4).encode(),
}


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def row(path: str, data: bytes, upstream: bytes | None = None) -> ManifestRow:
    up = data if upstream is None else upstream
    return ManifestRow(
        path,
        len(data),
        sha(data),
        sha(up),
        "verbatim" if up == data else "pii-stripped",
        f"https://example.invalid/{path}",
    )


def rows() -> list[ManifestRow]:
    return [row(p, d, UPSTREAM_CSV if d == MIRROR_CSV else None) for p, d in FILES.items()]


@pytest.fixture
def release(tmp_path: Path) -> Path:
    src = tmp_path / "release"
    for rel, data in FILES.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_bytes(data)
    return src


@pytest.fixture(autouse=True)
def no_env_source(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DISTALIGN_DATA_SOURCE", raising=False)


@pytest.fixture
def stub_datasets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(check_mod, "dataset_counts", lambda name, root: {"questions": 1})


def all_ok(dest: Path) -> bool:
    state = fetch_mod.load_state(dest)
    return all(local_status(dest, r, state) == "ok" for r in rows())


def test_fresh_fetch_lays_out_and_verifies(release: Path, tmp_path: Path) -> None:
    dest = tmp_path / "repo"
    summary = fetch(rows(), str(release), dest)
    assert (summary.fetched, summary.verified, summary.replaced, summary.failed) == (6, 0, 0, [])
    assert (dest / "inputs/authors/nytimes/sequence/prompt_task1.txt").read_bytes() == FILES[
        "inputs/nytimes/sequence/prompt_task1.txt"
    ]
    assert not (dest / "inputs/nytimes").exists()  # our own templates are never overwritten
    assert (dest / "nytimes/SEX_data.json").read_bytes() == FILES["nytimes/SEX_data.json"]
    assert (dest / "results/human_annotations/NYTIMES_BOOK_DATASET.csv").read_bytes() == FILES[
        "results/human_annotations/NYTIMES_BOOK_DATASET.csv"
    ]
    assert PID not in (dest / ID_JSON).read_text() and pseudonym(PID) in (dest / ID_JSON).read_text()
    assert set(json.loads((dest / STATE_FILE).read_text())["files"]) == {
        ID_JSON,
        "results/human_annotations/NYTIMES_BOOK_DATASET.csv",
        "results/human_annotations/study.csv",
    }
    assert all_ok(dest)
    assert not list(dest.rglob("*.tmp"))


def test_rerun_skips_verified_files(release: Path, tmp_path: Path) -> None:
    dest = tmp_path / "repo"
    fetch(rows(), str(release), dest)
    again = fetch(rows(), str(release), dest)
    assert (again.fetched, again.verified, again.replaced, again.failed) == (0, 6, 0, [])
    assert "0 fetched, 6 already verified, 0 replaced (corrupt)" in again.line()


def test_corrupt_and_truncated_files_are_replaced(release: Path, tmp_path: Path) -> None:
    dest = tmp_path / "repo"
    fetch(rows(), str(release), dest)
    flipped = dest / "nytimes/SEX_data.json"
    data = bytearray(flipped.read_bytes())
    data[3] ^= 0x01  # one byte changed, same size: caught by sha, not by size
    flipped.write_bytes(bytes(data))
    truncated = dest / "results/human_annotations/study.csv"  # a privacy-rewritten file (state digest)
    truncated.write_bytes(truncated.read_bytes()[:-3])
    again = fetch(rows(), str(release), dest)
    assert (again.fetched, again.verified, again.replaced) == (0, 4, 2)
    assert flipped.read_bytes() == FILES["nytimes/SEX_data.json"]
    assert truncated.read_bytes() == MIRROR_CSV
    assert all_ok(dest)


def test_missing_state_refetches_rewritten_files(release: Path, tmp_path: Path) -> None:
    dest = tmp_path / "repo"
    fetch(rows(), str(release), dest)
    (dest / STATE_FILE).unlink()
    again = fetch(rows(), str(release), dest)
    assert (again.verified, again.replaced) == (3, 3)
    assert all_ok(dest)


def test_unstripped_file_on_disk_is_not_accepted(release: Path, tmp_path: Path) -> None:
    dest = tmp_path / "repo"
    fetch(rows(), str(release), dest)
    (dest / "results/human_annotations/study.csv").write_bytes(UPSTREAM_CSV)  # matches the upstream sha
    assert local_status(dest, rows()[4], fetch_mod.load_state(dest)) == "corrupt"


def test_upstream_original_is_accepted_and_stripped(release: Path, tmp_path: Path) -> None:
    (release / "results/human_annotations/study.csv").write_bytes(UPSTREAM_CSV)
    dest = tmp_path / "repo"
    summary = fetch(rows(), str(release), dest)
    assert summary.failed == [] and summary.fetched == 6
    written = (dest / "results/human_annotations/study.csv").read_bytes()
    assert written == MIRROR_CSV and PID.encode() not in written


def test_wrong_sha_is_rejected_and_not_written(release: Path, tmp_path: Path) -> None:
    (release / "nytimes/SEX_data.json").write_bytes(b'{"tampered": true}\n')
    dest = tmp_path / "repo"
    summary = fetch(rows(), str(release), dest)
    assert summary.fetched == 5 and len(summary.failed) == 1
    message = summary.failed[0]
    assert "nytimes/SEX_data.json" in message and sha(FILES["nytimes/SEX_data.json"]) in message
    assert sha(b'{"tampered": true}\n') in message
    assert not (dest / "nytimes/SEX_data.json").exists()


def test_cli_wrong_sha_exits_nonzero(
    release: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (release / "nytimes/SEX_data.json").write_bytes(b"{}")
    monkeypatch.setattr(cli, "load_manifest", rows)
    assert cli.main(["fetch", "--source", str(release), "--dest", str(tmp_path / "repo"), "--quiet"]) == 1
    out, err = capsys.readouterr()
    assert "5 fetched, 0 already verified, 0 replaced (corrupt)" in out and "1 failed" in out
    assert "error: nytimes/SEX_data.json: sha256 mismatch" in err


def test_cli_missing_source_gives_one_clear_message(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "distalign.data",
            "fetch",
            "--source",
            str(tmp_path / "nowhere"),
            "--dest",
            str(tmp_path / "repo"),
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "DISTALIGN_DATA_SOURCE": ""},
        timeout=120,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "DISTALIGN_DATA_SOURCE=/path/to/benchmark-data" in proc.stderr and "--source" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 2  # the "fetching ..." line and the one error
    assert not (tmp_path / "repo").exists()


def test_source_without_any_file_is_unavailable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "empty").mkdir()
    monkeypatch.setattr(cli, "load_manifest", rows)
    assert cli.main(["fetch", "--source", str(tmp_path / "empty"), "--dest", str(tmp_path / "repo"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "DISTALIGN_DATA_SOURCE" in err


def test_unreachable_url_is_unavailable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise urllib.error.URLError("connection refused")

    monkeypatch.setattr(fetch_mod.urllib.request, "urlopen", refuse)
    with pytest.raises(SourceUnavailable, match="DISTALIGN_DATA_SOURCE"):
        fetch(rows(), None, tmp_path / "repo")  # upstream mode
    with pytest.raises(SourceUnavailable, match="cannot reach https://mirror.invalid/data/nytimes/SEX_data.json"):
        fetch(rows(), "https://mirror.invalid/data", tmp_path / "repo")


def test_url_source(release: Path, tmp_path: Path) -> None:
    (release / "results/human_annotations/a b,c.csv").write_bytes(b"x\n1\n")  # a name that needs quoting
    extra = rows() + [row("results/human_annotations/a b,c.csv", b"x\n1\n")]
    summary = fetch(extra, release.as_uri(), tmp_path / "repo")  # file:// URL: urllib, no network
    assert (summary.fetched, summary.failed) == (7, [])


def test_source_order(monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_source("/a", {"DISTALIGN_DATA_SOURCE": "/b"}) == "/a"
    assert resolve_source(None, {"DISTALIGN_DATA_SOURCE": "/b"}) == "/b"
    assert resolve_source(None, {}) is None
    monkeypatch.setenv("DISTALIGN_DATA_SOURCE", "/c")
    assert resolve_source(None) == "/c"


def test_no_results_keeps_human_annotations(release: Path, tmp_path: Path, stub_datasets: None) -> None:
    dest = tmp_path / "repo"
    summary = fetch(rows(), str(release), dest, no_results=True)
    assert (summary.fetched, summary.skipped) == (5, 1)
    assert (dest / "results/human_annotations/study.csv").exists()
    assert not (dest / "results/nytimes").exists()
    report, ok = check_mod.check(rows(), dest)
    assert ok and "no-results" in report["note"]
    assert report["datasets"]["nytimes"]["results"] == {"verified": 0, "expected": 1}


def test_check_reports_missing_and_corrupt(release: Path, tmp_path: Path, stub_datasets: None) -> None:
    dest = tmp_path / "repo"
    fetch(rows(), str(release), dest)
    report, ok = check_mod.check(rows(), dest)
    assert ok and report["files"]["verified"] == 6
    assert report["datasets"]["nytimes"]["results"] == {"verified": 1, "expected": 1}
    (dest / "nytimes/SEX_data.json").write_bytes(b"{}")
    (dest / "inputs/authors/nytimes/sequence/prompt_task1.txt").unlink()
    report, ok = check_mod.check(rows(), dest)
    assert not ok
    assert report["files"]["corrupt_files"] == ["nytimes/SEX_data.json"]
    assert report["files"]["missing_files"] == ["inputs/authors/nytimes/sequence/prompt_task1.txt"]


def test_cli_check_prints_one_json_object(
    release: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    stub_datasets: None,
) -> None:
    monkeypatch.setattr(cli, "load_manifest", rows)
    assert cli.main(["check", "--data_dir", str(tmp_path / "empty")]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False and report["files"]["missing"] == 6
