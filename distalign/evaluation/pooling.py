"""Pooling and scoring of evaluation rows into leaderboard lines (docs/original.md §7.4–§7.5).

A leaderboard line pools the per-cell scores of its rows per dataset, weights the datasets (every registered
dataset equally for ``three``, OQA and NYT half each for ``both``) and carries its bootstrap job, its
parse-failure count and a note (the datasets a score lacks, or why a (model, method) pair is n/a).
:class:`Scorer` makes the lines; :mod:`distalign.evaluation.leaderboards` bootstraps and writes them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from distalign.backends import BackendError, model_capabilities
from distalign.bootstrap import Estimate, Job
from distalign.datasets import DATASETS
from distalign.evaluation import Evaluation
from distalign.expression import get_method
from distalign.names import ALL_DATASETS, METHOD_LABELS, PAPER_MODELS, dataset_label, method_label, model_label
from distalign.types import TVRow

BOTH = {"opinionqa": 0.5, "nytimes": 0.5}  # the original's "both" row: OQA and NYT, half each
SPECIAL = ("simulated", "human")


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
        return {
            "Model Name": self.name,
            "Dataset": self.dataset,
            "Task Type": self.task,
            "Alignment Mean": est.mean if est else np.nan,
            "Alignment Error": est.error if est else np.nan,
            "model": self.model,
            "method": method_label(self.output_type) if self.output_type else "",
            "output_type": self.output_type,
            "N": n,
            "n_parse_fail": self.n_fail,
            "parse_fail_rate": self.n_fail / n if n else np.nan,
            "point_estimate": est.point if est else np.nan,
            "note": self.note,
        }


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

    def line(
        self, name: str, dataset: str, task: str, rows: Sequence[TVRow], model: str = "", output_type: str = ""
    ) -> Line:
        """One leaderboard line: ``dataset`` is ``three``, ``both`` or a dataset name."""
        job, n_fail, note = _pools(rows, weights(dataset))
        return Line(
            name, dataset, task, model, output_type, n_fail, _na_note(self.ev.na, model, output_type, note), job
        )

    def model_rows(self, model: str, output_type: str, tasks: Sequence[str]) -> list[TVRow]:
        """The model rows of one (model, method) for the given tasks."""
        return [r for r in self.ev.rows if (r.model, r.output_type) == (model, output_type) and r.task in tasks]

    def special_rows(self, model: str, kind: str | None = None) -> list[TVRow]:
        """Simulated or human rows (optionally of one simulated kind)."""
        return [r for r in self.ev.rows if r.model == model and (kind is None or r.output_type == kind)]
