"""Benchmark of the evaluation stage (not a test): the whole ``lm_steering_eval.py`` process, before vs after.

One run evaluates the released generations in paper and fixed mode with the code BEFORE (a detached ``git
worktree`` of ``--before``, run with this interpreter and ``PYTHONPATH`` pointing at it) and AFTER (this
checkout), each as a fresh process (python start to exit, no cache of any kind: "cold"; the operating
system's file cache is warm for both), ``--repeats`` times interleaved, and prints the median wall and CPU
seconds with the ratios, then checks that before and after wrote byte-identical files. Target: >= 3x.
``--bootstrap`` also times the bootstrap/leaderboard step against a per-resample Python loop (in process).

    python bench/bench_eval.py [--before 5666d5e] [--repeats 5] [--data_dir .] [--bootstrap]
"""

from __future__ import annotations

import argparse
import filecmp
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MODES = ("paper", "fixed")


def before_tree(commit: str) -> Path:
    """A detached ``git worktree`` of ``commit`` (created once, reused)."""
    sha = subprocess.run(["git", "rev-parse", "--short", commit], cwd=REPO, capture_output=True, text=True, check=True)
    tree = Path(os.environ.get("TMPDIR", "/tmp")) / f"distalign-before-{sha.stdout.strip()}"
    if not (tree / "distalign").is_dir():
        subprocess.run(["git", "worktree", "add", "--detach", str(tree), commit], cwd=REPO, check=True)
    return tree


def run_eval(tree: Path, mode: str, data: Path, out: Path) -> tuple[float, float]:
    """Wall and CPU seconds of one whole ``lm_steering_eval.py`` process of checkout ``tree``."""
    cmd = [sys.executable, str(tree / "lm_steering_eval.py"), "--results_dir", str(data / "results")]
    cmd += ["--data_dir", str(data), "--output_dir", str(out), "--mode", mode, "--seed", "0", "--quiet"]
    env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONHASHSEED": "0"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(cmd, cwd=tree, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def identical(a: Path, b: Path) -> tuple[bool, int]:
    """Whether two output folders hold the same files with the same bytes, and how many files."""
    names = sorted(p.name for p in a.iterdir())
    if names != sorted(p.name for p in b.iterdir()):
        return False, len(names)
    _, diff, errors = filecmp.cmpfiles(a, b, names, shallow=False)
    return not diff and not errors, len(names)


def measure(trees: dict[str, Path], data: Path, repeats: int, work: Path) -> dict[tuple[str, str], list]:
    """{(target, mode): [(wall, cpu), ...]}, targets interleaved so that load on the machine hits both alike."""
    times: dict[tuple[str, str], list] = {}
    for i in range(repeats):
        for mode in MODES:
            for target, tree in trees.items():
                wall, cpu = run_eval(tree, mode, data, work / target / mode)
                times.setdefault((target, mode), []).append((wall, cpu))
                print(f"  run {i + 1}/{repeats} {mode:5s} {target:6s} {wall:5.2f} s", flush=True)
    return times


def table(times: dict[tuple[str, str], list], commit: str) -> str:
    """Markdown table of the medians and ratios."""
    lines = [
        f"| mode | before (`{commit}`) wall | after wall | speed-up | before CPU | after CPU | CPU ratio |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for mode in MODES:
        b_wall, b_cpu = (statistics.median(x) for x in zip(*times[("before", mode)], strict=True))
        a_wall, a_cpu = (statistics.median(x) for x in zip(*times[("after", mode)], strict=True))
        lines.append(
            f"| {mode} | {b_wall:.2f} s | {a_wall:.2f} s | **{b_wall / a_wall:.1f}×** | {b_cpu:.2f} s | "
            f"{a_cpu:.2f} s | {b_cpu / a_cpu:.1f}× |"
        )
    return "\n".join(lines)


def bootstrap_step(data: Path, n_bootstrap: int) -> None:
    """The bootstrap/leaderboard step, vectorized vs a per-resample loop over the same pools and draws."""
    sys.path.insert(0, str(REPO))
    from distalign.bootstrap import bootstrap_loop_many, bootstrap_many
    from distalign.evaluation import evaluate
    from distalign.evaluation.leaderboards import Scorer, build, everything, headline

    ev = evaluate(data / "results", data, "fixed")
    jobs = [ln.job for ln in [*headline(Scorer(ev)), *everything(Scorer(ev))] if ln.job]
    timed = {}
    for name, fn in (("vectorized", bootstrap_many), ("loop", bootstrap_loop_many)):
        start = time.perf_counter()
        result = fn(jobs, n_bootstrap, 0)
        timed[name] = (time.perf_counter() - start, result)
        start = time.perf_counter()
        build(ev, n_bootstrap, fn)
        timed[name + " build"] = (time.perf_counter() - start, None)
    same = "identical" if timed["vectorized"][1] == timed["loop"][1] else "DIFFERENT"
    print(
        f"bootstrap of {len(jobs)} leaderboard lines x {n_bootstrap} (fixed): "
        f"vectorized {timed['vectorized'][0]:.2f} s, "
        f"loop {timed['loop'][0]:.2f} s ({same}); whole leaderboard step {timed['vectorized build'][0]:.2f} s vs "
        f"{timed['loop build'][0]:.2f} s, speed-up {timed['loop build'][0] / timed['vectorized build'][0]:.1f}x"
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--before", default="5666d5e", help="the commit to compare with (run from a git worktree of it)")
    p.add_argument("--repeats", type=int, default=5, help="whole-process runs per mode and target (median)")
    p.add_argument("--data_dir", type=Path, default=REPO, help="data root holding the fetched release")
    p.add_argument("--bootstrap", action="store_true", help="also time the bootstrap step against a Python loop")
    p.add_argument("--n_bootstrap", type=int, default=1000)
    args = p.parse_args(argv)
    data = args.data_dir.resolve()
    trees = {"before": before_tree(args.before), "after": REPO}
    with tempfile.TemporaryDirectory() as tmp:
        times = measure(trees, data, args.repeats, Path(tmp))
        print(f"\nlm_steering_eval.py on the released generations, whole process, median of {args.repeats}:\n")
        print(table(times, args.before))
        ok = True
        for mode in MODES:
            same, n = identical(Path(tmp) / "before" / mode, Path(tmp) / "after" / mode)
            ok &= same
            print(f"{mode}: the {n} files written before and after are {'byte-identical' if same else 'DIFFERENT'}")
    if args.bootstrap:
        bootstrap_step(data, args.n_bootstrap)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
