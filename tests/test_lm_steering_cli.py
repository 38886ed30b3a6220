"""lm_steering.py end to end, with the real prompts and methods: the oracle's scores, errors, the dry run, flags.

The tests use the tiny OpinionQA-format data of tests/generate_standins.py; the last one runs generation and
``lm_steering_eval.py`` on the fetched data.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from distalign.backends import get_backend
from distalign.evaluation import evaluate
from distalign.types import Request
from tests.generate_standins import REPO, write_tiny_oqa


@pytest.fixture
def data(tmp_path) -> Path:
    write_tiny_oqa(tmp_path / "data")
    return tmp_path / "data"


def cli(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(REPO / "lm_steering.py"), "--no_progress", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


def oracle_run(data: Path, results: Path) -> tuple[str, ...]:
    """Flags of a fake/oracle run of tasks 0 and 1 on five questions of the tiny OpinionQA."""
    return (
        *"--dataset opinionqa --task 0 1 --models fake/oracle".split(),
        *"--output_type model_logprobs express_distribution sequence".split(),
        *("--data_dir", str(data), "--results_dir", str(results), "--limit", "5"),
    )


def test_cli_oracle_end_to_end_tv(tmp_path, data):
    out = cli(*oracle_run(data, tmp_path / "results"))
    assert out.returncode == 0, out.stderr
    summary = out.stdout.splitlines()[0]
    assert summary.startswith("fake/oracle: requests: 102 sent, 0 cached, 0 failed; tokens: ")
    assert "($0.00); records: 102 written, 0 parse failures, 0 already done; skipped: 3" in summary
    means: dict[str, list[float]] = {}
    for row in evaluate(tmp_path / "results", data, "fixed", human=False).rows:  # the evaluation stage
        if row.model == "fake__oracle" and row.task == "task1":
            means.setdefault(row.output_type, []).extend(row.tvs)
    assert [len(v) for v in means.values()] == [29, 29, 29]
    assert np.mean(means["model_logprobs"]) < 1e-9
    assert np.mean(means["express_distribution"]) < 2e-3  # percent rounding
    assert 0.05 < np.mean(means["sequence"]) < 0.16  # the floor of 30 samples
    again = cli(*oracle_run(data, tmp_path / "results"))
    assert "requests: 0 sent, 0 cached, 0 failed" in again.stdout and "102 already done" in again.stdout


def test_cli_errors_are_one_clear_line(tmp_path, data):
    out = cli("--models", "nope/x", "--data_dir", str(data), "--results_dir", str(tmp_path), "--limit", "1")
    assert out.returncode == 2 and out.stderr.startswith("error: unknown provider 'nope'")
    out = cli("--models", "fake/oracle", "--backend_arg", "oops", "--data_dir", str(data))
    assert out.returncode == 2 and "--backend_arg expects KEY=VALUE, got 'oops'" in out.stderr
    (tmp_path / "bad.sqlite").write_text("not sqlite" * 50)
    out = cli(
        "--models",
        "fake/oracle",
        "--data_dir",
        str(data),
        "--cache_path",
        str(tmp_path / "bad.sqlite"),
        "--results_dir",
        str(tmp_path / "r"),
    )
    assert out.returncode == 2 and "is not a database" in out.stderr and "Traceback" not in out.stderr


def test_cli_dry_run_output(tmp_path, data):
    out = cli(
        "--dataset",
        "opinionqa",
        "--task",
        "1",
        "3",
        "--models",
        "fake/oracle",
        "gpt-4",
        "anthropic_opus",
        "--output_type",
        "model_logprobs",
        "express_distribution",
        "--data_dir",
        str(data),
        "--results_dir",
        str(tmp_path / "r"),
        "--limit",
        "4",
        "--dry_run",
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].split() == ["model", "output_type", "requests", "input", "tok", "output", "tok", "cost"]
    assert any(line.startswith("anthropic_opus") and "n/a:" in line for line in lines)
    assert lines[-1].startswith("total: ") and not (tmp_path / "r").exists()


def test_backend_options_from_the_cli():
    sys.path.insert(0, str(REPO))
    try:
        import lm_steering
    finally:
        sys.path.pop(0)
    args = lm_steering.parse_args(
        [
            "--models",
            "fake/oracle",
            "--backend_arg",
            "latency_ms=5",
            "--backend_arg",
            "a=b=c",
            "--base_url",
            "http://localhost:8000/v1",
            "--device",
            "cpu",
            "--results_dir",
            "out",
            "--dataset",
            "nytimes",
            "opinionqa",
            "nytimes",
        ]
    )
    cfg = lm_steering.config(args)
    assert cfg.backend_options.extra == (("latency_ms", "5"), ("a", "b=c"))
    assert cfg.backend_options.base_url == "http://localhost:8000/v1" and cfg.backend_options.device == "cpu"
    assert cfg.cache_path == Path("out/.cache/responses.sqlite") and cfg.datasets == ("nytimes", "opinionqa")
    assert cfg.output_types == ("express_distribution", "sequence", "model_logprobs") and cfg.tasks == (1,)
    assert lm_steering.config(lm_steering.parse_args(["--models", "x/y", "--no_cache"])).cache_path is None


def test_fake_backend_is_registered():
    assert asyncio.run(get_backend("fake/uniform").complete(Request(()))).text in ("A", "B")  # never "" (in "AB")


DATA = REPO / "opinions_qa" / "data" / "human_resp"


@pytest.mark.data
@pytest.mark.skipif(not DATA.exists(), reason="benchmark data not fetched (python -m distalign.data fetch)")
def test_oracle_through_generation_and_lm_steering_eval_on_the_real_data(tmp_path):
    out = cli(
        *"--dataset opinionqa nytimes globalvalues --task 1 3 --models fake/oracle".split(),
        *"--output_type model_logprobs express_distribution sequence".split(),
        *("--results_dir", str(tmp_path / "results"), "--limit", "3"),
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("fake/oracle: requests: 234 sent, 0 cached, 0 failed")
    ev = subprocess.run(
        [
            sys.executable,
            str(REPO / "lm_steering_eval.py"),
            *("--results_dir", str(tmp_path / "results"), "--data_dir", str(REPO)),
            *("--output_dir", str(tmp_path / "eval"), "--n_bootstrap", "20", "--quiet"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert ev.returncode == 0, ev.stderr
    rows = pd.read_csv(tmp_path / "eval" / "eval_disagreement_bootstrapping.csv")
    tvs = rows[rows["Model"] == "fake__oracle"].groupby("Output Type")["TV"].mean()
    assert tvs["model_logprobs"] < 1e-9 and tvs["express_distribution"] < 2e-3
    assert 0.05 < tvs["sequence"] < 0.16
