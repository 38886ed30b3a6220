"""Temperature scaling on the released generations: the paper fit reproduces the released temperatures, files and
Table 1's TS-Log-p means (docs/original.md §6, §10).

    pytest tests/test_calibration_release.py
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from distalign import calibration as cal
from distalign.data.manifest import load_manifest, sha256_file
from distalign.results import read_results

REPO = Path(__file__).resolve().parents[1]
OQA_DEMS = [
    ("POLPARTY", "Democrat"),
    ("POLPARTY", "Republican"),
    ("SEX", "Male"),
    ("SEX", "Female"),
    ("RACE", "Black"),
    ("RACE", "White"),
]

REPO = Path(__file__).resolve().parents[1]


# ---- released data -----------------------------------------------------------------------------------------
RELEASED_T = {
    ("gpt-3.5-turbo-0125", "opinionqa", "task1"): 3.8197,
    ("llama3-70b", "globalvalues", "task1"): 3.8197,
    ("gpt-4", "nytimes", "task1"): 10.0,
    ("gpt-4", "opinionqa", "task1"): 9.6651,
}
TABLE1_TS = {"gpt-3.5-turbo-0125": 0.2963, "gpt-4": 0.2735, "llama3-70b": 0.4694}


def released_ts_files() -> list[Path]:
    """The fetched released TS-Log-p files whose bytes still match the manifest (a run may have overwritten them)."""
    rows = [r for r in load_manifest() if "/rescaled_model_logprobs/" in r.path]
    return [REPO / r.path for r in rows if (REPO / r.path).exists() and sha256_file(REPO / r.path) == r.sha256]


@pytest.fixture(scope="module")
def paper_run(tmp_path_factory):
    if not (REPO / "results" / "opinionqa" / "model_logprobs").is_dir():
        pytest.skip("released results not fetched (python -m distalign.data fetch)")
    out = tmp_path_factory.mktemp("ts_paper")
    return out, cal.calibrate(REPO / "results", out, REPO, mode="paper")


@pytest.mark.data
def test_paper_mode_reproduces_released_temperatures_and_files(paper_run):
    out, fits = paper_run
    fitted = {(f.model, f.dataset, f.task): f.temperature for f in fits}
    assert len(fitted) == 24
    for key, t in RELEASED_T.items():
        assert fitted[key] == pytest.approx(t, abs=1e-4)
    files = released_ts_files()
    if len(files) < 80:
        pytest.skip("the released rescaled_model_logprobs files were overwritten; re-fetch the data")
    worst = 0.0
    for path in files:
        ours = read_results(out / path.relative_to(REPO / "results"))
        for qid, rec in json.loads(path.read_text()).items():
            theirs, mine = rec["avg_actual_results"], ours[qid]["avg_actual_results"]
            if not theirs:
                continue
            if any(v != v for v in theirs.values()):  # NaN in the release: an all-zero row
                assert mine is None
                continue
            worst = max(worst, max(abs(a - b) for a, b in zip(theirs.values(), mine.values(), strict=True)))
    assert worst < 1e-6


def headline_mean(root: Path, model: str) -> float:
    """⅓-weighted mean over datasets of the task1+task3 TS-Log-p TVs (NaN, unscorable rows dropped; §7)."""
    means = []
    for dataset in ("opinionqa", "nytimes", "globalvalues"):
        tvs = []
        for task in ("task1", "task3_easy_hard"):
            for path in sorted((root / dataset / "rescaled_model_logprobs" / model / task).rglob("*.json")):
                for rec in read_results(path).values():
                    p, q = rec["avg_actual_results"], rec["expected_results"]
                    if p and len(p) == len(q):
                        tvs.append(0.5 * sum(abs(a - b) for a, b in zip(p.values(), q.values(), strict=True)))
        means.append(float(np.mean(tvs)))
    return float(np.mean(means))


@pytest.mark.data
def test_paper_mode_table1_ts_means(paper_run):
    out, _ = paper_run
    for model, expected in TABLE1_TS.items():
        assert headline_mean(out, model) == pytest.approx(expected, abs=0.003)


@pytest.mark.data
@pytest.mark.slow
def test_paper_mode_table1_ts_means_with_the_evaluator(paper_run, tmp_path):
    """Released generations + our paper-mode TS-Log-p files, evaluated in paper mode: Table 1 within ±0.003."""
    out, _ = paper_run
    if not (REPO / "lm_steering_eval.py").exists():
        pytest.skip("the evaluator (lm_steering_eval.py) has not landed yet")
    mixed = tmp_path / "results"
    for dataset in ("opinionqa", "nytimes", "globalvalues"):
        (mixed / dataset).mkdir(parents=True)
        (mixed / dataset / "rescaled_model_logprobs").symlink_to(out / dataset / "rescaled_model_logprobs")
        for output_type in ("model_logprobs", "sequence", "express_distribution"):
            (mixed / dataset / output_type).symlink_to(REPO / "results" / dataset / output_type)
    cmd = [
        sys.executable,
        str(REPO / "lm_steering_eval.py"),
        "--results_dir",
        str(mixed),
        "--data_dir",
        str(REPO),
        "--output_dir",
        str(tmp_path),
        "--mode",
        "paper",
        "--seed",
        "0",
        "--quiet",
    ]
    subprocess.run(cmd, check=True, cwd=REPO, timeout=600)
    board = pd.read_csv(tmp_path / "leaderboard_distrib_alignment.csv")
    for model, expected in TABLE1_TS.items():
        row = board[board["Model Name"] == f"{model} (TS-Log-p)"]
        assert float(row["Alignment Mean"].iloc[0]) == pytest.approx(expected, abs=0.003)
