"""Benchmark of scale (not a test): bookkeeping time and peak memory at 1x, 10x, 100x the questions.

For each question count (default 100, 1,000, 10,000) a synthetic OpinionQA-format data folder is built in a temporary
folder (``tests/generate_standins.write_tiny_oqa``: 7 demographics, question 2 without Male respondents), then, each
in a fresh process:

* **generate**: ``lm_steering.py`` with ``fake/uniform`` at zero latency, tasks 0 1 3, ``model_logprobs``: 13 result
  files of N questions (every cost is bookkeeping: prompts, cache keys, parsing, records, logs, result files);
  once without the cache and once with a cold cache;
* **evaluate**: ``lm_steering_eval.py --no_human`` on those results (TV rows, bootstrap, every CSV).

Prints wall time, CPU time (the robust figure on a shared machine), CPU time per question and peak RSS per stage
and scale, and the growth factor between scales (linear cost: 10x the questions -> 10x the time). ``--repo`` runs
another checkout's scripts (before/after).

    python bench/bench_scale.py [--questions 100 1000 10000] [--repo PATH]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from generate_standins import write_tiny_oqa  # noqa: E402

# Runs a script and prints its own CPU seconds and peak RSS (KiB) last on stderr, whatever its exit.
WRAPPER = (
    "import resource, runpy, sys\nscript = sys.argv[1]\nsys.argv = sys.argv[1:]\n"
    "try:\n    runpy.run_path(script, run_name='__main__')\nexcept SystemExit as e:\n    code = e.code\n"
    "else:\n    code = 0\n"
    "u = resource.getrusage(resource.RUSAGE_SELF)\n"
    "print(f'CPU {u.ru_utime + u.ru_stime} MAXRSS {u.ru_maxrss}', file=sys.stderr)\n"
    "sys.exit(code)\n"
)


def usage(stderr: str) -> tuple[float, float]:
    """(CPU seconds, peak RSS MiB) printed by :data:`WRAPPER`."""
    cpu, rss = stderr.rsplit("CPU ", 1)[1].split(" MAXRSS ")
    return float(cpu), int(rss.split()[0]) / 1024


def timed(repo: Path, script: str, *args: str) -> tuple[float, float, float]:
    """(wall seconds, CPU seconds, peak RSS MiB) of one script run in a fresh process."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", WRAPPER, str(repo / script), *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=repo,
    )
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{script} failed ({done.returncode}): {done.stderr[-2000:]}")
    return (wall, *usage(done.stderr))


def stages(repo: Path, root: Path, n: int) -> dict[str, tuple[float, float, float]]:
    """Time and peak memory of every stage at ``n`` questions."""
    data = root / "data"
    write_tiny_oqa(data, n)
    gen = [
        "--no_progress",
        "--models",
        "fake/uniform",
        "--dataset",
        "opinionqa",
        "--task",
        "0",
        "1",
        "3",
        "--output_type",
        "model_logprobs",
        "--data_dir",
        str(data),
    ]
    out = {
        "generate, no cache": timed(repo, "lm_steering.py", *gen, "--results_dir", str(root / "r1"), "--no_cache"),
        "generate, cold cache": timed(repo, "lm_steering.py", *gen, "--results_dir", str(root / "r2")),
        "evaluate": timed(
            repo,
            "lm_steering_eval.py",
            "--results_dir",
            str(root / "r1"),
            "--data_dir",
            str(data),
            "--output_dir",
            str(root / "eval"),
            "--no_human",
            "--quiet",
        ),
    }
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--questions", type=int, nargs="+", default=[100, 1000, 10000])
    p.add_argument("--repo", type=Path, default=REPO, help="checkout whose lm_steering*.py scripts are run")
    args = p.parse_args()
    rows: dict[int, dict[str, tuple[float, float, float]]] = {}
    for n in args.questions:
        with tempfile.TemporaryDirectory() as tmp:
            rows[n] = stages(args.repo, Path(tmp), n)
    names = list(rows[args.questions[0]])
    print(
        "synthetic OpinionQA, fake/uniform, tasks 0 1 3, model_logprobs: 13 result files of N questions "
        "(13 N - 2 requests)"
    )
    print(
        f"{'stage':<22} {'N':>7} {'wall s':>8} {'CPU s':>8} {'CPU ms / q':>11} {'CPU x prev N':>13} "
        f"{'peak RSS MiB':>13}"
    )
    for name in names:
        prev = None
        for n in args.questions:
            wall, cpu, rss = rows[n][name]
            growth = f"{cpu / prev:13.1f}" if prev else f"{'':>13}"
            print(f"{name:<22} {n:>7,} {wall:8.2f} {cpu:8.2f} {1000 * cpu / n:11.3f} {growth} {rss:13.0f}")
            prev = cpu


if __name__ == "__main__":
    main()
