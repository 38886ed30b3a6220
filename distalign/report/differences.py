"""The pairwise page (``differences.html``): which differences between models are real, per headline method.

One model × model matrix per method from ``pairwise_differences.csv`` (:mod:`distalign.evaluation.pairwise`): the
cell in row A, column B is the difference in mean score A − B over the cells both models scored, with its paired
bootstrap 95% interval; the CSV holds each pair once (A before B in leaderboard order) and the page mirrors it
(B − A = −(A − B), interval negated). Cells whose interval excludes 0 are marked and coloured by which model is
better (for a lower-is-better metric such as TV, a negative difference means the row model is closer to humans).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from distalign.metrics import METRICS


@dataclass(frozen=True)
class Diff:
    """One matrix cell: the difference row − column, its interval, whether it excludes 0, which side is better."""

    value: float
    low: float
    high: float
    n: int
    significant: bool
    better: bool  # the row model is the better one
    note: str = ""

    @property
    def css(self) -> str:
        """The cell's class: ``sig-better``, ``sig-worse`` or ``same``."""
        if not self.significant:
            return "same"
        return "sig-better" if self.better else "sig-worse"


@dataclass
class Grid:
    """The matrix of one method."""

    method: str
    models: list[str]
    cells: dict[tuple[str, str], Diff]


def _flag(text: object) -> bool:
    return str(text).strip().lower() in ("true", "1")


def diff_cells(line: pd.Series, higher_is_better: bool) -> dict[tuple[str, str], Diff]:
    """Both cells of one CSV line: (A, B) as written and (B, A) mirrored."""
    a, b, sig = line["Model A"], line["Model B"], _flag(line["significant"])
    value, low, high, n = float(line["Difference"]), float(line["CI Low"]), float(line["CI High"]), int(line["N"])
    a_better = (value > 0) == higher_is_better
    note = str(line.get("note", ""))
    return {
        (a, b): Diff(value, low, high, n, sig, a_better, note),
        (b, a): Diff(-value, -high, -low, n, sig, not a_better, note),
    }


def grids(pairs: pd.DataFrame | None, model_order: list[str], metric: str = "tv") -> list[Grid]:
    """One :class:`Grid` per method of ``pairs``, models in ``model_order`` (then any others, sorted)."""
    if pairs is None or pairs.empty:
        return []
    higher = METRICS[metric].higher_is_better if metric in METRICS else False
    out = []
    for method, lines in pairs.groupby("method", sort=False):
        cells: dict[tuple[str, str], Diff] = {}
        for _, line in lines.iterrows():
            cells.update(diff_cells(line, higher))
        found = {m for pair in cells for m in pair}
        models = [m for m in model_order if m in found] + sorted(found - set(model_order))
        out.append(Grid(str(method), models, cells))
    return out
