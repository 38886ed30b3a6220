"""Resume after a crash: kill ``lm_steering.py`` mid-run, rerun, get the uninterrupted run's bytes.

The fake backend appends one line per call to a call log (``--backend_arg call_log=...``), so the tests can
count backend calls: a request whose completion reached the cache before the kill is never sent again.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from distalign.engine.cache import ResponseCache
from distalign.engine.runlog import read_log
from distalign.results import scan
from tests.generate_standins import write_tiny_oqa

REPO = Path(__file__).resolve().parents[1]
N_REQUESTS = 2 * (6 * 6 - 1)  # 2 output types x (6 questions x 6 demographics - 1 without options)
CONCURRENCY = 2


def command(tmp: Path, name: str, data: Path, latency_ms: int) -> list[str]:
    return [
        sys.executable,
        str(REPO / "lm_steering.py"),
        "--no_progress",
        "--dataset",
        "opinionqa",
        "--task",
        "1",
        "--models",
        "fake/oracle",
        "--output_type",
        "model_logprobs",
        "sequence",
        "--data_dir",
        str(data),
        "--results_dir",
        str(tmp / name),
        "--cache_path",
        str(tmp / f"{name}.sqlite"),
        "--seed",
        "3",
        "--concurrency",
        str(CONCURRENCY),
        "--backend_arg",
        f"latency_ms={latency_ms}",
        "--backend_arg",
        f"call_log={tmp / name}.calls",
    ]


def calls(path: Path) -> list[str]:
    return [json.loads(line)["key"] for line in path.read_text().splitlines() if line.endswith("}")]


def results(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for _, p in scan(root)}


def interrupted_run(tmp: Path, data: Path, sig: int, after_calls: int) -> subprocess.Popen:
    """Start a run with slow replies (120 ms: most of it is still ahead after ``after_calls``) and signal it."""
    proc = subprocess.Popen(
        command(tmp, "run", data, latency_ms=120), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    log = tmp / "run.calls"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if log.exists() and len(log.read_text().splitlines()) >= after_calls:
            proc.send_signal(sig)
            break
        time.sleep(0.01)
    proc.wait(timeout=60)
    return proc


@pytest.fixture
def reference(tmp_path):
    data = tmp_path / "data"
    write_tiny_oqa(data)
    done = subprocess.run(command(tmp_path, "ref", data, latency_ms=0), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert len(calls(tmp_path / "ref.calls")) == N_REQUESTS
    return data, results(tmp_path / "ref"), set(calls(tmp_path / "ref.calls"))


def test_sigkill_then_rerun_equals_an_uninterrupted_run(tmp_path, reference):
    data, ref_bytes, ref_calls = reference
    proc = interrupted_run(tmp_path, data, signal.SIGKILL, after_calls=30)
    assert proc.returncode == -signal.SIGKILL
    first = calls(tmp_path / "run.calls")
    assert 30 <= len(first) < N_REQUESTS  # really interrupted
    cache = ResponseCache(tmp_path / "run.sqlite")
    cached = {k for k in first if cache.get(k) is not None}
    cache.close()
    assert len(set(first) - cached) <= CONCURRENCY  # only requests in flight at the kill were lost
    assert len(list(read_log(tmp_path / "run/logs/fake__oracle.jsonl"))) <= len(cached)

    again = subprocess.run(command(tmp_path, "run", data, latency_ms=0), capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    second = calls(tmp_path / "run.calls")[len(first) :]
    assert not set(second) & cached  # completed keys are not requested again
    assert len(second) == len(set(second))  # nothing asked twice
    assert cached | set(second) == ref_calls  # nothing lost
    assert results(tmp_path / "run") == ref_bytes  # byte-identical result files
    assert f"{len(second)} sent" in again.stdout


def test_ctrl_c_saves_progress_and_exits_130(tmp_path, reference):
    data, ref_bytes, _ = reference
    proc = interrupted_run(tmp_path, data, signal.SIGINT, after_calls=20)
    assert proc.returncode == 130, proc.stderr.read()
    assert "run the same command again to continue" in proc.stderr.read()
    saved = results(tmp_path / "run")
    assert saved and sum(len(json.loads(b)) for b in saved.values()) >= 20 - CONCURRENCY
    again = subprocess.run(command(tmp_path, "run", data, latency_ms=0), capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and results(tmp_path / "run") == ref_bytes
