"""Whether the main job's derived stages (calibrate, evaluate, figures, report) are up to date: a stamp.

``job.sh`` derives everything after generation from three things: the files in the results folder that generation
and the data release wrote, the fetched data, and the code. The stamp records a digest of each (file paths,
sizes and modification times; the code's bytes) together with the job's settings, and a digest of what the
derived stages wrote. When a later run finds the same inputs, settings and outputs, the derived stages are
skipped; any change — a new record, a deleted figure, an edited module, another ``MODE`` — runs them again.

    python -m distalign.stages fresh  --results_dir results --settings "fixed 0 1000"   # exit 0: up to date
    python -m distalign.stages record --results_dir results --settings "fixed 0 1000"   # after the last stage

What counts as derived (and so is not an input): the evaluation's CSVs and ``leaderboard.md`` at the top of the
results folder, ``figures/``, ``report/``, and the ``rescaled_*`` folders of temperature scaling. Hidden names
(the response cache, locks, temporary files, the stamp itself) are bookkeeping and count for neither.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

from distalign.files import write_text

STAMP = ".job-stamp.json"
DERIVED_DIRS = ("figures", "report")
DERIVED_TOP = (".csv", ".md")  # files at the top of the results folder with these endings are the evaluation's
CODE_DIRS = ("distalign", "inputs")
CODE_FILES = ("lm_steering.py", "temperature_scaling.py", "lm_steering_eval.py", "job.sh")
DATA_DIRS = ("opinions_qa", "nytimes", "Global_Values")


def _walk(root: Path) -> Iterator[Path]:
    """Every regular file under ``root`` (not following links into folders), hidden names skipped, in sorted order."""
    if not root.is_dir():
        return
    for entry in sorted(os.scandir(root), key=lambda e: e.name):
        if entry.name.startswith("."):
            continue
        if entry.is_dir(follow_symlinks=False):
            yield from _walk(Path(entry.path))
        elif entry.is_file():
            yield Path(entry.path)


def _is_derived(rel: Path) -> bool:
    """Whether a path relative to the results folder is written by a derived stage.

    >>> [_is_derived(Path(p)) for p in ("leaderboard.md", "figures/a.png", "opinionqa/rescaled_model_logprobs/x.json",
    ...                                 "opinionqa/model_logprobs/m/task1/g/d.json", "README.md")]
    [True, True, True, False, True]
    """
    if len(rel.parts) == 1:
        return rel.suffix in DERIVED_TOP
    return rel.parts[0] in DERIVED_DIRS or any(part.startswith("rescaled_") for part in rel.parts[:-1])


def _listing(paths: Iterator[Path], base: Path) -> str:
    """One line per file: relative path, size and modification time (nanoseconds)."""
    lines = []
    for path in paths:
        st = path.stat()
        lines.append(f"{path.relative_to(base).as_posix()}\t{st.st_size}\t{st.st_mtime_ns}")
    return "\n".join(lines)


def _sha(text: str | bytes) -> str:
    data = text.encode("utf-8") if isinstance(text, str) else text
    return hashlib.sha256(data).hexdigest()[:32]


def code_digest(repo: Path) -> str:
    """The bytes of the package, the prompt templates and the top-level scripts."""
    h = hashlib.sha256()
    files = [p for d in CODE_DIRS for p in _walk(repo / d) if p.suffix != ".pyc"]
    for path in [*files, *(repo / f for f in CODE_FILES if (repo / f).is_file())]:
        h.update(path.relative_to(repo).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:32]


def stamp(results_dir: Path, data_dir: Path, repo: Path, settings: str) -> dict[str, str]:
    """The digests that decide whether the derived stages are up to date."""
    files = list(_walk(results_dir))
    inputs = (p for p in files if not _is_derived(p.relative_to(results_dir)))
    outputs = (p for p in files if _is_derived(p.relative_to(results_dir)))
    data = (p for d in DATA_DIRS for p in _walk(data_dir / d))
    return {
        "settings": settings,
        "inputs": _sha(_listing(inputs, results_dir)),
        "data": _sha(_listing(data, data_dir)),
        "code": code_digest(repo),
        "outputs": _sha(_listing(outputs, results_dir)),
    }


def fresh(results_dir: Path, data_dir: Path, repo: Path, settings: str) -> bool:
    """Whether the stamp of the last complete run matches what is on disk now."""
    try:
        stored = json.loads((results_dir / STAMP).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return bool(stored == stamp(results_dir, data_dir, repo, settings))


def record(results_dir: Path, data_dir: Path, repo: Path, settings: str) -> None:
    """Write the stamp (after the last derived stage succeeded)."""
    now = stamp(results_dir, data_dir, repo, settings)
    write_text(results_dir / STAMP, json.dumps(now, indent=1, sort_keys=True) + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    """``fresh`` exits 0 when the derived stages are up to date, 1 otherwise; ``record`` writes the stamp."""
    p = argparse.ArgumentParser(prog="python -m distalign.stages", description=__doc__.splitlines()[0])
    p.add_argument("action", choices=("fresh", "record"))
    p.add_argument("--results_dir", type=Path, default=Path("results"))
    p.add_argument("--data_dir", type=Path, default=Path("."))
    p.add_argument("--settings", default="", help="the job's settings that change derived outputs (one string)")
    args = p.parse_args(argv)
    repo = Path(__file__).resolve().parents[1]
    if args.action == "fresh":
        return 0 if fresh(args.results_dir, args.data_dir, repo, args.settings) else 1
    record(args.results_dir, args.data_dir, repo, args.settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
