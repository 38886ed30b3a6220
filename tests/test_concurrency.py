"""Several processes on one results folder: nothing lost, nothing asked twice, nothing written by the wrong run.

* request logs: processes appending to one log while others open it lose no line and split none;
* a run or a dry run started next to a running job never deletes the job's temporary files; a second run on cells
  another run owns waits with one clear line, then continues from that run's records; a dry run writes nothing;
* the README's recipe (a grid split by dataset across processes) plus two processes on the same cells with
  different ``--limit``, against a loopback server with latency: every request sent and logged once, every record
  kept, result files byte-identical to single-process runs.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fakeserver_openai import FakeOpenAI
from generate_standins import write_tiny_oqa

from distalign.engine.locks import FileLock
from distalign.engine.runlog import RunLog, read_log
from distalign.results import scan

REPO = Path(__file__).resolve().parents[1]
MODEL = "openai/gpt-4o-2024-08-06"
T1 = "opinionqa/model_logprobs/openai__gpt-4o-2024-08-06/task1/Pew_American_Trends_Panel_disagreement_100"
needs_data = pytest.mark.skipif(not (REPO / "nytimes" / "POLPARTY_data.json").exists(), reason="needs the fetched data")


# --- request logs ------------------------------------------------------------------------------------------------
def _append(path: str, writer: int, n: int, width: int) -> None:
    log = RunLog(path, flush_every=64)
    for i in range(n):
        log.write({"writer": writer, "i": i, "pad": "x" * width})
    log.close()


def _reopen(path: str, n: int) -> None:
    for i in range(n):  # a short run starting next to the long ones, over and over
        log = RunLog(path)
        log.write({"writer": -1, "i": i})
        log.close()


def test_concurrent_appends_and_opens_lose_no_log_line(tmp_path: Path) -> None:
    path = str(tmp_path / "log.jsonl")
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_append, args=(path, w, 3000, 2000)) for w in range(2)]
    procs.append(ctx.Process(target=_reopen, args=(path, 400)))
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    lines = list(read_log(path))
    assert len(lines) == 2 * 3000 + 400
    for w, n in ((0, 3000), (1, 3000), (-1, 400)):
        assert sorted(r["i"] for r in lines if r["writer"] == w) == list(range(n))


def test_a_partial_line_left_by_a_dead_writer_is_cut_before_the_next_append(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    path.write_bytes(b'{"i": 0}\n{"i": 1, "cut off by a ki')
    log = RunLog(path)
    assert path.read_bytes().endswith(b"ki")  # opening a log changes nothing in it
    log.write({"i": 2})
    log.close()
    assert [r["i"] for r in read_log(path)] == [0, 2]


# --- a second run next to a running job ----------------------------------------------------------------------
def _cli(data: Path, results: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        str(REPO / "lm_steering.py"),
        "--no_progress",
        "--models",
        "fake/oracle",
        "--dataset",
        "opinionqa",
        "--task",
        "1",
        "--output_type",
        "model_logprobs",
        "--data_dir",
        str(data),
        "--results_dir",
        str(results),
        "--no_cache",
        *extra,
    ]


def tree(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*")}


def test_a_second_run_waits_for_the_owner_and_keeps_its_temporary_files(tmp_path: Path) -> None:
    data = tmp_path / "data"
    write_tiny_oqa(data)
    results = tmp_path / "results"
    assert subprocess.run(_cli(data, results, "--limit", "2"), capture_output=True).returncode == 0
    cell = results / T1.replace("openai__gpt-4o-2024-08-06", "fake__oracle") / "SEX" / "Female.json"
    job = FileLock(cell.with_name(".Female.json.lock"))
    assert job.acquire()  # a running job owns the cell and is writing it
    tmp = cell.with_name(f".Female.json.{os.getpid()}.abc123.tmp")
    tmp.write_text("{")
    before = tree(results)
    dry = subprocess.run(_cli(data, results, "--dry_run"), capture_output=True, text=True)
    assert dry.returncode == 0 and tree(results) == before  # a dry run writes and deletes nothing
    second = subprocess.Popen(_cli(data, results, "--limit", "4"), stderr=subprocess.PIPE, text=True)
    assert second.stderr is not None
    line = second.stderr.readline()
    assert "waiting for 1 result file(s) that another run is writing" in line and str(cell) in line
    time.sleep(0.3)
    assert tmp.exists() and second.poll() is None  # the owner's temporary file is untouched; the run waits
    job.release()
    tmp.unlink()
    assert second.wait(60) == 0
    assert len(json.loads(cell.read_text())) == 4 and not list(cell.parent.glob(".*"))


def test_a_dry_run_on_a_new_folder_creates_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    write_tiny_oqa(data)
    done = subprocess.run(_cli(data, tmp_path / "results", "--dry_run"), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "results").exists()


# --- the split grid -----------------------------------------------------------------------------------------------
def _grid(srv: FakeOpenAI, results: Path, datasets: list[str], limit: int) -> list[str]:
    return [
        sys.executable,
        str(REPO / "lm_steering.py"),
        "--no_progress",
        "--models",
        MODEL,
        "--base_url",
        srv.url + "/v1",
        "--dataset",
        *datasets,
        "--task",
        "1",
        "--output_type",
        "model_logprobs",
        "sequence",
        "--limit",
        str(limit),
        "--data_dir",
        str(REPO),
        "--output_dir",
        str(results),
        "--concurrency",
        "2",
    ]


def _run_all(commands: list[list[str]]) -> list[subprocess.CompletedProcess[str]]:
    env = {**os.environ, "OPENAI_API_KEY": "sk-" + "test-concurrency-0123456789"}
    procs = [subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) for c in commands]
    return [subprocess.CompletedProcess(p.args, p.wait(180), *p.communicate()) for p in procs]


def files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for _, p in scan(root)}


@pytest.mark.data
@needs_data
def test_a_grid_split_across_processes_equals_one_process(tmp_path: Path) -> None:
    with FakeOpenAI(latency=0.02) as srv:
        one = tmp_path / "one"
        for done in _run_all([_grid(srv, one, ["opinionqa"], 4)]) + _run_all(
            [_grid(srv, one, ["nytimes", "globalvalues"], 2)]
        ):
            assert done.returncode == 0, done.stderr
        n_requests, srv.counts = srv.calls, type(srv.counts)()
        many = tmp_path / "many"
        split = [_grid(srv, many, [d], 2) for d in ("opinionqa", "nytimes", "globalvalues")]
        runs = _run_all([*split, _grid(srv, many, ["opinionqa"], 3), _grid(srv, many, ["opinionqa"], 4)])
        assert [r.returncode for r in runs] == [0] * 5, [r.stderr[-300:] for r in runs]
        assert srv.calls == n_requests  # every request sent once: none twice, none lost
    assert files(many) == files(one)  # every record kept, in the single-process bytes
    (log,) = (many / "logs").iterdir()
    keys = [r["key"] for r in read_log(log)]
    assert len(keys) == len(set(keys)) == n_requests  # every request logged once
