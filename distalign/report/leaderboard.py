"""The leaderboard page (``index.html``): the headline and per-dataset × steering tables, references, K2S, figures.

Every number is a line of ``leaderboard_distrib_alignment.csv`` (the headline: persona + few-shot pooled, every
dataset weighted equally) or ``leaderboard_distrib_alignment_all.csv`` (per dataset × steering, OQA + NYT, human and
simulated lines) and ``k2s_gap.csv``: the page re-arranges them, it computes none (docs/original.md §7.5). One table
per view (dataset × steering); a switch shows one at a time, and every table sorts by any column. Reference lines
(human estimates, simulated baselines) sit among the models with the same score in every method column, so a sort
places them where they fall.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import pandas as pd

from distalign.datasets import DATASETS
from distalign.evaluation.markdown import REFERENCE_LABELS
from distalign.names import ALL_DATASETS, STEERING_LABELS, dataset_label, method_label, steering_of, task_dirs

POOLED = "task1_task3"
STEERING_ORDER = (POOLED, "task1", "task3_easy_hard", "task3_easy", "task2", "task0")
MISSING_SORT = "999"  # sorts cells without a score after every score (ascending: lower is better first)


@dataclass(frozen=True)
class Score:
    """One table cell: a leaderboard line's mean ± error, N, parse-failure rate and note."""

    mean: float | None = None
    error: float | None = None
    n: int = 0
    fail_rate: float | None = None
    note: str = ""

    @property
    def sort(self) -> str:
        """The value a column sort uses."""
        return MISSING_SORT if self.mean is None else f"{self.mean:.6f}"

    @property
    def warn(self) -> bool:
        """Whether the parse-failure rate is high enough (≥ 10 %) to flag the cell."""
        return self.fail_rate is not None and self.fail_rate >= 0.1


@dataclass
class Row:
    """One row of a view: a model, the human estimate, or a simulated reference."""

    label: str
    kind: str  # "model" | "human" | "reference"
    scores: dict[str, Score] = field(default_factory=dict)  # method label -> score
    k2s: float | None = None


@dataclass
class View:
    """One leaderboard table: a dataset (``three``, ``both`` or one) × a steering task (``task1_task3`` pooled)."""

    dataset: str
    task: str
    methods: list[str]
    rows: list[Row]
    k2s: bool = False

    @property
    def key(self) -> str:
        """The view's id in the page (``dataset|task``)."""
        return f"{self.dataset}|{self.task}"


def _num(value: object) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(str(value))


def score(line: pd.Series) -> Score:
    """The :class:`Score` of one leaderboard CSV line."""
    return Score(
        _num(line["Alignment Mean"]),
        _num(line["Alignment Error"]),
        int(_num(line["N"]) or 0),
        _num(line["parse_fail_rate"]),
        str(line["note"]),
    )


def reference(line: pd.Series) -> Score:
    """The :class:`Score` of a reference line (a reference has no parse failures to report)."""
    return replace(score(line), fail_rate=None)


def steering_label(task: str) -> str:
    """How a task folder is named on the page (a folder the pipeline does not write keeps its name beside the label).

    >>> steering_label("task1"), steering_label("task1_task3"), steering_label("task3_easy")
    ('persona', 'persona + few-shot', 'few-shot (easy)')
    >>> steering_label("task3_easy_hard_v1"), steering_label("other")
    ('few-shot (task3_easy_hard_v1)', 'other')
    """
    if task == POOLED:
        return "persona + few-shot"
    try:
        label = STEERING_LABELS[steering_of(task)]
    except ValueError:
        return task
    if task not in task_dirs():
        return f"{label} ({task})"
    return f"{label} (easy)" if task == "task3_easy" else label


def model_rows(lines: pd.DataFrame, methods: list[str], k2s: dict[str, float]) -> list[Row]:
    """One row per model of ``lines`` (leaderboard order), a score per method."""
    rows: dict[str, Row] = {}
    for _, line in lines[~lines["model"].isin(["", "human"])].iterrows():
        row = rows.setdefault(line["model"], Row(line["model"], "model", k2s=k2s.get(line["model"])))
        row.scores[method_label(line["output_type"])] = score(line)
    return list(rows.values())


