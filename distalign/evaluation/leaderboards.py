"""Leaderboards: evaluation rows -> the eval CSV, three leaderboard CSVs and ``leaderboard.md``.

Mirrors docs/original.md §7.3–§7.5. The pooling of rows into leaderboard lines is :mod:`distalign.evaluation.pooling`.

Outputs (all overwritten atomically, never appended; the original columns first and in the original order,
extra columns after them; lists as JSON):

* ``eval_disagreement_bootstrapping.csv``: one row per (task, model, dataset, wave, demographic, method);
* ``eval_positions.csv``: the same rows, in the same order, with ``positions``: where the record behind each
  value of ``all_tvs`` stands in its result file (0-based), so a per-question view (:mod:`distalign.report`)
  reads each question's score instead of recomputing it;
* ``leaderboard_distrib_alignment.csv``: the headline, every model × method found, persona + few-shot
  pooled, every dataset weighted equally (the paper's three: ⅓ each); then the simulated references;
* ``leaderboard_distrib_alignment_all.csv``: per dataset × task, simulated per dataset, OQA+NYT ("both",
  ½ each) per model × method, and the human rows;
* ``k2s_gap.csv``: knowledge-to-simulation gap Seq/V − 1 per model (and Seq-S/V-S where structured results exist);
* ``eval_skips.csv``: every counted skip and failed check;
* ``pairwise_differences.csv``: per headline method and pair of models, the difference in mean score with its
  paired bootstrap interval and whether that excludes 0 (:mod:`distalign.evaluation.pairwise`);
* ``leaderboard.md``: the headline table (models × methods, mean ± error, K2S), coverage (N, parse-failure
  rate), simulated and human references, and the run's mode, seed and resample count.

Every row carries N (pooled questions × demographics), the parse-failure count and rate and a ``note``
(e.g. "n/a: <reason>" for an unsupported (model, method) pair, or the datasets a score lacks).

With a metric other than TV (``--metric``, fixed mode) the columns keep their names (``TV`` and ``all_tvs`` hold
that metric's values), every CSV gains a last column ``metric``, and ``leaderboard.md`` names the metric and its
direction; the K2S gap is left empty for a higher-is-better metric. TV runs write exactly the columns above.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from distalign.bootstrap import Estimate, Job, bootstrap_many
from distalign.datasets import DATASETS
from distalign.evaluation import Evaluation
from distalign.evaluation.markdown import markdown
from distalign.evaluation.pairwise import pairwise
from distalign.evaluation.pooling import SPECIAL, Line, Scorer
from distalign.evaluation.tally import COLUMNS as SKIP_COLUMNS
from distalign.evaluation.workers import forked, parallel_ok
from distalign.files import write_text
from distalign.metrics import DEFAULT_METRIC, Metric, get_metric
from distalign.names import ALL_DATASETS, HEADLINE_TASKS, K2S_PAIRS, method_label
from distalign.types import TVRow

EVAL_COLUMNS = [
    "Task Type",
    "Model",
    "Dataset",
    "Wave",
    "Demographic Group/Avg",
    "Demographic/Avg",
    "Output Type",
    "TV",
    "all_tvs",
    "n",
    "n_parse_fail",
    "n_skipped",
]
KEY_COLUMNS = EVAL_COLUMNS[:7]  # what identifies a row of the eval CSV (and of eval_positions.csv)
LB_COLUMNS = [
    "Model Name",
    "Dataset",
    "Task Type",
    "Alignment Mean",
    "Alignment Error",
    "model",
    "method",
    "output_type",
    "N",
    "n_parse_fail",
    "parse_fail_rate",
    "point_estimate",
    "note",
]
K2S_COLUMNS = ["Model Name", "Dataset", "Task Type", "K2S Mean", "V Mean", "Seq Mean"]
POOLED = "task1_task3"
ManyFn = Callable[[list[Job], int, int], list[Estimate]]


@dataclass(frozen=True)
class Outputs:
    """The tables of one run."""

    eval_rows: pd.DataFrame
    headline: pd.DataFrame
    everything: pd.DataFrame
    k2s: pd.DataFrame
    skips: pd.DataFrame
    markdown: str
    pairwise: pd.DataFrame
    positions: pd.DataFrame


K2S_UNDEFINED = "K2S = Seq/V − 1 is defined for lower-is-better metrics only"


def tagged(frame: pd.DataFrame, metric: str) -> pd.DataFrame:
    """``frame`` with a last column ``metric`` when the metric is not the default (TV tables keep their bytes).

    >>> list(tagged(pd.DataFrame({"TV": [0.1]}), "jsd").columns), list(tagged(pd.DataFrame({"TV": [0.1]}), "tv"))
    (['TV', 'metric'], ['TV'])
    """
    return frame if metric == DEFAULT_METRIC else frame.assign(metric=metric)


# --- eval CSV ---------------------------------------------------------------------------------------------
def eval_frame(rows: Iterable[TVRow]) -> pd.DataFrame:
    """The eval CSV: one line per row, ``TV`` the mean to 5 decimals, ``all_tvs`` a JSON list."""
    records = [
        [
            r.task,
            r.model,
            r.dataset,
            r.wave,
            r.group,
            r.demographic,
            r.output_type,
            f"{np.mean(r.tvs):.5f}" if r.tvs else "",
            json.dumps(list(r.tvs)),
            len(r.tvs),
            r.n_parse_fail,
            r.n_skipped,
        ]
        for r in rows
    ]
    return pd.DataFrame(records, columns=EVAL_COLUMNS)


def positions_frame(rows: Iterable[TVRow]) -> pd.DataFrame:
    """``eval_positions.csv``: the eval CSV's key columns and, per row, the file positions of its scores (JSON)."""
    records = [[*eval_key(r), json.dumps(list(r.positions))] for r in rows]
    return pd.DataFrame(records, columns=[*KEY_COLUMNS, "positions"])


