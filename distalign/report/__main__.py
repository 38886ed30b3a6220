"""The report's CLI: ``python -m distalign.report --results_dir results`` writes ``results/report/index.html``.

Reads the evaluation's CSVs (``--eval_dir``, default: ``--results_dir``, where ``lm_steering_eval.py`` writes them in
``job.sh``), the result files and request logs under ``--results_dir``, the figures in ``--figures_dir`` (default
``<results_dir>/figures``) and the data under ``--data_dir`` (question texts and human distributions); writes the
pages to ``--output_dir`` (default ``<results_dir>/report``) and prints the path of ``index.html``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from distalign.cli import add_output_dir
from distalign.files import DataError
from distalign.report import Paths, build_report
from distalign.report.render import PageTooLarge


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(prog="python -m distalign.report", description=__doc__.split("\n")[0])
    p.add_argument("--results_dir", default="results", help="result files, logs/ (default: results)")
    p.add_argument("--eval_dir", help="the evaluation's CSVs and leaderboard.md (default: --results_dir)")
    p.add_argument("--figures_dir", help="PNGs of python -m distalign.figures (default: <results_dir>/figures)")
    p.add_argument("--data_dir", default=".", help="data root: opinions_qa/, nytimes/, Global_Values/ (default: .)")
    add_output_dir(p, None, "where the pages go (default: <results_dir>/report)")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Build the report; returns the exit status (2: missing or unreadable inputs, an unwritable folder)."""
    args = parse_args(argv)
    results = Path(args.results_dir)
    paths = Paths(
        results,
        Path(args.eval_dir) if args.eval_dir else results,
        Path(args.figures_dir) if args.figures_dir else results / "figures",
        Path(args.data_dir),
        Path(args.output_dir) if args.output_dir else results / "report",
    )
    try:
        index = build_report(paths, log=lambda line: print(line, file=sys.stderr))
    except (DataError, PageTooLarge) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"error: cannot write {e.filename or paths.output_dir}: {e.strerror or e}", file=sys.stderr)
        return 2
    print(index.resolve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
