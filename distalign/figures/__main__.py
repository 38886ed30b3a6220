"""CLI: ``python -m distalign.figures --results_dir results --output_dir results/figures [--only NAME ...]``.

Writes one PNG and one PDF per figure; figures whose inputs are missing are skipped with a note.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from distalign.cli import SEED, add_output_dir
from distalign.figures.build import FIGURES, build_all
from distalign.files import DataError


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    p = argparse.ArgumentParser(prog="python -m distalign.figures", description="Render the paper's figures.")
    p.add_argument("--results_dir", default="results", help="results root with the evaluation CSVs (default: results)")
    add_output_dir(p, "results/figures", "output folder (default: results/figures)", "--out")
    p.add_argument("--data_dir", default=".", help="data root holding nytimes/ (default: .)")
    p.add_argument("--eval_dir", help="folder of the evaluation CSVs (default: --results_dir)")
    p.add_argument("--seed", type=SEED, default=0, help="seed of the bootstrap error bars")
    p.add_argument("--only", nargs="+", choices=list(FIGURES), help="render only these figures")
    args = p.parse_args(argv)
    try:
        build_all(args.results_dir, args.output_dir, args.data_dir, args.seed, args.only, eval_dir=args.eval_dir)
    except DataError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
