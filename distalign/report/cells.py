"""Question cells for the explorer: the evaluation's per-question scores joined to result records and request logs.

A row of ``eval_disagreement_bootstrapping.csv`` holds a result file's scores (``all_tvs``) and where each scored
record stands in that file (``positions``). For each scored record the explorer shows the human distribution (the
dataset's, as the evaluation scores it), the model's distribution as the run's mode reads it (fixed mode: the
tolerant re-parse of released replies, :meth:`~distalign.evaluation.fixed.FixedSemantics.prediction`; paper mode:
the stored vector), the score from the CSV, the reply and, for a new run, the prompt as sent (request log).
Released generations have no log: their reply comes from the result file.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from distalign.datasets import NONE_GROUP
from distalign.evaluation.base import Context, response_text, shown_options, vector, where
from distalign.evaluation.fixed import FixedSemantics
from distalign.files import DataError
from distalign.names import GV_WAVE, method_label, steering_of
from distalign.report.leaderboard import steering_label
from distalign.report.logs import ModelLog, cell_key
from distalign.results import ResultKey, read_results, scan
from distalign.types import SurveyItem

SPECIAL = ("simulated", "human")


@dataclass(frozen=True)
class Cell:
    """One scored (question, method, steering, group) of one model: what the explorer shows."""

    qid: str
    text: str
    details: str
    method: str
    steering: str
    group: str
    score: float
    parsed: bool
    options: tuple[str, ...]
    human: tuple[float, ...]
    model: tuple[float, ...] | None
    reply: str
    error: str
    prompt: str  # "" when no request log recorded it


@dataclass
class Sources:
    """What the cells are read from: the result files, the data, the run's mode and the request logs."""

    results_dir: Path
    ctx: Context
    mode: str
    logs: dict[str, ModelLog]

    def __post_init__(self) -> None:
        self.files = file_index(self.results_dir)
        self.fixed = FixedSemantics(self.ctx)
        self.truths: dict[tuple[str, str, str, str], dict[str, float]] = {}  # truth_of each cell, computed once


def no_steering(task: str) -> bool:
    """Whether a task folder holds no-steering outputs (one file scored against every group).

    >>> no_steering("task0"), no_steering("task1"), no_steering("not_a_task")
    (True, False, False)
    """
    try:
        return steering_of(task) == "none"
    except ValueError:
        return False


def file_index(results_dir: Path) -> dict[tuple[str, ...], Path]:
    """Result files by (dataset, output type, model, task, group, demographic); no-steering files by the first four."""
    index: dict[tuple[str, ...], Path] = {}
    for key, path in scan(results_dir):
        index[(key.dataset, key.output_type, key.model, key.task, key.group, key.demographic)] = path
        if key.group == NONE_GROUP:
            index.setdefault((key.dataset, key.output_type, key.model, key.task), path)
    return index


@dataclass(frozen=True)
class EvalRow:
    """One model row of ``eval_disagreement_bootstrapping.csv``: a result file scored for one demographic."""

    dataset: str
    model: str
    task: str
    group: str
    demographic: str
    output_type: str
    scores: tuple[float, ...]
    positions: tuple[int, ...]


def eval_rows(cells: pd.DataFrame) -> dict[tuple[str, str], list[EvalRow]]:
    """(model, dataset) -> its rows, each (task, group, demographic, method) once (paper mode repeats NYT rows)."""
    out: dict[tuple[str, str], list[EvalRow]] = {}
    seen: set[tuple[str, ...]] = set()
    columns = ["Dataset", "Model", "Task Type", "Demographic Group/Avg", "Demographic/Avg", "Output Type"]
    for rec in cells[~cells["Model"].isin(SPECIAL)][[*columns, "all_tvs", "positions"]].itertuples(index=False):
        key = tuple(str(x) for x in rec[:6])
        if key in seen:
            continue
        seen.add(key)
        dataset, model, task, group, demographic, output_type = key
        scores, positions = tuple(json.loads(rec[6])), tuple(json.loads(rec[7]))
        row = EvalRow(dataset, model, task, group, demographic, output_type, scores, positions)
        out.setdefault((row.model, row.dataset), []).append(row)
    return out


def predicted(src: Sources, key: ResultKey, rec: dict[str, Any], k: int, loc: str) -> tuple[list[float] | None, str]:
    """The model's distribution as the run's mode scores it, and why it failed ("" when it parsed)."""
    try:
        if src.mode != "paper":
            return src.fixed.prediction(key, rec, k, loc)
        stored = vector(rec, "avg_actual_results", loc)
    except DataError as e:
        return None, str(e)
    if stored is None or not all(math.isfinite(v) for v in stored) or sum(stored) <= 0:
        reason = str(rec.get("parse_error") or "stored vector is empty, all zero or not finite (scored as stored)")
        return stored, reason
    return stored, ""


