"""Mutation testing of the core modules with mutmut 3.8.1: do the tests catch plausible one-line bugs?

    python bench/mutation.py                        # every core module (about 15 minutes on 2 cores)
    python bench/mutation.py --only metrics parsers # some of them
    python bench/mutation.py --survivors            # also list the mutants no test killed

mutmut plants one small change at a time (an operator, a constant, a comparison, a removed call) and runs the
tests that cover the changed function; a mutant is *killed* when a test fails. Each core module runs in its own
scratch copy of the package and tests, under ``${DISTALIGN_CACHE_DIR:-~/.cache/distalign}/mutation/<module>``
(mutmut writes its mutants beside the code: nothing is written in the repository), against the few test files
that cover it plus the module's doctests, two mutants at a time. mutmut is installed into ``.venv`` when missing.
Kill rate = (killed + timed out) / all mutants; a mutant no test runs counts as a survivor. Results of the last
run are in bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from fnmatch import fnmatch
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MUTMUT = "mutmut==3.8.1"
# module -> (file to mutate, test files that cover it); the module's own doctests run too
LB_TESTS = (
    "tests/test_leaderboards.py",
    "tests/test_bite_tables.py",
    "tests/test_bite_eval.py",
    "tests/test_bite_leaderboards.py",
)
CORE: dict[str, tuple[str, tuple[str, ...]]] = {
    "metrics": ("distalign/metrics.py", ("tests/test_metrics.py", "tests/test_bite_metrics.py")),
    "bootstrap": (
        "distalign/bootstrap.py",
        ("tests/test_bootstrap.py", "tests/test_bite_metrics.py", "tests/test_bite_bootstrap.py"),
    ),
    "parsers": (
        "distalign/parsers.py",
        ("tests/test_fuzz_parsers.py", "tests/test_bite_parsers.py", "tests/test_bite_replies.py"),
    ),
    "cache key": ("distalign/engine/cache.py", ("tests/test_cache.py", "tests/test_bite_parsers.py")),  # key only
    "calibration fit": (
        "distalign/calibration/fit.py",
        ("tests/test_calibration.py", "tests/test_bite_eval.py", "tests/test_bite_calibration.py"),
    ),
    "leaderboards": ("distalign/evaluation/leaderboards.py", LB_TESTS),
    "evaluation checks": (
        "distalign/evaluation/fixed.py",
        (
            "tests/test_evaluate.py",
            "tests/test_bite_fixed.py",
            "tests/test_bite_eval.py",
            "tests/test_bite_fixed_counts.py",
        ),
    ),
}
# mutants of these functions only (default: every function of the file); the SQLite plumbing of the cache file is
# not the cache key (its SQL keywords, for one, are case-insensitive: those mutants could not fail any test)
SCOPE = {"cache key": ("distalign.engine.cache.x_request_*", "distalign.engine.cache.x_completion_*")}
SCRIPTS = ("lm_steering.py", "lm_steering_eval.py", "temperature_scaling.py")  # imported by some tests
SCRATCH = Path(os.environ.get("DISTALIGN_CACHE_DIR", Path.home() / ".cache/distalign")) / "mutation"
STATUS = re.compile(r"^\s*(\S+__mutmut_\d+): (.+)$")


def ensure_mutmut() -> Path:
    """The mutmut executable of this interpreter's environment (installed from PyPI when missing)."""
    exe = Path(sys.executable).with_name("mutmut")
    if not exe.exists():
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", MUTMUT], check=True)
    return exe


def prepare(name: str, target: str, tests: tuple[str, ...]) -> Path:
    """A fresh scratch copy of the package and tests with mutmut's configuration for one module."""
    work = SCRATCH / re.sub(r"\W+", "_", name)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    for part in ("distalign", "tests", "inputs"):
        shutil.copytree(REPO / part, work / part, ignore=shutil.ignore_patterns("__pycache__", "authors"))
    for name in ("pyproject.toml", *SCRIPTS):
        shutil.copy(REPO / name, work / name)
    selection, copied = "\n    ".join([*tests, target]), "\n    ".join([*SCRIPTS, "inputs"])
    (work / "setup.cfg").write_text(
        "[mutmut]\nsource_paths=distalign\n"
        f"only_mutate={target}\n"
        f"pytest_add_cli_args_test_selection=\n    {selection}\n"
        f"also_copy=\n    {copied}\n"
        "pytest_add_cli_args=-p no:cacheprovider -q -x --no-header\n",
        encoding="utf-8",
    )
    return work


def mutate(exe: Path, work: Path, children: int, scope: tuple[str, ...] = ()) -> Counter[str]:
    """Run mutmut in ``work`` (``scope``: mutant name patterns); the count of mutants per status."""
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    subprocess.run(
        [str(exe), "run", "--max-children", str(children), *scope],
        cwd=work,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,
    )
    return Counter(status for _, status in results(exe, work, scope))


def results(exe: Path, work: Path, scope: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    """(mutant, status) of every mutant of the last run in ``work`` (those matching ``scope``, when given)."""
    out = subprocess.run([str(exe), "results", "--all", "true"], cwd=work, capture_output=True, text=True).stdout
    found = [(m.group(1), m.group(2).strip()) for line in out.splitlines() if (m := STATUS.match(line))]
    return [(name, status) for name, status in found if not scope or any(fnmatch(name, p) for p in scope)]


def kill_rate(counts: Counter[str]) -> float:
    """(killed + timeout) / all mutants.

    >>> kill_rate(Counter(killed=9, survived=1)), kill_rate(Counter(killed=8, timeout=1, **{"no tests": 1}))
    (0.9, 0.9)
    """
    total = sum(counts.values())
    return (counts["killed"] + counts["timeout"]) / total if total else float("nan")


def main(argv: list[str] | None = None) -> int:
    """Run the chosen modules and print one line per module and the total."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--only", nargs="+", choices=[n.split()[0] for n in CORE], help="modules (first word)")
    p.add_argument("--children", type=int, default=2, help="mutants run at once")
    p.add_argument("--survivors", action="store_true", help="list the surviving mutants")
    args = p.parse_args(argv)
    exe, total = ensure_mutmut(), Counter[str]()
    for name, (target, tests) in CORE.items():
        if args.only and name.split()[0] not in args.only:
            continue
        start = time.perf_counter()
        work = prepare(name, target, tests)
        scope = SCOPE.get(name, ())
        counts = mutate(exe, work, args.children, scope)
        total += counts
        line = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
        print(f"{name:<18} {target:<38} {kill_rate(counts):6.1%} ({line}) {time.perf_counter() - start:5.0f}s")
        if args.survivors:
            for mutant, status in results(exe, work, scope):
                if status not in ("killed", "timeout"):
                    print(f"    {status}: {mutant}  (mutmut show {mutant}, in {work})")
    print(f"{'total':<57} {kill_rate(total):6.1%} ({sum(total.values())} mutants)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
