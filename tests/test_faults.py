"""Faults under load: misbehaving servers, a broken cache, a read-only or full results folder.

Every run goes through ``lm_steering.main`` (in process) and the real ``openai`` backend against the loopback
``tests/fakeserver_openai.FakeOpenAI``. A failed request must end the run normally, be recorded with its reason (request
log line and summary counts), store nothing (no record, never zeros), and be completed by the next run against a
healthy server, whose result files then equal an uninterrupted healthy run's. A broken cache or an unwritable
results folder must stop the run with one clear line naming the file, leaving no temporary file and no truncated
JSON behind.
"""

from __future__ import annotations

import errno
import json
import math
import sqlite3
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fakeserver_openai import FakeOpenAI
from generate_standins import write_tiny_oqa

from distalign.engine.cache import ResponseCache
from distalign.engine.runlog import read_log
from distalign.generate import runner
from distalign.results import read_results, scan

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
import lm_steering  # noqa: E402

MODEL = "openai/gpt-4o-2024-08-06"
LOG = f"logs/{MODEL.replace('/', '__')}.jsonl"
N_UNITS = 12  # 2 questions x 6 demographics, one request each


@pytest.fixture
def server() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(hang_s=2.0, retry_after=0.05) as srv:
        yield srv  # type: ignore[misc]


@pytest.fixture
def data(tmp_path: Path) -> Path:
    write_tiny_oqa(tmp_path / "data")
    return tmp_path / "data"


@pytest.fixture(autouse=True)
def dummy_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-" + "test-dummy-0123456789abcdef")
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)


def cli(
    capsys: pytest.CaptureFixture[str], srv: FakeOpenAI, data: Path, results: Path, *extra: str, limit: int = 2
) -> tuple[int, str, str]:
    argv = [
        "--no_progress",
        "--models",
        MODEL,
        "--base_url",
        srv.url + "/v1",
        "--dataset",
        "opinionqa",
        "--task",
        "1",
        "--output_type",
        "model_logprobs",
        "--limit",
        str(limit),
        "--data_dir",
        str(data),
        "--results_dir",
        str(results),
        "--concurrency",
        "1",
        "--timeout",
        "0.3",
        *extra,
    ]
    code = lm_steering.main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for _, p in scan(root)}


def records(root: Path) -> dict[str, dict[str, Any]]:
    out = {}
    for key, path in scan(root):
        for qid, rec in read_results(path).items():
            out[f"{key.group}/{key.demographic}/{qid}"] = rec
    return out


def no_zeros(root: Path) -> None:
    """Every stored distribution is a distribution; a parse failure is null, never zeros."""
    for rec in records(root).values():
        avg = rec["avg_actual_results"]
        assert avg is None or (all(v >= 0 for v in avg.values()) and math.isclose(sum(avg.values()), 1.0)), rec


def intact(root: Path) -> None:
    """No temporary file, every JSON file parses, the request log has no truncated line."""
    assert not [p for p in root.rglob("*") if p.name.endswith(".tmp")]
    for path in root.rglob("*.json"):
        json.loads(path.read_text())
    for log in root.rglob("*.jsonl"):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            list(read_log(log))


@pytest.fixture
def healthy(capsys: pytest.CaptureFixture[str], server: FakeOpenAI, data: Path, tmp_path: Path) -> dict[str, bytes]:
    """The result files of an uninterrupted run against the healthy server."""
    code, _, err = cli(capsys, server, data, tmp_path / "healthy")
    assert code == 0, err
    server.counts.clear()
    return snapshot(tmp_path / "healthy")


# --- misbehaving servers --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        ("hang", "request timed out"),  # the client timeout fires; transient, retried, then recorded as failed
        ("close", "connection failed"),  # connection closed mid-request
        ("malformed", "malformed response body"),
        ("empty", "the server returned no choices"),
        ("503", "HTTP 503"),
    ],
)
def test_a_failing_request_is_recorded_then_completed_by_the_next_run(
    capsys, server, data, tmp_path, healthy, fault: str, reason: str
) -> None:
    results = tmp_path / "results"
    server.fail_next(fault, fault)  # both attempts of the first request (--max_retries 1)
    code, out, err = cli(capsys, server, data, results, "--max_retries", "1")
    assert code == 3 and err.startswith(f"error: 1 of {N_UNITS} requests sent failed permanently"), err  # some failed
    assert server.calls == N_UNITS + 1
    assert f"{N_UNITS - 1} sent, 0 cached, 1 failed" in out and "1 questions failed (rerun to retry)" in out
    assert reason in out and "(after 2 attempts)" in out
    log = list(read_log(results / LOG))
    failed = [r for r in log if not r["ok"]]
    assert len(failed) == 1 and reason in failed[0]["error"] and "response" not in failed[0]
    assert len(records(results)) == N_UNITS - 1  # nothing stored for the failed question
    no_zeros(results)
    intact(results)

    code, out, err = cli(capsys, server, data, results, "--max_retries", "1")  # the server is healthy again
    assert code == 0, err
    assert server.calls == N_UNITS + 2 and "1 sent, 0 cached, 0 failed" in out and f"{N_UNITS - 1} already done" in out
    assert snapshot(results) == healthy
    intact(results)