def reference_rows(lines: pd.DataFrame, methods: list[str]) -> list[Row]:
    """Human and simulated lines as rows with the same score in every method column."""
    rows = []
    for _, line in lines[lines["Model Name"].isin(["human", "simulated"])].iterrows():
        human = line["Model Name"] == "human"
        label = (
            "Humans (annotators' estimates)" if human else REFERENCE_LABELS.get(line["Task Type"], line["Task Type"])
        )
        rows.append(Row(label, "human" if human else "reference", dict.fromkeys(methods, reference(line))))
    return rows


def methods_of(lines: pd.DataFrame) -> list[str]:
    """Method labels of the model lines, in the CSV's (leaderboard) order."""
    return list(dict.fromkeys(method_label(o) for o in lines.loc[~lines["model"].isin(["", "human"]), "output_type"]))


def headline_view(head: pd.DataFrame, k2s: pd.DataFrame | None) -> View:
    """The headline: every model × method over all datasets, persona + few-shot, with K2S and the references."""
    gaps = {} if k2s is None else {m: g for m, g in zip(k2s["Model Name"], k2s["K2S Mean"], strict=True)}
    methods = methods_of(head)
    gaps = {m: g for m, g in gaps.items() if _num(g) is not None}
    rows = model_rows(head, methods, gaps) + reference_rows(head, methods)
    return View(ALL_DATASETS, POOLED, methods, rows, k2s=bool(gaps))


def dataset_views(allb: pd.DataFrame) -> list[View]:
    """One view per (dataset, steering task) line group of the ``_all`` CSV, and the OQA + NYT pooled view."""
    methods, views = methods_of(allb), []
    simulated = allb[allb["Model Name"] == "simulated"]
    for (dataset, task), lines in allb[allb["Model Name"] != "simulated"].groupby(["Dataset", "Task Type"], sort=False):
        refs = simulated[simulated["Dataset"] == dataset]
        rows = model_rows(lines, methods, {}) + reference_rows(pd.concat([lines, refs]), methods)
        views.append(View(str(dataset), str(task), methods, rows))
    return views


def dataset_choices(views: list[View]) -> list[tuple[str, str]]:
    """(value, label) of the dataset switch: all three, OQA + NYT, then each dataset in registry order."""
    found = {v.dataset for v in views}
    order = [ALL_DATASETS, "both", *DATASETS, *sorted(found - {ALL_DATASETS, "both", *DATASETS})]
    return [(d, "all three datasets" if d == ALL_DATASETS else dataset_label(d)) for d in order if d in found]


def steering_choices(views: list[View]) -> list[tuple[str, str]]:
    """(value, label) of the steering switch, in :data:`STEERING_ORDER`, then unknown tasks by name."""
    found = {v.task for v in views}
    order = [t for t in STEERING_ORDER if t in found] + sorted(found - set(STEERING_ORDER))
    return [(t, steering_label(t)) for t in order]


@dataclass
class Matrix:
    """The per-dataset × steering table: one row per leaderboard line name, one column per (dataset, task)."""

    columns: list[tuple[str, str]]
    rows: list[Row]


def matrix(allb: pd.DataFrame) -> Matrix:
    """Every model × method, human and simulated line of the ``_all`` CSV, by (dataset, steering)."""
    lines = allb[allb["Model Name"] != "simulated"]
    columns = list(dict.fromkeys(zip(lines["Dataset"], lines["Task Type"], strict=True)))
    keys = [f"{d}|{t}" for d, t in columns]
    rows: dict[str, Row] = {}
    for _, line in lines.iterrows():
        human = line["Model Name"] == "human"
        row = rows.setdefault(line["Model Name"], Row(line["Model Name"], "human" if human else "model"))
        row.scores[f"{line['Dataset']}|{line['Task Type']}"] = reference(line) if human else score(line)
    for _, line in allb[allb["Model Name"] == "simulated"].iterrows():
        label = REFERENCE_LABELS.get(line["Task Type"], line["Task Type"])
        row = rows.setdefault(label, Row(label, "reference"))
        row.scores.update({k: reference(line) for k in keys if k.split("|")[0] == line["Dataset"]})
    return Matrix(columns, list(rows.values()))
