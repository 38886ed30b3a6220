"""Leaderboards: evaluation rows -> the eval CSV, three leaderboard CSVs and ``leaderboard.md``.

Mirrors docs/original.md §7.3–§7.5.

Outputs (all overwritten atomically, never appended; the original columns first and in the original order,
extra columns after them; lists as JSON):

* ``eval_disagreement_bootstrapping.csv``: one row per (task, model, dataset, wave, demographic, method);
* ``leaderboard_distrib_alignment.csv``: the headline, every model × method found, persona + few-shot
  pooled, every dataset weighted equally (the paper's three: ⅓ each); then the simulated references;
* ``leaderboard_distrib_alignment_all.csv``: per dataset × task, simulated per dataset, OQA+NYT ("both",
  ½ each) per model × method, and the human rows;
* ``k2s_gap.csv``: knowledge-to-simulation gap Seq/V − 1 per model;
* ``eval_skips.csv``: every counted skip and failed check;
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
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from distalign.backends import BackendError, model_capabilities
from distalign.bootstrap import Estimate, Job, bootstrap_many
from distalign.datasets import DATASETS
from distalign.evaluation import Evaluation
from distalign.evaluation.markdown import markdown
from distalign.evaluation.tally import COLUMNS as SKIP_COLUMNS
from distalign.expression import get_method
from distalign.files import write_text
from distalign.metrics import DEFAULT_METRIC, Metric, get_metric
from distalign.names import (
    ALL_DATASETS,
    HEADLINE_TASKS,
    METHOD_LABELS,
    PAPER_MODELS,
    dataset_label,
    method_label,
    model_label,
)
from distalign.types import TVRow

EVAL_COLUMNS = ["Task Type", "Model", "Dataset", "Wave", "Demographic Group/Avg", "Demographic/Avg", "Output Type",
                "TV", "all_tvs", "n", "n_parse_fail", "n_skipped"]
LB_COLUMNS = ["Model Name", "Dataset", "Task Type", "Alignment Mean", "Alignment Error", "model", "method",
              "output_type", "N", "n_parse_fail", "parse_fail_rate", "point_estimate", "note"]
K2S_COLUMNS = ["Model Name", "Dataset", "Task Type", "K2S Mean", "V Mean", "Seq Mean"]
POOLED = "task1_task3"
BOTH = {"opinionqa": 0.5, "nytimes": 0.5}  # the original's "both" row: OQA and NYT, half each
SPECIAL = ("simulated", "human")
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
    records = [[r.task, r.model, r.dataset, r.wave, r.group, r.demographic, r.output_type,
                f"{np.mean(r.tvs):.5f}" if r.tvs else "", json.dumps(list(r.tvs)), len(r.tvs), r.n_parse_fail,
                r.n_skipped] for r in rows]
    return pd.DataFrame(records, columns=EVAL_COLUMNS)


# --- pooling and scoring ---------------------------------------------------------------------------------
def weights(dataset: str) -> dict[str, float]:
    """Dataset weights of a leaderboard line: every registered dataset equally (``three``), ``both``, or one."""
    if dataset == ALL_DATASETS:
        return {d: 1 / len(DATASETS) for d in DATASETS}
    return BOTH if dataset == "both" else {dataset: 1.0}


def ordered_models(rows: Iterable[TVRow], na: Iterable[tuple[str, str, str, str]]) -> list[str]:
    """Model folders found: the paper's five in the paper's order, then the others sorted."""
    found = {r.model for r in rows if r.model not in SPECIAL} | {m for _, _, m, _ in na}
    return [m for m in PAPER_MODELS if m in found] + sorted(found - set(PAPER_MODELS))


def ordered_methods(rows: Iterable[TVRow], na: Iterable[tuple[str, str, str, str]]) -> list[str]:
    """Output types found, in the order of :data:`distalign.names.METHOD_LABELS`, then unknown ones sorted."""
    found = {r.output_type for r in rows if r.model not in SPECIAL} | {o for _, o, _, _ in na}
    return [o for o in METHOD_LABELS if o in found] + sorted(found - set(METHOD_LABELS))


@dataclass
class Line:
    """One leaderboard line before and after the bootstrap (``est`` is filled by :func:`build`)."""

    name: str
    dataset: str
    task: str
    model: str
    output_type: str
    n_fail: int
    note: str
    job: Job | None
    est: Estimate | None = None

    def record(self) -> dict[str, object]:
        """The CSV record of the line."""
        est, n = self.est, self.est.n if self.est else 0
        return {"Model Name": self.name, "Dataset": self.dataset, "Task Type": self.task,
                "Alignment Mean": est.mean if est else np.nan, "Alignment Error": est.error if est else np.nan,
                "model": self.model, "method": method_label(self.output_type) if self.output_type else "",
                "output_type": self.output_type, "N": n, "n_parse_fail": self.n_fail,
                "parse_fail_rate": self.n_fail / n if n else np.nan,
                "point_estimate": est.point if est else np.nan, "note": self.note}


def _pools(rows: Sequence[TVRow], weights: dict[str, float]) -> tuple[Job | None, int, str]:
    """The bootstrap job (pools per dataset, renormalised weights), parse-failure count and note of pooled rows."""
    pools: dict[str, list[float]] = {}
    for r in rows:
        if r.dataset in weights and r.tvs:
            pools.setdefault(r.dataset, []).extend(r.tvs)
    n_fail = sum(r.n_parse_fail for r in rows if r.dataset in weights)
    if not pools:
        return None, n_fail, "no results"
    present = [d for d in weights if d in pools]
    scaled = {d: weights[d] / sum(weights[p] for p in present) for d in present}
    note = "" if len(present) == len(weights) else "only " + ", ".join(dataset_label(d) for d in present)
    return ({d: np.asarray(pools[d]) for d in present}, scaled), n_fail, note


def _na_note(na: Sequence[tuple[str, str, str, str]], model: str, output_type: str, note: str) -> str:
    """Why a cell is empty: the run's n/a marker, else what the model's declared capabilities say."""
    if note != "no results":
        return note
    reasons = sorted({r for _, o, m, r in na if (m, o) == (model, output_type)})
    reason = "; ".join(reasons) or declared_unsupported(model, output_type)
    return f"n/a: {reason}" if reason else note


def declared_unsupported(model: str, output_type: str) -> str:
    """Why ``model`` cannot produce ``output_type`` according to its backend ("" when it can or is unknown).

    >>> declared_unsupported("anthropic_haiku", "rescaled_model_logprobs")
    'the model returns no token log-probabilities'
    >>> declared_unsupported("gpt-4", "model_logprobs"), declared_unsupported("someone/else", "sequence")
    ('', '')
    """
    method = "model_logprobs" if output_type.startswith("rescaled_model_logprobs") else output_type
    try:
        return get_method(method).unsupported(model_capabilities(model_label(model))) or ""
    except (ValueError, ImportError, BackendError):
        return ""


class Scorer:
    """Builds leaderboard lines from an :class:`~distalign.evaluation.Evaluation`."""

    def __init__(self, ev: Evaluation) -> None:
        self.ev = ev
        self.models, self.methods = ordered_models(ev.rows, ev.na), ordered_methods(ev.rows, ev.na)

    def line(self, name: str, dataset: str, task: str, rows: Sequence[TVRow], model: str = "",
             output_type: str = "") -> Line:
        """One leaderboard line: ``dataset`` is ``three``, ``both`` or a dataset name."""
        job, n_fail, note = _pools(rows, weights(dataset))
        return Line(name, dataset, task, model, output_type, n_fail, _na_note(self.ev.na, model, output_type, note),
                    job)

    def model_rows(self, model: str, output_type: str, tasks: Sequence[str]) -> list[TVRow]:
        """The model rows of one (model, method) for the given tasks."""
        return [r for r in self.ev.rows if (r.model, r.output_type) == (model, output_type) and r.task in tasks]

    def special_rows(self, model: str, kind: str | None = None) -> list[TVRow]:
        """Simulated or human rows (optionally of one simulated kind)."""
        return [r for r in self.ev.rows if r.model == model and (kind is None or r.output_type == kind)]


def _name(model: str, output_type: str) -> str:
    return f"{model} ({method_label(output_type)})"


def simulated_kinds(ev: Evaluation) -> list[str]:
    """Simulated reference kinds present, in first-seen order."""
    return list(dict.fromkeys(r.output_type for r in ev.rows if r.model == "simulated"))


def headline(sc: Scorer) -> list[Line]:
    """``leaderboard_distrib_alignment.csv``: every model × method, then the simulated references."""
    lines = [sc.line(_name(m, o), ALL_DATASETS, POOLED, sc.model_rows(m, o, HEADLINE_TASKS), m, o)
             for m in sc.models for o in sc.methods]
    lines += [sc.line("simulated", ALL_DATASETS, kind, sc.special_rows("simulated", kind))
              for kind in simulated_kinds(sc.ev)]
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
    lines += [sc.line(_name(m, o), "both", POOLED, sc.model_rows(m, o, HEADLINE_TASKS), m, o)
              for m in sc.models for o in sc.methods]
    human = [r for r in sc.special_rows("human") if r.task in HEADLINE_TASKS]
    if human:
        lines.append(sc.line("human", "both", POOLED, human, "human", "express_distribution"))
    return lines


def k2s(head: pd.DataFrame, metric: Metric | None = None) -> pd.DataFrame:
    """``k2s_gap.csv``: Seq/V − 1 from the headline means, per model with both scores.

    The gap is defined on distances (lower is better); for a higher-is-better ``metric`` it is left empty and
    a ``note`` column says why.
    """
    undefined = metric is not None and metric.higher_is_better
    lines = []
    for model in dict.fromkeys(head.loc[head["model"] != "", "model"]):
        mine = head[head["model"] == model].set_index("output_type")["Alignment Mean"]
        v, seq = mine.get("express_distribution", np.nan), mine.get("sequence", np.nan)
        if np.isfinite(v) and np.isfinite(seq):
            gap = np.nan if undefined or v <= 0 else seq / v - 1  # a perfect V (TV 0) leaves the ratio undefined
            lines.append([model, ALL_DATASETS, "knowledge_to_sim_gap", gap, v, seq])
    frame = pd.DataFrame(lines, columns=K2S_COLUMNS)
    return frame.assign(note=K2S_UNDEFINED) if undefined else frame


def build(ev: Evaluation, n_boot: int, many: ManyFn = bootstrap_many) -> Outputs:
    """Every table of a run; all leaderboard lines are bootstrapped in one batch (``many``)."""
    sc = Scorer(ev)
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
    head, allb, gap = (tagged(f, ev.metric) for f in (head, allb, gap))
    return Outputs(tagged(eval_frame(ev.rows), ev.metric), head, allb, gap, skips, md)


def write(out: Outputs, output_dir: Path | str) -> list[Path]:
    """Write every table atomically (overwriting); returns the paths written."""
    output_dir = Path(output_dir)
    files = {"eval_disagreement_bootstrapping.csv": out.eval_rows, "leaderboard_distrib_alignment.csv": out.headline,
             "leaderboard_distrib_alignment_all.csv": out.everything, "k2s_gap.csv": out.k2s,
             "eval_skips.csv": out.skips}
    paths = []
    for name, frame in files.items():
        write_text(output_dir / name, frame.to_csv(index=False, na_rep="", lineterminator="\n"))
        paths.append(output_dir / name)
    write_text(output_dir / "leaderboard.md", out.markdown)
    return [*paths, output_dir / "leaderboard.md"]


__all__ = ["Line", "Outputs", "Scorer", "build", "eval_frame", "k2s", "tagged", "write"]
