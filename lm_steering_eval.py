"""Evaluate result files: per-question TV, simulated and human baselines, bootstrapped leaderboards.

Reads every result file under ``--results_dir`` (every model, method, task and group found there) and writes,
overwriting, into ``--output_dir``: ``eval_disagreement_bootstrapping.csv``, ``leaderboard_distrib_alignment.csv``,
``leaderboard_distrib_alignment_all.csv``, ``k2s_gap.csv``, ``eval_skips.csv``, ``pairwise_differences.csv`` and
``leaderboard.md`` (also printed); ``python -m distalign.report`` turns them into HTML pages. ``--mode paper``
reproduces the released numbers (docs/original.md §7, §10), ``--mode fixed`` (default) corrects the defects of
docs/original.md §11.1. ``--metric`` (fixed mode) scores every cell by another registered metric
(:data:`distalign.metrics.METRICS`: ``jsd``, ``wasserstein``, ...) instead of TV. Example::

    python lm_steering_eval.py --results_dir results --data_dir . --output_dir results --mode paper --seed 0
"""

from __future__ import annotations

import argparse
import sys
import time

from distalign.bootstrap import N_RESAMPLES
from distalign.cli import POSITIVE, SEED
from distalign.evaluation import MODES, evaluate, gc_paused
from distalign.evaluation.leaderboards import build, write
from distalign.files import DataError
from distalign.metrics import DEFAULT_METRIC, METRICS


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    p.add_argument("--results_dir", default="results", help="folder of result files (docs/original.md §5 layout)")
    p.add_argument(
        "--data_dir", default=".", help="data root: opinions_qa/, nytimes/, Global_Values/, results/human_annotations/"
    )
    p.add_argument("--output_dir", default="results", help="where the CSVs and leaderboard.md are written")
    p.add_argument(
        "--mode", choices=sorted(MODES), default="fixed", help="paper: the original semantics; fixed: corrected"
    )
    p.add_argument(
        "--metric",
        choices=list(METRICS),
        default=DEFAULT_METRIC,
        help="per-cell score (fixed mode; paper mode is always tv): "
        + "; ".join(f"{m.name} = {m.description}" for m in METRICS.values()),
    )
    p.add_argument("--seed", type=SEED, default=0, help="seed of every random draw (bootstrap, simulations)")
    p.add_argument("--n_bootstrap", type=POSITIVE, default=N_RESAMPLES, help="bootstrap resamples per score")
    p.add_argument("--no_human", action="store_true", help="skip the human baseline")
    p.add_argument(
        "--strict", action="store_true", help="stop at an unreadable result file instead of counting it as a skip"
    )
    p.add_argument("--quiet", action="store_true", help="do not print leaderboard.md at the end")
    args = p.parse_args(argv)
    if args.mode == "paper" and args.metric != DEFAULT_METRIC:
        p.error(
            f"--mode paper scores by {DEFAULT_METRIC} only (the original's metric); use --mode fixed for "
            f"--metric {args.metric}"
        )
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the evaluation; returns the exit status."""
    args = parse_args(argv)
    started = time.perf_counter()
    try:
        ev = evaluate(
            args.results_dir,
            args.data_dir,
            args.mode,
            args.seed,
            human=not args.no_human,
            strict=args.strict,
            metric=args.metric,
        )
    except DataError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if not any(r.model not in ("simulated", "human") for r in ev.rows):
        print(f"error: no result files found under {args.results_dir}", file=sys.stderr)
        return 2
    with gc_paused():
        out = build(ev, args.n_bootstrap)
    try:
        paths = write(out, args.output_dir)
    except OSError as e:  # files are written atomically: none is left half-written
        print(f"error: cannot write {e.filename or args.output_dir}: {e.strerror or e}", file=sys.stderr)
        return 2
    for (kind, reason), n in ev.tally.summary().items():
        if kind == "skip":
            print(f"skipped {n:,}: {reason}", file=sys.stderr)
    print(f"wrote {', '.join(str(p) for p in paths)} in {time.perf_counter() - started:.1f}s", file=sys.stderr)
    if not args.quiet:
        print(out.markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
