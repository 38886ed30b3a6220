"""``job.sh`` stops at a failed generation, repeating the run's closing summary, and runs no later stage.

The job runs in a scratch folder with stand-ins for ``scripts/setup_env.sh`` and ``.venv/bin/python`` (a script
that records its arguments and makes ``lm_steering.py`` exit with a given status after printing a summary), so
the test checks the job's own control flow in a second, without the model or the data.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PYTHON = """#!/usr/bin/env bash
echo "$*" >> calls.txt
if [ "$1" = lm_steering.py ]; then
  echo "openai/x: requests: 10 sent, 0 cached, 2 failed; records: 10 written"
  echo "  2 x BackendError: HTTP 401: invalid key"
  exit "${GEN_STATUS:-0}"
fi
[ "$1 $2 $3" = "-m distalign.stages fresh" ] && exit "${FRESH:-1}"
[ "$1" = lm_steering_eval.py ] && mkdir -p results && echo "| board |" > results/leaderboard.md
exit 0
"""


def job(tmp_path: Path, status: int, fresh: bool = False) -> subprocess.CompletedProcess[str]:
    shutil.copy(REPO / "job.sh", tmp_path / "job.sh")
    (tmp_path / "scripts").mkdir(exist_ok=True)
    (tmp_path / "scripts/setup_env.sh").write_text("exit 0\n")
    (tmp_path / ".venv/bin").mkdir(parents=True, exist_ok=True)
    (tmp_path / ".venv/bin/python").write_text(PYTHON)
    (tmp_path / ".venv/bin/python").chmod(0o755)
    env = {"PATH": "/usr/bin:/bin", "GEN_STATUS": str(status), "MODELS": "fake/oracle", "DISTALIGN_DATA_SOURCE": "x"}
    env["FRESH"] = "0" if fresh else "1"
    return subprocess.run(["bash", "job.sh"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(("status", "meaning"), [(3, "some requests failed permanently"), (4, "every request")])
def test_a_failed_generation_stops_the_job_with_its_summary(tmp_path: Path, status: int, meaning: str) -> None:
    done = job(tmp_path, status)
    assert done.returncode == status
    assert f"Stopped at stage 3: lm_steering.py exited {status} ({meaning}" in done.stderr
    assert "2 x BackendError: HTTP 401: invalid key" in done.stderr.split("Stopped at stage 3")[1]
    calls = (tmp_path / "calls.txt").read_text()
    assert "lm_steering.py" in calls and "temperature_scaling.py" not in calls  # no later stage ran


def test_a_clean_generation_runs_every_stage(tmp_path: Path) -> None:
    done = job(tmp_path, 0)
    assert done.returncode == 0, done.stderr
    calls = (tmp_path / "calls.txt").read_text()
    assert "temperature_scaling.py" in calls and "lm_steering_eval.py" in calls and "figures" in calls


def test_an_up_to_date_run_skips_the_derived_stages(tmp_path: Path) -> None:
    (tmp_path / "results/report").mkdir(parents=True)
    (tmp_path / "results/leaderboard.md").write_text("| board |\n")
    done = job(tmp_path, 0, fresh=True)
    assert done.returncode == 0, done.stderr
    calls = (tmp_path / "calls.txt").read_text()
    assert not any(stage in calls for stage in ("temperature_scaling.py", "lm_steering_eval.py", "distalign.report"))
    assert done.stdout.count("up to date:") == 4 and "| board |" in done.stdout
    assert done.stdout.rstrip().endswith(str(tmp_path / "results/report/index.html"))