def aligned(
    shown: list[str], pred: list[float] | None, truth: dict[str, float]
) -> tuple[tuple[str, ...], tuple[float, ...], tuple[float, ...] | None]:
    """Options shown, then the group's other options; the human and model probability of each, by option text.

    >>> aligned(["Yes", "No"], [0.25, 0.75], {"No": 0.5, "Maybe": 0.5})
    (('Yes', 'No', 'Maybe'), (0.0, 0.5, 0.5), (0.25, 0.75, 0.0))
    """
    options = tuple(dict.fromkeys([*shown, *truth]))
    model = dict(zip(shown, pred, strict=False)) if pred is not None else None
    return (
        options,
        tuple(truth.get(o, 0.0) for o in options),
        None if model is None else tuple(model.get(o, 0.0) for o in options),
    )


def rounded(values: list[float] | None) -> list[float] | None:
    """Probabilities to four decimals, for display.

    >>> rounded([1 / 3, 2 / 3]), rounded(None)
    ([0.3333, 0.6667], None)
    """
    return None if values is None else [round(float(v), 4) for v in values]


def _item(src: Sources, dataset: str, qid: str, group: str, dem: str) -> SurveyItem | None:
    try:
        return src.ctx.item(dataset, qid, group, dem)
    except DataError:
        return None


def group_label(item: SurveyItem | None, group: str, dem: str) -> str:
    """How a demographic is named: ``POLPARTY: Democrat``; GlobalOpinionQA by its country."""
    persona = item.persona if item is not None else dem
    return persona if group == GV_WAVE else f"{group}: {persona}"


class ResultView:
    """One result file's records and, per record, what the model said as the run's mode reads it.

    Each record's reading is computed once and shared by the rows of a no-steering file (scored once per group).
    """

    def __init__(self, src: Sources, key: ResultKey, path: Path) -> None:
        self.src, self.key = src, key
        self.items = list(read_results(path).items())
        self.said: dict[int, tuple[list[str], list[float] | None, str]] = {}

    def prediction(self, pos: int) -> tuple[list[str], list[float] | None, str]:
        """(options shown, the model's distribution over them or ``None``, why it failed) of record ``pos``."""
        if pos not in self.said:
            qid, rec = self.items[pos]
            loc = where(self.key, qid)
            base = _item(self.src, self.key.dataset, qid, self.key.group, self.key.demographic)
            shown = _shown(rec, loc) or (list(base.options) if base is not None else [])
            pred, error = predicted(self.src, self.key, rec, len(shown), loc)
            self.said[pos] = (shown, rounded(pred), error)
        return self.said[pos]


def truth_of(item: SurveyItem | None) -> dict[str, float]:
    """The human distribution of a cell by option text, to four decimals ({} without one)."""
    if item is None or item.truth is None:
        return {}
    return dict(zip(item.options, rounded(list(item.truth.probs)) or [], strict=False))


def row_cells(src: Sources, row: EvalRow, view: ResultView) -> Iterator[Cell]:
    """The cells of one evaluation row (a result file scored for one demographic)."""
    log = src.logs.get(row.model)
    prefix = cell_key(row.dataset, row.output_type, row.task, row.group, row.demographic, "")[:5]
    method, steering = method_label(row.output_type), steering_label(row.task)
    for score, pos in zip(row.scores, row.positions, strict=True):
        qid, rec = view.items[pos]
        item = _item(src, row.dataset, qid, row.group, row.demographic)
        shown, pred, error = view.prediction(pos)
        truth = src.truths.get((row.dataset, qid, row.group, row.demographic))
        if truth is None:
            truth = src.truths[(row.dataset, qid, row.group, row.demographic)] = truth_of(item)
        options, human, dist = aligned(shown, pred, truth)
        exchange = log.exchanges.get((*prefix, qid)) if log else None
        yield Cell(
            qid,
            item.text if item is not None else qid,
            " · ".join(f"{k}: {v}" for k, v in item.details if v != item.text) if item is not None else "",
            method,
            steering,
            group_label(item, row.group, row.demographic),
            round(float(score), 4),
            not error,
            options,
            human,
            dist,
            exchange.reply if exchange is not None else response_text(rec),
            error,
            exchange.prompt if exchange is not None else "",
        )


def _shown(rec: dict[str, Any], loc: str) -> list[str] | None:
    try:
        return shown_options(rec, loc)
    except DataError:
        return None


def model_cells(src: Sources, rows: list[EvalRow]) -> list[Cell]:
    """Every scored cell of the rows of one model on one dataset, worst first (ties in the CSV's order)."""
    out: list[Cell] = []
    views: dict[Path, ResultView | None] = {}
    for row in rows:
        path = _path(src, row)
        if path is None:
            continue
        if path not in views:
            none = no_steering(row.task)
            key = ResultKey(row.dataset, row.output_type, row.model, row.task,
                            NONE_GROUP if none else row.group, path.stem)  # fmt: skip
            try:
                views[path] = ResultView(src, key, path)
            except DataError:
                views[path] = None
        view = views[path]
        if view is not None:
            out += row_cells(src, row, view)
    return sorted(out, key=lambda c: -c.score)


def _path(src: Sources, row: EvalRow) -> Path | None:
    if no_steering(row.task):
        return src.files.get((row.dataset, row.output_type, row.model, row.task))
    return src.files.get((row.dataset, row.output_type, row.model, row.task, row.group, row.demographic))
