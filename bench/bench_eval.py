"""Benchmark of the evaluation stage (not a test): full-run wall time and the bootstrap speed-up.

Prints, in one run: the wall time of the whole evaluation of the released generations (result JSON files ->
every CSV and leaderboard.md, as ``lm_steering_eval.py`` does it) in each mode, and the time of the
bootstrap/leaderboard step with the vectorized bootstrap against a plain per-resample Python loop over the same
pools and the same draws (the bootstrap alone, and the whole leaderboard step with its tables).
Targets: full evaluation <= 10 s on the 2-core machine, >= 10x on the bootstrap step.

    python bench/bench_eval.py [--data_dir .] [--n_bootstrap 1000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from distalign.bootstrap import bootstrap_loop_many, bootstrap_many
from distalign.evaluation import evaluate
from distalign.evaluation.leaderboards import Scorer, build, everything, headline, write


def timed(fn, *args, **kwargs):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data_dir", default=".", type=Path)
    p.add_argument("--results_dir", default=None, type=Path)
    p.add_argument("--n_bootstrap", default=1000, type=int)
    args = p.parse_args()
    results = args.results_dir or args.data_dir / "results"
    with tempfile.TemporaryDirectory() as out_dir:
        for mode in ("paper", "fixed"):
            start = time.perf_counter()
            ev, t_eval = timed(evaluate, results, args.data_dir, mode)
            out, t_board = timed(build, ev, args.n_bootstrap, bootstrap_many)
            write(out, out_dir)
            total = time.perf_counter() - start
            n_files = len({(r.dataset, r.output_type, r.model, r.task, r.group, r.demographic) for r in ev.rows})
            print(
                f"{mode:5s} full evaluation: {total:5.2f} s  (TV rows {t_eval:.2f} s, bootstrap/leaderboards "
                f"{t_board:.2f} s, {len(ev.rows)} eval rows, {n_files} row keys)"
            )
        sc = Scorer(ev)
        jobs = [ln.job for ln in [*headline(sc), *everything(sc)] if ln.job]
        fast, t_vec = timed(bootstrap_many, jobs, args.n_bootstrap, 0)
        slow, t_loop = timed(bootstrap_loop_many, jobs, args.n_bootstrap, 0)
        _, t_build_vec = timed(build, ev, args.n_bootstrap, bootstrap_many)
        _, t_build_loop = timed(build, ev, args.n_bootstrap, bootstrap_loop_many)
    same = "identical" if fast == slow else "DIFFERENT"
    print(
        f"bootstrap of the {len(jobs)} leaderboard lines x {args.n_bootstrap} resamples (fixed mode): vectorized "
        f"{t_vec:.2f} s, per-resample loop {t_loop:.2f} s, speed-up {t_loop / t_vec:.1f}x ({same} results)"
    )
    print(
        f"whole leaderboard step (bootstrap + tables + leaderboard.md): {t_build_vec:.2f} s vs {t_build_loop:.2f} s "
        f"with the loop, speed-up {t_build_loop / t_build_vec:.1f}x"
    )


if __name__ == "__main__":
    main()
