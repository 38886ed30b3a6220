"""Stage 2 of the pipeline: temperature-scale ``model_logprobs`` into ``rescaled_model_logprobs`` (docs/original.md §6).

    python temperature_scaling.py --results_dir results --mode fixed   # cross-fitted, NaN-safe (default)
    python temperature_scaling.py --results_dir results --mode paper   # the original fit, artefacts included

Writes ``<output_dir>/<dataset>/<target>/<model>/<task>/...`` (the layout of ``model_logprobs``) with target
``rescaled_model_logprobs`` (paper mode; pools whose files exist, e.g. the released ones, are kept unless
``--overwrite``) or ``rescaled_model_logprobs_cv`` (fixed mode), and the fitted temperatures to
``<output_dir>/temperature_scaling_<mode>.csv`` (rows of pools that were kept are carried over). When nothing is
fitted (no ``model_logprobs`` results, a model folder that does not exist, no record with a finite vector) the
previous CSV is kept and the exit status is 1; bad arguments or unreadable files exit 2. The logic lives in
:mod:`distalign.calibration`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from distalign.calibration import ALL_FOLDS, MODES, Fit, NothingFitted, calibrate
from distalign.cli import POSITIVE, SEED, add_output_dir
from distalign.datasets import DATASETS
from distalign.files import DataError


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse the command line."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--results_dir", default="results", help="results root holding model_logprobs (default: results)")
    add_output_dir(p, None, "where rescaled_model_logprobs and the CSV go (default: --results_dir)", "--out_dir")
    p.add_argument("--data_dir", default=".", help="data root: opinions_qa/, nytimes/, Global_Values/ (default: .)")
    p.add_argument("--models", nargs="+", help="model folders (default: every model with model_logprobs results)")
    p.add_argument("--datasets", nargs="+", choices=list(DATASETS), help="default: every dataset")
    p.add_argument(
        "--mode",
        default="fixed",
        choices=MODES,
        help="fixed: cross-fitted NaN-safe log-space fit; paper: the original transductive fit",
    )
    p.add_argument("--folds", type=POSITIVE, default=5, help="cross-fitting folds of questions (fixed mode; 1: none)")
    p.add_argument("--seed", type=SEED, default=0, help="seed of the fold assignment")
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="paper mode: refit pools whose rescaled_model_logprobs files exist (e.g. the released ones)",
    )
    return p.parse_args(argv)


SUMMARY_HEADER = ("model", "dataset", "task", "T (all)", "folds T range", "held-out TV", "all-zero rows")
LEFT = 3  # the first three columns are names (left-aligned); the others are numbers (right-aligned)


def summary(fits: Sequence[Fit]) -> str:
    """One line per pool: pooled T, and the range of the fold temperatures when cross-fitted.

    Columns are as wide as their longest entry, two spaces apart, so long model names never run into the next
    column.
    """
    rows = [SUMMARY_HEADER, *(_summary_row(fit, fits) for fit in fits if fit.fold == ALL_FOLDS)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(SUMMARY_HEADER))]
    return "\n".join(
        "  ".join(
            cell.ljust(w) if i < LEFT else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in rows
    )


def _summary_row(fit: Fit, fits: Sequence[Fit]) -> tuple[str, ...]:
    """The summary cells of a pooled fit: names, pooled T, fold range, held-out TV, all-zero rows."""
    key = (fit.model, fit.dataset, fit.task)
    folds = [f.temperature for f in fits if (f.model, f.dataset, f.task) == key and f.fold != ALL_FOLDS]
    spread = f"{min(folds):.3f}-{max(folds):.3f}" if folds else ""
    held = "" if fit.heldout_tv != fit.heldout_tv else f"{fit.heldout_tv:.4f}"
    return (fit.model, fit.dataset, fit.task, f"{fit.temperature:.4f}", spread, held, str(fit.n_all_zero or ""))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code: 0 done, 1 nothing fitted (the CSV kept), 2 bad arguments or files."""
    args = parse_args(argv)
    try:
        fits = calibrate(
            args.results_dir,
            args.output_dir,
            args.data_dir,
            args.models,
            args.datasets,
            args.mode,
            args.folds,
            args.seed,
            args.overwrite,
        )
    except NothingFitted as e:
        print(f"error: nothing fitted: {e}; the previous temperature_scaling_{args.mode}.csv is kept", file=sys.stderr)
        return 1
    except (DataError, ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if not fits:
        print("every pool already has its rescaled files (kept; --overwrite refits them)", file=sys.stderr)
        return 0
    print(summary(fits))
    return 0


if __name__ == "__main__":
    sys.exit(main())
