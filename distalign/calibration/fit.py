"""Temperature-scaling fits (pure): the transform, the summed-TV objective, the two fits, cross-fitting.

Mirrors docs/original.md §6.

``paper`` reproduces the original bounded Brent search over T ∈ (0, 10], NaN objective included
(docs/original.md §11.1.7); ``fixed`` drops all-zero rows, searches log T on a grid then refines, and cross-fits
over seeded question folds. Nothing here reads or writes files: see :mod:`distalign.calibration.files`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

import numpy as np
from scipy.optimize import minimize_scalar

from distalign.metrics import tv_batch

MODES = ("paper", "fixed")
PAPER_BOUNDS = (0.0, 10.0)  # the original search interval of T
FIXED_BOUNDS = (0.05, 100.0)  # fixed mode: interval of T, searched in log space
GRID_POINTS = 61
ALL_FOLDS = "all"  # the ``fold`` value of a fit on every row


# ---- the transform and the objective (pure) -------------------------------------------------------------
def rescale(p: np.ndarray, temperature: float, paper: bool = False) -> np.ndarray:
    """Scale rows of letter probabilities by ``temperature``: p^(1/T) renormalised per row.

    Zeros stay zero. An all-zero row becomes NaN with ``paper=True`` (0/0, as the original) and stays zero
    otherwise. Works on one vector or a matrix of rows (zero padding is harmless).

    >>> rescale(np.array([0.8, 0.2]), 0.5).round(4).tolist()
    [0.9412, 0.0588]
    >>> rescale(np.array([[0.5, 0.0], [0.0, 0.0]]), 2.0).tolist()
    [[1.0, 0.0], [0.0, 0.0]]
    >>> bool(np.isnan(rescale(np.zeros(3), 2.0, paper=True)).all())
    True
    """
    p = np.asarray(p, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        logits = np.log(p) / temperature
        top = np.max(logits, axis=-1, keepdims=True)
        z = np.exp(logits - top)
        out = z / np.sum(z, axis=-1, keepdims=True)
    if not paper:
        out = np.where(np.all(p <= 0, axis=-1, keepdims=True), 0.0, out)
    return out


def summed_tv(temperature: float, p: np.ndarray, q: np.ndarray, paper: bool = False) -> float:
    """The fitting objective: Σ_rows TV(rescale(p, T), q) (NaN if a paper-mode row is all zero)."""
    return float(np.sum(tv_batch(rescale(p, temperature, paper), q)))


def fit_paper(p: np.ndarray, q: np.ndarray) -> float:
    """The original fit: bounded Brent on summed TV over T ∈ (0, 10], NaN objective included.

    >>> round(fit_paper(np.array([[0.5, 0.5], [0.0, 0.0]]), np.array([[1.0, 0.0], [0.5, 0.5]])), 4)
    3.8197
    """
    with np.errstate(invalid="ignore"):
        res = minimize_scalar(summed_tv, bounds=PAPER_BOUNDS, method="bounded", args=(p, q, True))
    return float(res.x)


def fit_fixed(p: np.ndarray, q: np.ndarray, bounds: tuple[float, float] = FIXED_BOUNDS) -> float:
    """NaN-safe fit: all-zero rows dropped, a log-spaced grid, then bounded Brent on log T around the best point.

    A flat objective (e.g. only one-hot rows, which no temperature changes) gives T = 1; ties between grid points
    go to the one nearest T = 1.
    """
    keep = np.any(p > 0, axis=-1)
    p, q = p[keep], q[keep]
    if len(p) == 0:
        return 1.0
    grid = np.linspace(math.log(bounds[0]), math.log(bounds[1]), GRID_POINTS)
    values = np.array([summed_tv(math.exp(u), p, q) for u in grid])
    near_best = np.flatnonzero(values <= values.min() + 1e-12)
    i = int(near_best[np.argmin(np.abs(grid[near_best]))])
    if np.ptp(values) <= 1e-12:
        return 1.0
    lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, len(grid) - 1)]
    res = minimize_scalar(lambda u: summed_tv(math.exp(u), p, q), bounds=(lo, hi), method="bounded")
    best = float(res.x) if res.fun <= values[i] else float(grid[i])
    return float(math.exp(best))


# ---- rows, folds and the fit of one pool ------------------------------------------------------------------
@dataclass(frozen=True)
class Rows:
    """A fitting pool: one row per (question, demographic), probability vectors zero-padded to equal length."""

    qids: tuple[str, ...]
    p: np.ndarray
    q: np.ndarray

    @classmethod
    def build(cls, rows: Sequence[tuple[str, Sequence[float], Sequence[float]]]) -> Rows:
        """From ``(qid, model vector, truth vector)`` triples (vectors of one row have equal length)."""
        width = max((len(r[1]) for r in rows), default=1)
        p, q = np.zeros((len(rows), width)), np.zeros((len(rows), width))
        for i, (_, pv, qv) in enumerate(rows):
            p[i, : len(pv)], q[i, : len(qv)] = pv, qv
        return cls(tuple(r[0] for r in rows), p, q)

    def select(self, mask: np.ndarray) -> Rows:
        """The rows where ``mask`` holds."""
        return Rows(tuple(np.asarray(self.qids, dtype=object)[mask]), self.p[mask], self.q[mask])

    @property
    def all_zero(self) -> int:
        """Number of rows whose model vector is all zero."""
        return int(np.sum(~np.any(self.p > 0, axis=-1)))


@dataclass(frozen=True)
class Fit:
    """One fitted temperature (a row of ``temperature_scaling_<mode>.csv``).

    ``objective`` is the mean TV of the fitting rows at ``temperature`` (NaN when the paper objective is NaN).
    ``heldout_tv`` is, for a fold, the mean TV of its own (held-out) questions at its temperature and, for the
    pooled row of a cross-fitted pool, the mean TV of every row at its fold's temperature (the honest score).
    """

    model: str
    dataset: str
    task: str
    fold: str
    temperature: float
    n_rows: int
    n_excluded: int
    objective: float
    n_all_zero: int
    heldout_tv: float = math.nan


def assign_folds(qids: Iterable[str], folds: int, seed: int) -> dict[str, int]:
    """Fold of each distinct question id: a seeded permutation of the sorted ids, dealt round-robin.

    >>> f = assign_folds(["a", "b", "c", "d", "a"], 2, seed=0)
    >>> sorted(f), sorted(f.values())
    (['a', 'b', 'c', 'd'], [0, 0, 1, 1])
    """
    unique = sorted(set(qids))
    order = np.random.default_rng(seed).permutation(len(unique))
    return {unique[j]: int(pos % max(folds, 1)) for pos, j in enumerate(order)}


def _mean_tv(rows: Rows, temperature: float, paper: bool) -> float:
    keep = np.ones(len(rows.qids), bool) if paper else np.any(rows.p > 0, axis=-1)
    if not keep.any():
        return math.nan
    return summed_tv(temperature, rows.p[keep], rows.q[keep], paper) / int(keep.sum())


def fit_pool(
    rows: Rows, mode: str, folds: int, seed: int, where: tuple[str, str, str]
) -> tuple[list[Fit], dict[str, float]]:
    """Fit one pool. Returns the fits (pooled first, then folds) and each question's temperature.

    Paper mode and ``folds <= 1`` give one pooled (transductive) temperature for every question.
    """
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; valid: {list(MODES)}")
    paper = mode == "paper"
    pooled = _fit(rows, paper, where, ALL_FOLDS)
    fold_of = assign_folds(rows.qids, folds, seed)
    if paper or folds <= 1 or len(fold_of) < 2:
        return [pooled], dict.fromkeys(fold_of, pooled.temperature)
    fits, temps = [], {}
    fold_index = np.array([fold_of[qid] for qid in rows.qids])
    for k in sorted(set(fold_of.values())):
        fit = _fit(rows.select(fold_index != k), paper, where, str(k))
        held = rows.select(fold_index == k)
        fits.append(replace(fit, heldout_tv=_mean_tv(held, fit.temperature, paper)))
        temps.update(dict.fromkeys(held.qids, fit.temperature))
    row_t = np.array([temps[qid] for qid in rows.qids])
    keep = np.any(rows.p > 0, axis=-1)
    tvs = [tv_batch(rescale(rows.p[i], row_t[i]), rows.q[i]) for i in np.flatnonzero(keep)]
    cross = float(np.mean(tvs)) if tvs else math.nan
    return [replace(pooled, heldout_tv=cross), *fits], temps


def _fit(rows: Rows, paper: bool, where: tuple[str, str, str], fold: str) -> Fit:
    t = fit_paper(rows.p, rows.q) if paper else fit_fixed(rows.p, rows.q)
    excluded = 0 if paper else rows.all_zero
    return Fit(
        *where,
        fold=fold,
        temperature=t,
        n_rows=len(rows.qids) - excluded,
        n_excluded=excluded,
        n_all_zero=rows.all_zero,
        objective=_mean_tv(rows, t, paper),
    )
