"""Benchmark of the HTML report (not a test): build time and size for the full paper grid.

Evaluates the released generations (the paper's five models, every method and dataset) in each mode, draws the
figures (neither is timed), then times ``python -m distalign.report``'s work, :func:`distalign.report.build_report`,
and prints its wall and CPU time (forked workers included), the machine's load, peak memory, the number of pages,
the total size and the largest page, each against its target: build <= 20 s on the 2-core machine, every page
<= 5 MB, the whole report <= 60 MB.

    python bench/bench_report.py [--data_dir .] [--modes fixed paper] [--keep /tmp/report] [--work /tmp/bench]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path

from distalign.evaluation import evaluate
from distalign.evaluation.leaderboards import build, write
from distalign.figures.build import build_all
from distalign.report import Paths, build_report

TARGET_S, PAGE_MB, TOTAL_MB = 20.0, 5.0, 60.0


def prepare(results: Path, data: Path, out: Path, mode: str) -> None:
    """The evaluation's CSVs and the figures of ``mode`` in ``out`` (untimed)."""
    start = time.perf_counter()
    write(build(evaluate(results, data, mode, seed=0), 1000), out)
    build_all(results, out / "figures", data, log=lambda _: None, eval_dir=out)
    print(f"[{mode}] evaluation and figures (not timed): {time.perf_counter() - start:.1f} s")


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (the report builds explorer pages in forked workers)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def measure(paths: Paths) -> dict[str, float | str]:
    """Build the report once; wall and CPU seconds, pages and sizes."""
    wall, cpu = time.perf_counter(), cpu_seconds()
    build_report(paths, log=lambda _: None)
    wall, cpu = time.perf_counter() - wall, cpu_seconds() - cpu
    pages = sorted(paths.output_dir.glob("*.html"), key=lambda p: p.stat().st_size)
    return {
        "wall": wall,
        "cpu": cpu,
        "pages": len(pages),
        "total_mb": sum(p.stat().st_size for p in pages) / 1e6,
        "largest_mb": pages[-1].stat().st_size / 1e6,
        "largest": pages[-1].name,
        "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def report_line(mode: str, m: dict[str, float | str]) -> str:
    wall, total, largest = float(m["wall"]), float(m["total_mb"]), float(m["largest_mb"])
    return (
        f"| {mode} | {wall:.1f} | {float(m['cpu']):.1f} | {TARGET_S / wall:.1f}× under | {m['pages']} | "
        f"{total:.1f} ({TOTAL_MB / total:.1f}× under) | {largest:.2f} `{m['largest']}` "
        f"({PAGE_MB / largest:.1f}× under) | {float(m['peak_mib']):.0f} |"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data_dir", default=".", type=Path)
    p.add_argument("--results_dir", default=None, type=Path, help="default: <data_dir>/results")
    p.add_argument("--modes", nargs="+", default=["fixed", "paper"], choices=["fixed", "paper"])
    p.add_argument("--keep", type=Path, help="copy the report of the first mode here (e.g. for screenshots)")
    p.add_argument("--work", type=Path, help="keep each mode's evaluation here and reuse it on the next run")
    args = p.parse_args()
    results = args.results_dir or args.data_dir / "results"
    lines = []
    with tempfile.TemporaryDirectory() as tmp:
        for mode in args.modes:
            out = (args.work or Path(tmp)) / mode
            if not (out / "leaderboard.md").exists():
                prepare(results, args.data_dir, out, mode)
            paths = Paths(results, out, out / "figures", args.data_dir, out / "report")
            lines.append(report_line(mode, measure(paths)))
            if args.keep and mode == args.modes[0]:
                shutil.rmtree(args.keep, ignore_errors=True)
                shutil.copytree(out / "report", args.keep)
    print(f"targets: build <= {TARGET_S:.0f} s, every page <= {PAGE_MB:.0f} MB, the report <= {TOTAL_MB:.0f} MB")
    print(f"{os.cpu_count()} cores; load average over the last minute at the end: {os.getloadavg()[0]:.1f}")
    print("| mode | build wall s | CPU s | vs 20 s | pages | total MB | largest page MB | peak RSS MiB |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