def eval_key(r: TVRow) -> list[str]:
    """The key columns of a row."""
    return [r.task, r.model, r.dataset, r.wave, r.group, r.demographic, r.output_type]


def _name(model: str, output_type: str) -> str:
    return f"{model} ({method_label(output_type)})"


def simulated_kinds(ev: Evaluation) -> list[str]:
    """Simulated reference kinds present, in first-seen order."""
    return list(dict.fromkeys(r.output_type for r in ev.rows if r.model == "simulated"))


def headline(sc: Scorer) -> list[Line]:
    """``leaderboard_distrib_alignment.csv``: every model × method, then the simulated references."""
    lines = [
        sc.line(_name(m, o), ALL_DATASETS, POOLED, sc.model_rows(m, o, HEADLINE_TASKS), m, o)
        for m in sc.models
        for o in sc.methods
    ]
    lines += [
        sc.line("simulated", ALL_DATASETS, kind, sc.special_rows("simulated", kind)) for kind in simulated_kinds(sc.ev)
    ]
    return lines


def everything(sc: Scorer) -> list[Line]:
    """``leaderboard_distrib_alignment_all.csv``: per dataset × task, simulated, "both" and human lines."""
    rows, lines = sc.ev.rows, list[Line]()
    combos = dict.fromkeys((r.dataset, r.task) for r in rows if r.model not in SPECIAL or r.model == "human")
    for dataset, task in sorted(combos, key=lambda c: (list(DATASETS).index(c[0]) if c[0] in DATASETS else 9, c[1])):
        for m in sc.models:
            for o in sc.methods:
                pool = [r for r in sc.model_rows(m, o, (task,)) if r.dataset == dataset]
                if pool:
                    lines.append(sc.line(_name(m, o), dataset, task, pool, m, o))
        human = [r for r in sc.special_rows("human") if (r.dataset, r.task) == (dataset, task)]
        if human:
            lines.append(sc.line("human", dataset, task, human, "human", "express_distribution"))
    for kind in simulated_kinds(sc.ev):
        for dataset in dict.fromkeys(r.dataset for r in sc.special_rows("simulated", kind)):
            pool = [r for r in sc.special_rows("simulated", kind) if r.dataset == dataset]
            lines.append(sc.line("simulated", dataset, kind, pool))
    lines += [
        sc.line(_name(m, o), "both", POOLED, sc.model_rows(m, o, HEADLINE_TASKS), m, o)
        for m in sc.models
        for o in sc.methods
    ]
    human = [r for r in sc.special_rows("human") if r.task in HEADLINE_TASKS]
    if human:
        lines.append(sc.line("human", "both", POOLED, human, "human", "express_distribution"))
    return lines


