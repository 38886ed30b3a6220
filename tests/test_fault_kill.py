"""SIGKILL at seeded random moments, then rerun: the uninterrupted run's bytes, nothing lost or asked twice.

Extends ``tests/test_resume.py`` (one kill after a fixed number of calls) to kill times drawn from a seeded
Generator over the whole life of the process (start-up, planning, requests, result-file writes, the last flush).
After each kill, before the rerun: every result file and the request log parse (no truncated JSON, no
truncated JSONL line), and every request the backend was asked for is either in the cache or was in flight.
After the rerun: result files byte-identical to an uninterrupted run, no stray temporary file, no cached
request sent again, no request sent twice, none lost (backend calls counted through the fake's ``call_log``).
"""

from __future__ import annotations

import signal
import subprocess
import warnings
from pathlib import Path

import numpy as np
import pytest
from test_resume import CONCURRENCY, N_REQUESTS, calls, command, results

from distalign.engine.cache import ResponseCache
from distalign.engine.runlog import read_log
from distalign.results import read_results, scan
from tests.generate_standins import write_tiny_oqa

SEEDS = (0, 1, 2)
KILLS_PER_SEED = 3  # 9 kills in all, each after its own seeded delay (start-up takes ~0.4 s, requests ~1.4 s)


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, bytes], set[str]]:
    tmp = tmp_path_factory.mktemp("reference")
    data = tmp / "data"
    write_tiny_oqa(data)
    done = subprocess.run(command(tmp, "ref", data, latency_ms=0), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return data, results(tmp / "ref"), set(calls(tmp / "ref.calls"))


def kill_after(cmd: list[str], seconds: float) -> int:
    """Start ``cmd``, SIGKILL it after ``seconds`` (if still running); its return code."""
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        proc.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
    return proc.wait(timeout=60)


def asked_so_far(path: Path) -> list[str]:
    """The keys the backend was asked for so far (none when a kill came before the first call: a busy machine)."""
    return calls(path) if path.exists() else []


def check_intact(root: Path, log: Path) -> None:
    """Every result file and the request log parse, with no truncated line."""
    for _, path in scan(root):
        read_results(path)
    if log.exists():
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a skipped truncated line would warn
            list(read_log(log))


@pytest.mark.parametrize("seed", SEEDS)
def test_sigkill_at_random_moments_then_rerun(tmp_path: Path, reference, seed: int) -> None:
    data, ref_bytes, ref_calls = reference
    run = tmp_path / "run"
    cmd = command(tmp_path, "run", data, latency_ms=40)  # 2 in flight: 50 requests per second
    kills = np.random.default_rng(seed).uniform(0.3, 1.6, size=KILLS_PER_SEED)
    cached: set[str] = set()
    for when in kills:
        before = len(asked_so_far(tmp_path / "run.calls"))
        code = kill_after(cmd, float(when))
        assert code in (0, -signal.SIGKILL)
        check_intact(run, run / "logs/fake__oracle.jsonl")
        asked = asked_so_far(tmp_path / "run.calls")
        cache = ResponseCache(tmp_path / "run.sqlite")
        now_cached = {k for k in asked if cache.get(k) is not None}
        cache.close()
        assert not set(asked[before:]) & cached  # a cached request is never sent again
        assert len(set(asked[before:]) - now_cached) <= CONCURRENCY  # only requests in flight were lost
        cached |= now_cached

    before = len(asked_so_far(tmp_path / "run.calls"))
    again = subprocess.run(command(tmp_path, "run", data, latency_ms=0), capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    asked = calls(tmp_path / "run.calls")
    last = asked[before:]
    assert not set(last) & cached and len(last) == len(set(last))  # no cached key re-sent, nothing sent twice
    assert set(asked) == ref_calls and cached | set(last) == ref_calls  # nothing lost, nothing extra
    assert len(asked) - len(set(asked)) <= CONCURRENCY * KILLS_PER_SEED  # repeats: only requests cut off in flight
    assert results(run) == ref_bytes  # byte-identical result files, no duplicate or missing record
    assert not list(run.rglob("*.tmp"))  # temporaries of writes cut by a kill are cleaned up
    check_intact(run, run / "logs/fake__oracle.jsonl")
    logged = {rec["key"] for rec in read_log(run / "logs/fake__oracle.jsonl") if rec["ok"]}
    assert logged == ref_calls  # every stored answer has its log line


def test_log_partial_line_is_cut_before_the_next_append(tmp_path: Path) -> None:
    from distalign.engine.runlog import RunLog

    path = tmp_path / "x.jsonl"
    path.write_text('{"a": 1}\n{"b": 2}\n{"c": ')  # a writer killed mid-line (older versions)
    with pytest.warns(UserWarning, match="truncated last line"):
        assert list(read_log(path)) == [{"a": 1}, {"b": 2}]
    log = RunLog(path)
    log.write({"d": 4})
    log.close()
    assert path.read_text() == '{"a": 1}\n{"b": 2}\n{"d": 4}\n'


def test_rerun_of_a_finished_run_sends_nothing(tmp_path: Path, reference) -> None:
    data, ref_bytes, _ = reference
    for _ in range(2):
        done = subprocess.run(command(tmp_path, "run", data, latency_ms=0), capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
    assert len(calls(tmp_path / "run.calls")) == N_REQUESTS and "0 sent" in done.stdout
    assert results(tmp_path / "run") == ref_bytes
