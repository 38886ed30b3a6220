"""Which differences are real: paired bootstrap intervals of the difference in mean score between two models.

For every headline method and every pair of models scored with it, the per-cell differences
``score_A − score_B`` over the cells *both* models scored (same dataset, steering task, group, demographic and
question; the headline's persona + few-shot tasks) are pooled per dataset, the datasets weighted as in the
headline (every registered dataset equally, docs/original.md §7.5), and resampled with the leaderboard's seeded,
vectorised bootstrap (:func:`distalign.bootstrap.bootstrap_stats`). Resampling the differences resamples the
same cells for both models: a paired bootstrap, much tighter than comparing two independent intervals, because
the questions that are hard for one model are mostly hard for the other.

A difference is *significant* when the 2.5–97.5 percentile interval of the bootstrapped difference excludes 0.
Each cell counts once (paper mode's duplicated NYT rows included). ``Difference`` is the plain weighted mean of
the paired differences; over the common cells it equals the difference of the two models' means.

    >>> import numpy as np
    >>> from distalign.types import TVRow
    >>> rows = [TVRow("task1", m, "d", "w", "G", "g", "sequence", tuple(np.arange(50) / 100 + shift),
    ...         tuple(f"q{i}" for i in range(50))) for m, shift in (("a", 0.1), ("b", 0.0))]
    >>> line = pair_line(rows, "a", "b", "sequence", {"d": 1.0}, 200, 0)
    >>> round(line["Difference"], 6), line["significant"], line["N"]
    (0.1, True, 50)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from distalign.bootstrap import Job, bootstrap_stats
from distalign.evaluation import Evaluation
from distalign.evaluation.pooling import ordered_methods, ordered_models, weights
from distalign.names import ALL_DATASETS, HEADLINE_TASKS, dataset_label, method_label
from distalign.types import TVRow

COLUMNS = [
    "Model A",
    "Model B",
    "Dataset",
    "Task Type",
    "method",
    "output_type",
    "Difference",
    "CI Low",
    "CI High",
    "N",
    "significant",
    "note",
]
POOLED = "task1_task3"
Cell = tuple[str, str, str, str]  # (task, group, demographic, question)


def cell_scores(rows: Sequence[TVRow], model: str, output_type: str) -> dict[str, dict[Cell, float]]:
    """Per dataset, the score of each cell of one (model, method) over the headline tasks (each cell once)."""
    out: dict[str, dict[Cell, float]] = {}
    for r in rows:
        if (r.model, r.output_type) == (model, output_type) and r.task in HEADLINE_TASKS and len(r.qids) == len(r.tvs):
            cells = out.setdefault(r.dataset, {})  # (a row without question keys cannot be paired: left out)
            for qid, tv in zip(r.qids, r.tvs, strict=True):
                cells.setdefault((r.task, r.group, r.demographic, qid), tv)
    return out


def paired_job(
    a: dict[str, dict[Cell, float]], b: dict[str, dict[Cell, float]], dataset_weights: dict[str, float]
) -> tuple[Job | None, str]:
    """Pools of paired differences a − b per dataset (cells in a's order) with renormalised weights, and a note."""
    pools = {}
    for dataset in dataset_weights:
        common = [c for c in a.get(dataset, {}) if c in b.get(dataset, {})]
        if common:
            pools[dataset] = np.array([a[dataset][c] - b[dataset][c] for c in common])
    if not pools:
        return None, "no cells in common"
    total = sum(dataset_weights[d] for d in pools)
    scaled = {d: dataset_weights[d] / total for d in pools}
    note = "" if len(pools) == len(dataset_weights) else "only " + ", ".join(dataset_label(d) for d in pools)
    return (pools, scaled), note


def pair_line(
    rows: Sequence[TVRow],
    model_a: str,
    model_b: str,
    output_type: str,
    dataset_weights: dict[str, float],
    n_boot: int,
    seed: int,
) -> dict[str, object] | None:
    """The CSV record of one pair (``None`` when the two models share no cell)."""
    job, note = paired_job(
        cell_scores(rows, model_a, output_type), cell_scores(rows, model_b, output_type), dataset_weights
    )
    if job is None:
        return None
    return _record(model_a, model_b, output_type, job, bootstrap_stats([job], n_boot, seed)[0], note)


def _record(a: str, b: str, output_type: str, job: Job, stats: np.ndarray, note: str) -> dict[str, object]:
    pools, w = job
    lo, hi = (float(x) for x in np.percentile(stats, [2.5, 97.5]))
    return {
        "Model A": a,
        "Model B": b,
        "Dataset": ALL_DATASETS,
        "Task Type": POOLED,
        "method": method_label(output_type),
        "output_type": output_type,
        "Difference": float(sum(w[d] * float(np.mean(x)) for d, x in pools.items())),
        "CI Low": lo,
        "CI High": hi,
        "N": int(sum(len(x) for x in pools.values())),
        "significant": bool(lo > 0 or hi < 0),
        "note": note,
    }


def pairwise(ev: Evaluation, n_boot: int) -> pd.DataFrame:
    """``pairwise_differences.csv``: every pair of models (leaderboard order, A before B) per headline method.

    The bootstraps of all pairs run in one batch, so pairs whose pools have equal sizes share their draws.
    """
    rows = [r for r in ev.rows if r.model not in ("simulated", "human")]
    models, w = ordered_models(rows, ev.na), weights(ALL_DATASETS)
    jobs, heads = [], []
    for output_type in ordered_methods(rows, ev.na):
        scores = {m: cell_scores(rows, m, output_type) for m in models}
        for i, a in enumerate(models):
            for b in models[i + 1 :]:
                job, note = paired_job(scores[a], scores[b], w)
                if job is not None:
                    jobs.append(job)
                    heads.append((a, b, output_type, note))
    stats = bootstrap_stats(jobs, n_boot, ev.seed) if jobs else np.zeros((0, n_boot))
    records = [_record(a, b, o, job, s, note) for (a, b, o, note), job, s in zip(heads, jobs, stats, strict=True)]
    return pd.DataFrame(records, columns=COLUMNS)
