"""Shared pieces of the two evaluation semantics: run context, record readers, interface (docs/original.md §5, §7).

A :class:`Semantics` turns one result file into evaluation rows (:class:`~distalign.types.TVRow`, one per
evaluated demographic) and adds the simulated reference rows. :mod:`~distalign.evaluation.paper` implements
the original release's semantics, :mod:`~distalign.evaluation.fixed` the corrected ones. Record readers
here check every value they use: a malformed record raises :class:`~distalign.files.DataError` naming the
file and key, which the caller counts as a skip.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from distalign.datasets import SurveyDataset, load_dataset
from distalign.evaluation.tally import SKIP, Tally
from distalign.files import DataError
from distalign.metrics import DEFAULT_METRIC, METRICS, Metric, padded, tv_batch
from distalign.results import ResultKey
from distalign.types import SurveyItem, TVRow

Records = dict[str, dict[str, Any]]


@dataclass
class Context:
    """What every semantics needs: the data root, dataset loaders, the tally, the seed and the per-cell metric."""

    data_dir: Path
    seed: int = 0
    tally: Tally = field(default_factory=Tally)
    check_parsers: bool = False  # paper mode: re-parse released responses and count disagreements (slower)
    metric: Metric = METRICS[DEFAULT_METRIC]  # fixed mode's per-cell score (paper mode is TV by definition)

    def __post_init__(self) -> None:
        self._datasets: dict[str, SurveyDataset] = {}
        self.item = cache(self._item)

    def dataset(self, name: str) -> SurveyDataset:
        """The loader of dataset ``name`` (created once)."""
        if name not in self._datasets:
            self._datasets[name] = load_dataset(name, self.data_dir)
        return self._datasets[name]

    def evaluated(self, dataset: str) -> list[tuple[str, str]]:
        """The (group, demographic) pairs the dataset evaluates."""
        return self.dataset(dataset).demographics()

    def _item(self, dataset: str, qid: str, group: str, demographic: str) -> SurveyItem:
        return self.dataset(dataset).item(qid, group, demographic)


class Semantics(ABC):
    """How result files become TV rows (one implementation per ``--mode``)."""

    name: str = ""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    @abstractmethod
    def file_rows(self, key: ResultKey, records: Records) -> list[TVRow]:
        """Rows of one steered result file (task1, task3, ...) of an evaluated demographic."""

    @abstractmethod
    def task0_rows(self, key: ResultKey, records: Records) -> list[TVRow]:
        """Rows of the no-steering file: its outputs scored against every evaluated demographic."""

    @abstractmethod
    def simulated_rows(self) -> list[TVRow]:
        """The simulated reference rows (Model = ``simulated``)."""

    def finish(self, rows: list[TVRow]) -> list[TVRow]:
        """Last pass over all model rows (paper mode duplicates NYT rows here)."""
        return rows

    def drain(self) -> Any:
        """What the rows methods recorded beside the rows since the last call (handed to :meth:`absorb`).

        A forked worker (:mod:`distalign.evaluation.workers`) sends it back per file; the parent absorbs it in
        file order, so the state is that of a sequential run.
        """
        return None

    def absorb(self, state: Any) -> None:  # noqa: B027 - nothing to take back unless drain returns something
        """Take back what :meth:`drain` returned (in file order)."""

    def simulated_ahead(self, datasets: Sequence[str]) -> dict[str, list[TVRow]]:
        """Simulated rows that depend on the data alone, per dataset, computed ahead by a worker.

        ``{}`` where they come from the result files (paper mode).
        """
        return {}

    def use_simulated(self, ahead: dict[str, list[TVRow]]) -> None:  # noqa: B027 - nothing to use by default
        """Use rows from :meth:`simulated_ahead` instead of computing them again."""


# --- record readers ------------------------------------------------------------------------------------------
def where(key: ResultKey, qid: str) -> str:
    """A readable location of one record for error messages."""
    return f"{key.dataset}/{key.output_type}/{key.model}/{key.task}/{key.group}/{key.demographic}.json[{qid!r}]"


def vector(rec: dict[str, Any], name: str, loc: str) -> list[float] | None:
    """The values of a ``{letter: number}`` field in key order (``None`` when the field is null or absent).

    >>> vector({"avg_actual_results": {"A": 0.25, "B": 0.75}}, "avg_actual_results", "f")
    [0.25, 0.75]
    >>> vector({"avg_actual_results": {"A": "x"}}, "avg_actual_results", "f")
    Traceback (most recent call last):
    ...
    distalign.files.DataError: f: avg_actual_results['A'] is 'x', not a number
    """
    d = rec.get(name)
    if d is None:
        return None
    if not isinstance(d, dict):
        raise DataError(f"{loc}: {name} is {type(d).__name__}, not a {{letter: probability}} object")
    values = list(d.values())
    if set(map(type, values)) <= {float}:  # the common case, checked fast
        return values
    for k, v in d.items():
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise DataError(f"{loc}: {name}[{k!r}] is {v!r}, not a number")
    return [float(v) for v in values]


def response_text(rec: dict[str, Any]) -> str:
    """The first stored response (the raw or processed model text; "" when absent)."""
    resp = rec.get("response")
    if isinstance(resp, list):
        resp = resp[0] if resp else ""
    return resp if isinstance(resp, str) else ""


def shown_options(rec: dict[str, Any], loc: str) -> list[str] | None:
    """The ``options`` list of a record written by this package (``None`` for released records)."""
    opts = rec.get("options")
    if opts is None:
        return None
    if not isinstance(opts, list) or not all(isinstance(o, str) for o in opts):
        raise DataError(f"{loc}: options must be a list of strings, found {opts!r}")
    return opts


def is_own(rec: dict[str, Any]) -> bool:
    """Whether a record was written by this package's generation stage (it carries ``parse_ok``)."""
    return "parse_ok" in rec


def scored_tvs(preds: Sequence[Sequence[float]], truths: Sequence[Sequence[float]]) -> list[float]:
    """TV of each (prediction, truth) pair of equal length, in one vectorized pass.

    >>> scored_tvs([[0.5, 0.5], [1.0]], [[1.0, 0.0], [1.0]])
    [0.5, 0.0]
    """
    if not preds:
        return []
    width = max(max(len(p) for p in preds), max(len(t) for t in truths))
    return [float(x) for x in tv_batch(padded(preds, width), padded(truths, width))]


def make_row(
    key: ResultKey,
    group: str,
    demographic: str,
    tvs: Sequence[float],
    qids: Sequence[str],
    n_fail: int = 0,
    n_skipped: int = 0,
    wave: str | None = None,
) -> TVRow:
    """One evaluation row; NaN TVs never enter it (callers count them as skips)."""
    keep = [i for i, t in enumerate(tvs) if not math.isnan(t)]
    return TVRow(
        key.task,
        key.model,
        key.dataset,
        key.wave if wave is None else wave,
        group,
        demographic,
        key.output_type,
        tuple(float(tvs[i]) for i in keep),
        tuple(qids[i] for i in keep),
        n_skipped,
        n_fail,
    )


def count_nan(ctx: Context, key: ResultKey, tvs: Sequence[float], reason: str) -> int:
    """Count the NaN TVs of a row as skips under ``reason``; returns how many there were."""
    n = int(np.isnan(np.asarray(tvs, dtype=float)).sum()) if len(tvs) else 0
    ctx.tally.add(SKIP, key, reason, n)
    return n
