"""Benchmark of cache replay (not a test): the full paper grid of one model, generated, then replayed.

Three runs of ``lm_steering.py`` in fresh processes, on the fetched data (all 3 datasets, tasks 0 1 3, the three
paper methods; 12,039 requests):

1. **generate**: ``fake/oracle`` at zero latency, with the response cache (the set-up);
2. **replay**: every result file deleted (cache and logs kept), the same command rerun against a *slow* fake
   backend (``latency_ms=200``, so a single real call would show): every answer must come from the cache;
3. **rerun when done**: the same command once more (every question already in its result file).

Prints wall time, CPU time (the robust figure on a shared machine), requests/s and peak RSS of each run, and checks
that the replay sent nothing and rewrote
byte-identical result files. ``--profile`` also prints the top functions of the replay (cProfile).

    python bench/bench_cache.py [--data_dir .] [--profile]
"""

from __future__ import annotations

import argparse
import math
import pstats
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "bench")]

from bench_scale import WRAPPER, usage  # noqa: E402

from distalign.results import scan  # noqa: E402

GRID = [
    "--dataset",
    "opinionqa",
    "nytimes",
    "globalvalues",
    "--task",
    "0",
    "1",
    "3",
    "--output_type",
    "express_distribution",
    "sequence",
    "model_logprobs",
    "--models",
    "fake/oracle",
    "--no_progress",
]


def run(
    repo: Path, results: Path, data: Path, *extra: str, profile: Path | None = None
) -> tuple[float, float, str, float]:
    """One ``lm_steering.py`` run in a fresh process: (wall seconds, CPU seconds, stdout, peak RSS in MiB)."""
    script = [str(repo / "lm_steering.py"), *GRID, "--results_dir", str(results), "--data_dir", str(data), *extra]
    prefix = ["-m", "cProfile", "-o", str(profile)] if profile else ["-c", WRAPPER]
    start = time.perf_counter()
    done = subprocess.run([sys.executable, *prefix, *script], capture_output=True, text=True, check=False, cwd=repo)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"run failed ({done.returncode}): {done.stderr[-2000:]}")
    cpu, rss = usage(done.stderr) if "MAXRSS " in done.stderr else (math.nan, math.nan)
    return wall, cpu, done.stdout, rss


def counts(stdout: str) -> tuple[int, int]:
    """(sent, cached) from the summary line."""
    m = re.search(r"requests: (\d+) sent, (\d+) cached", stdout)
    return (int(m.group(1)), int(m.group(2))) if m else (0, 0)


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for _, p in scan(root)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data_dir", type=Path, default=REPO)
    p.add_argument("--latency_ms", type=int, default=200, help="latency of the replay's fake backend")
    p.add_argument("--profile", action="store_true", help="profile the replay and print its top functions")
    p.add_argument("--repo", type=Path, default=REPO, help="checkout whose lm_steering.py is run (before/after)")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        results = Path(tmp) / "results"
        t_gen, c_gen, out_gen, rss_gen = run(args.repo, results, args.data_dir)
        reference = snapshot(results)
        for path in reference:
            (results / path).unlink()
        prof = Path(tmp) / "replay.prof" if args.profile else None
        slow = ("--backend_arg", f"latency_ms={args.latency_ms}")
        t_rep, c_rep, out_rep, rss_rep = run(args.repo, results, args.data_dir, *slow, profile=prof)
        same = snapshot(results) == reference
        t_done, c_done, out_done, rss_done = run(args.repo, results, args.data_dir, *slow)
        n = sum(counts(out_gen))
        print(f"full paper grid, one model (fake/oracle): {n:,} requests, {len(reference)} result files")
        print(f"{'run':<34} {'wall s':>7} {'CPU s':>7} {'req/s':>8} {'sent':>6} {'cached':>7} {'peak RSS MiB':>13}")
        for name, wall, cpu, out, rss in (
            ("generate (latency 0)", t_gen, c_gen, out_gen, rss_gen),
            (f"replay from cache (latency {args.latency_ms} ms)", t_rep, c_rep, out_rep, rss_rep),
            ("rerun when all done", t_done, c_done, out_done, rss_done),
        ):
            sent, cached = counts(out)
            print(f"{name:<34} {wall:7.2f} {cpu:7.2f} {n / wall:8.0f} {sent:>6} {cached:>7} {rss:13.0f}")
        print(f"replay rewrote byte-identical result files: {same}; replay / generate wall time: {t_rep / t_gen:.2f}")
        if prof is not None:
            pstats.Stats(str(prof)).sort_stats("cumulative").print_stats(r"distalign", 30)


if __name__ == "__main__":
    main()