def k2s(head: pd.DataFrame, metric: Metric | None = None) -> pd.DataFrame:
    """``k2s_gap.csv``: Seq/V − 1 from the headline means, per model with both scores.

    One row per model and pair of :data:`distalign.names.K2S_PAIRS` with both scores (``Task Type`` names the
    pair; ``V Mean`` and ``Seq Mean`` hold the pair's means): V/Seq, and V-S/Seq-S where structured results exist.
    The gap is defined on distances (lower is better); for a higher-is-better ``metric`` it is left empty and
    a ``note`` column says why.
    """
    undefined = metric is not None and metric.higher_is_better
    lines = []
    for model in dict.fromkeys(head.loc[head["model"] != "", "model"]):
        mine = head[head["model"] == model].set_index("output_type")["Alignment Mean"]
        for task_type, (describe, simulate) in K2S_PAIRS.items():
            v, seq = mine.get(describe, np.nan), mine.get(simulate, np.nan)
            if np.isfinite(v) and np.isfinite(seq):
                gap = np.nan if undefined or v <= 0 else seq / v - 1  # a perfect V (TV 0) leaves the ratio undefined
                lines.append([model, ALL_DATASETS, task_type, gap, v, seq])
    frame = pd.DataFrame(lines, columns=K2S_COLUMNS)
    return frame.assign(note=K2S_UNDEFINED) if undefined else frame


def build(ev: Evaluation, n_boot: int, many: ManyFn = bootstrap_many) -> Outputs:
    """Every table of a run; all leaderboard lines are bootstrapped in one batch (``many``)."""
    sc = Scorer(ev)
    side = _side_tables(ev, n_boot)
    head_lines, all_lines = headline(sc), everything(sc)
    lines = [*head_lines, *all_lines]
    estimates = iter(many([ln.job for ln in lines if ln.job], n_boot, ev.seed))
    for ln in lines:
        ln.est = next(estimates) if ln.job else None
    head = pd.DataFrame([ln.record() for ln in head_lines], columns=LB_COLUMNS)
    allb = pd.DataFrame([ln.record() for ln in all_lines], columns=LB_COLUMNS)
    gap = k2s(head, get_metric(ev.metric))
    skips = pd.DataFrame(ev.tally.records(), columns=SKIP_COLUMNS)
    md = markdown(ev, n_boot, head, allb, gap)
    pairs, frame, positions = side()
    head, allb, gap, pairs, frame = (tagged(f, ev.metric) for f in (head, allb, gap, pairs, frame))
    return Outputs(frame, head, allb, gap, skips, md, pairs, positions)


def _side_tables(ev: Evaluation, n_boot: int) -> Callable[[], tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]]:
    """The pairwise, eval and positions tables (pure; a forked worker makes them while the leaderboards are built)."""

    def tables() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
        return pairwise(ev, n_boot), eval_frame(ev.rows), positions_frame(ev.rows)

    if parallel_ok(len(ev.rows), minimum=100):
        return forked(tables)
    made = tables()
    return lambda: made


def write(out: Outputs, output_dir: Path | str) -> list[Path]:
    """Write every table atomically (overwriting); returns the paths written."""
    output_dir = Path(output_dir)
    files = {
        "eval_disagreement_bootstrapping.csv": out.eval_rows,
        "leaderboard_distrib_alignment.csv": out.headline,
        "leaderboard_distrib_alignment_all.csv": out.everything,
        "k2s_gap.csv": out.k2s,
        "eval_skips.csv": out.skips,
        "pairwise_differences.csv": out.pairwise,
        "eval_positions.csv": out.positions,
    }
    paths = []
    for name, frame in files.items():
        write_text(output_dir / name, frame.to_csv(index=False, na_rep="", lineterminator="\n"))
        paths.append(output_dir / name)
    write_text(output_dir / "leaderboard.md", out.markdown)
    return [*paths, output_dir / "leaderboard.md"]


__all__ = ["Line", "Outputs", "Scorer", "build", "eval_frame", "k2s", "tagged", "write"]
