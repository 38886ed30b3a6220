"""Evaluation stage: result files -> per-question TV rows, simulated and human rows (docs/original.md §7).

:func:`evaluate` reads every result file under ``results_dir`` once (:func:`distalign.results.scan`: every
model, method, task and group found there, no hard-coded list), scores it with the semantics of ``mode``
and returns an :class:`Evaluation`; :mod:`distalign.evaluation.leaderboards` turns that into the CSVs and
``leaderboard.md``. Two modes, one interface (:class:`~distalign.evaluation.base.Semantics`):

* ``paper`` (:mod:`~distalign.evaluation.paper`): the original release's semantics, quirks included;
* ``fixed`` (:mod:`~distalign.evaluation.fixed`, the default): the score-affecting defects corrected.

Fixed mode scores every cell with the chosen metric (:data:`distalign.metrics.METRICS`, ``tv`` by default);
paper mode is TV by definition and rejects any other.

The cyclic garbage collector is paused while the files are read and scored (:func:`gc_paused`): the records are
millions of small acyclic objects, which it would otherwise traverse again and again (a third of the time).

Files of demographics the dataset does not evaluate (OQA RACE Asian/Hispanic, CREGION, EDUCATION, INCOME)
are skipped and counted; an unreadable file is counted and reported (``strict=True`` raises instead).
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from distalign.evaluation.base import Context, Semantics
from distalign.evaluation.fixed import FixedSemantics
from distalign.evaluation.human import human_rows
from distalign.evaluation.paper import PaperSemantics
from distalign.evaluation.tally import SKIP, Tally
from distalign.evaluation.workers import parallel_ok, shared_files
from distalign.files import DataError
from distalign.metrics import DEFAULT_METRIC, Metric, get_metric
from distalign.names import steering_of
from distalign.results import ResultKey, read_results, scan, scan_na
from distalign.types import TVRow

__all__ = ["MODES", "Evaluation", "evaluate", "gc_paused"]

MODES: dict[str, type[Semantics]] = {"paper": PaperSemantics, "fixed": FixedSemantics}


@dataclass
class Evaluation:
    """Everything the leaderboards need.

    Attributes:
        mode: ``paper`` or ``fixed``.
        seed: the run's seed.
        rows: model rows (scan order), then simulated rows, then human rows.
        na: (dataset, output_type, model, reason) of every "n/a" marker.
        tally: counted skips and checks.
        metric: name of the per-cell metric (:data:`distalign.metrics.METRICS`).
    """

    mode: str
    seed: int
    rows: list[TVRow]
    na: list[tuple[str, str, str, str]]
    tally: Tally
    metric: str = DEFAULT_METRIC


def evaluate(
    results_dir: Path | str,
    data_dir: Path | str,
    mode: str = "fixed",
    seed: int = 0,
    human: bool = True,
    strict: bool = False,
    check_parsers: bool = False,
    metric: str = DEFAULT_METRIC,
) -> Evaluation:
    """Evaluate every result file under ``results_dir`` against the data under ``data_dir``.

    Args:
        results_dir: folder of result files (docs/original.md §5 layout).
        data_dir: data root (``opinions_qa/``, ``nytimes/``, ``Global_Values/``, ``results/human_annotations/``).
        mode: ``paper`` or ``fixed``.
        seed: seed of every random draw.
        human: add the human-baseline rows.
        strict: raise on an unreadable result file instead of counting it.
        check_parsers: paper mode: count released vectors the original parsers do not reproduce.
        metric: fixed mode's per-cell metric (a key of :data:`distalign.metrics.METRICS`).

    Raises:
        ValueError: an unknown mode or metric, or a metric other than TV in paper mode.
    """
    ctx = Context(Path(data_dir), seed, check_parsers=check_parsers, metric=_checked_metric(mode, metric))
    semantics = MODES[mode](ctx)
    with gc_paused():
        files = list(scan(results_dir))
        after = _AfterFiles(semantics, Path(results_dir), human, _candidates(semantics, files))
        if parallel_ok(len(files)):
            rows, made = shared_files(semantics, files, strict, _file_rows, after.ahead)
            rows = after.finish(rows, made())
        else:
            rows = [r for key, path in files for r in _file_rows(semantics, key, path, strict)]
            rows = after.finish(rows, None)
    return Evaluation(mode, seed, rows, list(scan_na(results_dir)), ctx.tally, metric)


class _AfterFiles:
    """What follows the files: simulated and human rows (a forked worker computes what it can ahead)."""

    def __init__(self, semantics: Semantics, results_dir: Path, human: bool, datasets: list[str]) -> None:
        self.semantics, self.results_dir, self.human, self.datasets = semantics, results_dir, human, datasets

    def ahead(self) -> tuple[dict[str, list[TVRow]], list[TVRow], Tally]:
        """Data-only simulated rows and the human rows with their own tally (run in the worker)."""
        ctx = self.semantics.ctx
        ctx.tally = Tally()
        return self.semantics.simulated_ahead(self.datasets), self._human_rows(), ctx.tally

    def finish(self, rows: list[TVRow], made: tuple[dict[str, list[TVRow]], list[TVRow], Tally] | None) -> list[TVRow]:
        """Model rows, then simulated rows, then human rows, counted in that order."""
        if made is not None:
            self.semantics.use_simulated(made[0])
        rows = self.semantics.finish(rows) + self.semantics.simulated_rows()
        if made is None:
            return rows + self._human_rows()
        self.semantics.ctx.tally.counts.update(made[2].counts)
        return rows + made[1]

    def _human_rows(self) -> list[TVRow]:
        ctx = self.semantics.ctx
        return human_rows(self.semantics.name, self.results_dir, ctx.data_dir, ctx) if self.human else []


def _candidates(semantics: Semantics, files: list[tuple[ResultKey, Path]]) -> list[str]:
    """The datasets whose result files will be scored (loaded here, before any fork, for both processes)."""
    out: dict[str, None] = {}
    for key, _ in files:
        if key.dataset in out:
            continue
        try:
            steering_of(key.task)
            semantics.ctx.evaluated(key.dataset)
        except (ValueError, DataError):  # counted or raised where the file is scored
            continue
        out[key.dataset] = None
    return list(out)


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector (reference counting still frees everything acyclic); restored after."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _checked_metric(mode: str, metric: str) -> Metric:
    """The metric called ``metric``, once ``mode`` is known to exist and to accept it."""
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; valid: {', '.join(MODES)}")
    scorer = get_metric(metric)
    if mode == "paper" and metric != DEFAULT_METRIC:
        raise ValueError(
            f"paper mode scores by {DEFAULT_METRIC} only (the original's metric); use --mode fixed "
            f"for --metric {metric}"
        )
    return scorer


def _file_rows(semantics: Semantics, key: ResultKey, path: Path, strict: bool) -> list[TVRow]:
    tally = semantics.ctx.tally
    try:
        steering = steering_of(key.task)
    except ValueError:
        tally.add(SKIP, key, "not a task folder")
        return []
    if steering != "none" and (key.group, key.demographic) not in semantics.ctx.evaluated(key.dataset):
        tally.add(SKIP, key, "file of a demographic that is not evaluated")
        return []
    try:
        records = read_results(path, for_scoring=True)
    except DataError as e:
        if strict:
            raise
        print(f"warning: skipped unreadable result file: {e}", file=sys.stderr)
        tally.add(SKIP, key, "unreadable result file")
        return []
    rows = semantics.task0_rows(key, records) if steering == "none" else semantics.file_rows(key, records)
    order = {qid: i for i, qid in enumerate(records)}
    return [replace(r, positions=tuple(order[q] for q in r.qids)) for r in rows]