def test_429_storm_then_recovery(capsys, server, data, tmp_path, healthy) -> None:
    results = tmp_path / "results"
    server.fail_next(*["429"] * 7)  # every call is refused for a while: 3 + 3 attempts fail, the 3rd request waits
    code, out, err = cli(capsys, server, data, results, "--max_retries", "2")
    assert code == 3 and "first: TransientError: " in err and "HTTP 429" in err, err
    assert server.calls == 7 + N_UNITS - 2
    assert f"{N_UNITS - 2} sent, 0 cached, 2 failed" in out and "2 x TransientError" in out and "HTTP 429" in out
    assert [r["attempts"] for r in read_log(results / LOG)][:3] == [3, 3, 2]
    no_zeros(results)
    code, out, err = cli(capsys, server, data, results, "--max_retries", "2")
    assert code == 0 and "2 sent, 0 cached, 0 failed" in out
    assert snapshot(results) == healthy


def test_failures_are_not_cached(capsys, server, data, tmp_path) -> None:
    results = tmp_path / "results"
    server.fail_next("400")  # permanent: not retried, not cached
    code, out, _ = cli(capsys, server, data, results)
    assert code == 3 and "1 failed" in out and "HTTP 400" in out
    cache = ResponseCache(results / ".cache/responses.sqlite")
    assert len(cache) == N_UNITS - 1
    cache.close()


# --- a broken cache ---------------------------------------------------------------------------------------------------
def test_corrupt_cache_is_a_clear_error_and_writes_nothing(capsys, server, data, tmp_path) -> None:
    bad = tmp_path / "cache.sqlite"
    bad.write_bytes(b"SQLite format 2\x00" + b"\x07" * 5000)
    code, _, err = cli(capsys, server, data, tmp_path / "results", "--cache_path", str(bad))
    assert code == 2 and err.startswith(f"error: response cache {bad}") and "corrupt" in err
    assert server.calls == 0 and not list(scan(tmp_path / "results"))
    intact(tmp_path)


def test_locked_cache_is_a_clear_error_and_the_rerun_completes(
    capsys, server, data, tmp_path, healthy, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "cache.sqlite"
    ResponseCache(path).close()
    monkeypatch.setattr(runner, "open_cache", lambda p: ResponseCache(p, busy_timeout_ms=100))
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")  # another process writing for a long time
    code, _, err = cli(capsys, server, data, tmp_path / "results", "--cache_path", str(path))
    assert code == 2 and f"response cache {path}" in err and "another process holds a write lock" in err
    intact(tmp_path / "results")
    other.execute("ROLLBACK")
    other.close()
    code, _, err = cli(capsys, server, data, tmp_path / "results", "--cache_path", str(path))
    assert code == 0, err
    assert snapshot(tmp_path / "results") == healthy


# --- an unwritable results folder ------------------------------------------------------------------------------------
def test_full_disk_on_a_result_write(capsys, server, data, tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    import distalign.files

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(distalign.files.os, "fsync", full)
    code, _, err = cli(capsys, server, data, tmp_path / "results")
    assert code == 2 and "error: cannot write" in err and "No space left on device" in err
    assert "Traceback" not in err
    assert not list(scan(tmp_path / "results"))  # nothing half-written
    intact(tmp_path / "results")


def test_read_only_folder_on_a_result_write(capsys, server, data, tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    import distalign.files

    def read_only(*args: Any, **kwargs: Any) -> tuple[int, str]:
        raise OSError(errno.EROFS, "Read-only file system", str(kwargs.get("dir", "")))

    monkeypatch.setattr(distalign.files.tempfile, "mkstemp", read_only)
    code, _, err = cli(capsys, server, data, tmp_path / "results")
    assert code == 2 and "Read-only file system" in err and str(tmp_path / "results") in err
    intact(tmp_path / "results")


def _mount(path: Path, options: str) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True, check=False)
    return done.returncode == 0


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 12 KiB tmpfs (needs root and mount; skipped elsewhere)."""
    where = tmp_path / "tiny"
    if not _mount(where, "size=12k"):
        pytest.skip("cannot mount a tmpfs here (not root, or no mount permission)")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def test_really_full_results_folder(capsys, server, data, tmp_path, tiny_disk: Path) -> None:
    results = tiny_disk / "results"
    code, _, err = cli(capsys, server, data, results, "--cache_path", str(tmp_path / "c.sqlite"), limit=6)
    assert code == 2 and "No space left on device" in err and "Traceback" not in err
    intact(results)  # the log keeps whole lines, result files are whole or absent
    logged = {r["key"] for r in read_log(results / LOG)}
    stored = records(results)
    assert len(logged) >= len(stored)  # a stored record always has its log line


def test_really_read_only_results_folder(capsys, server, data, tmp_path) -> None:
    where = tmp_path / "ro"
    if not _mount(where, "size=64k,ro"):
        pytest.skip("cannot mount a tmpfs here (not root, or no mount permission)")
    try:
        code, _, err = cli(capsys, server, data, where / "results", "--cache_path", str(tmp_path / "c.sqlite"))
        assert code == 2 and "Read-only file system" in err and str(where) in err and "Traceback" not in err
        assert server.calls == 0 and not list(where.rglob("*"))
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)
