"""``python -m distalign.data check``: validate the fetched data and summarise it as one JSON object.

Mirrors docs/original.md §2.

Every manifest file must be present under the data root and verify (release digest, or the digest
recorded by the fetch for files rewritten by :mod:`distalign.data.privacy`). Per dataset the report gives
the numbers of evaluation questions, few-shot pool questions, groups and demographics (from the loaders
in :mod:`distalign.datasets`), and how many released result files are present and verified. Released
generations missing after a ``fetch --no-results`` are reported but are not an error.
Tested in ``tests/test_data_fetch.py``.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from distalign.data.fetch import REPO_ROOT, load_state, local_status
from distalign.data.manifest import ManifestRow, is_generation
from distalign.datasets import load_dataset

RELEASED = ("opinionqa", "nytimes", "globalvalues")  # the datasets the authors' release holds
LISTED = 10  # at most this many missing/corrupt paths are named in the report


def check(rows: Iterable[ManifestRow], root: Path | str = REPO_ROOT) -> tuple[dict[str, Any], bool]:
    """The report for the data under ``root`` and whether everything needed is there and verified."""
    root, rows = Path(root), list(rows)
    state = load_state(root)
    statuses = {row.path: local_status(root, row, state) for row in rows}
    optional = state.get("no_results") is True
    missing = [r.dest for r in rows if statuses[r.path] == "missing" and not (optional and is_generation(r.path))]
    corrupt = [r.dest for r in rows if statuses[r.path] == "corrupt"]
    datasets = {name: dataset_report(name, root, rows, statuses) for name in RELEASED}
    errors = [f"{name}: {d['error']}" for name, d in datasets.items() if d.get("error")]
    ok = not missing and not corrupt and not errors
    report: dict[str, Any] = {
        "ok": ok,
        "data_dir": str(root),
        "files": {
            "expected": len(rows),
            "verified": sum(s == "ok" for s in statuses.values()),
            "missing": len(missing),
            "corrupt": len(corrupt),
            "missing_files": missing[:LISTED],
            "corrupt_files": corrupt[:LISTED],
        },
        "datasets": datasets,
    }
    if optional:
        report["note"] = "fetched with --no-results: released generations are optional"
    return report, ok


def dataset_report(name: str, root: Path, rows: list[ManifestRow], statuses: dict[str, str]) -> dict[str, Any]:
    """Counts of one dataset plus its released result files (verified / expected)."""
    prefix = f"results/{name}/"
    results = [r.path for r in rows if r.path.startswith(prefix)]
    report = dataset_counts(name, root)
    report["results"] = {"verified": sum(statuses[p] == "ok" for p in results), "expected": len(results)}
    return report


def dataset_counts(name: str, root: Path) -> dict[str, Any]:
    """Questions, pool size, groups and demographics of a dataset, via :func:`distalign.datasets.load_dataset`.

    If loading fails, the counts are ``None`` and the error is reported.
    """
    empty: dict[str, Any] = dict.fromkeys(("questions", "pool", "groups", "demographics", "evaluated"))
    try:
        ds = load_dataset(name, root)
        groups = ds.all_demographics()
        return {
            "questions": len(ds.question_ids()),
            "pool": ds.pool_size(),
            "groups": len(groups),
            "demographics": sum(len(keys) for keys in groups.values()),
            "evaluated": len(ds.demographics()),
        }
    except Exception as e:  # a loader failure is reported, not raised: check must always print its report
        return {**empty, "error": f"{type(e).__name__}: {e}"}
