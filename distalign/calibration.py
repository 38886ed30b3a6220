"""Temperature scaling of log-prob outputs: ``model_logprobs`` -> ``rescaled_model_logprobs`` (SPEC §6, issue #6).

A model's letter probabilities p are sharpened or flattened by one temperature T: the scaled vector is
p^(1/T) renormalised (a softmax of log p / T over the letters; letters with p = 0 stay 0). T is chosen to
minimise the summed total variation ½·Σ|scaled − truth| over a pool of (question, demographic) rows: one
pool per (model, dataset, steering task), holding every evaluated demographic.

Two modes:

* ``paper`` reproduces the original fit, artefacts included (SPEC §11.1.7): SciPy's bounded Brent search over
  T ∈ (0, 10] on the scored data itself; an all-zero row makes the objective NaN, and the search then returns
  its first probe 3.8197; task0 reads the single no-steering file once per demographic, always against
  ``expected_results_POLPARTY_Democrat``. All-zero rows cannot be rescaled (0/0): they are written with
  ``avg_actual_results: null`` and ``parse_ok: false``, so the evaluation drops them as the original did.
* ``fixed`` excludes all-zero rows from the fit (and counts them), searches log T ∈ [log 0.05, log 100] (a grid,
  then bounded Brent around the best grid point; a flat objective keeps T = 1), and cross-fits: questions are
  split into folds by a seeded Generator, and each question's T is fitted on the other folds, so the score is
  not an oracle. task0 rows pair the no-steering output with each demographic's own stored truth (pairs with a
  different option count are skipped). Every written record carries its ``temperature``.

Tested in ``tests/test_calibration.py``; the CLI is ``temperature_scaling.py``.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import minimize_scalar

from distalign.datasets import NONE_GROUP, load_dataset
from distalign.files import atomic_open
from distalign.names import DATASETS, TASK_DIRS
from distalign.results import ResultKey, read_results, result_path, write_results

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


def row_tv(pred: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Total variation ½·Σ|pred − truth| of each row.

    >>> row_tv(np.array([[0.5, 0.5], [1.0, 0.0]]), np.array([[1.0, 0.0], [1.0, 0.0]])).tolist()
    [0.5, 0.0]
    """
    return 0.5 * np.sum(np.abs(pred - truth), axis=-1)


def summed_tv(temperature: float, p: np.ndarray, q: np.ndarray, paper: bool = False) -> float:
    """The fitting objective: Σ_rows TV(rescale(p, T), q) (NaN if a paper-mode row is all zero)."""
    return float(np.sum(row_tv(rescale(p, temperature, paper), q)))


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


def fit_pool(rows: Rows, mode: str, folds: int, seed: int,
             where: tuple[str, str, str]) -> tuple[list[Fit], dict[str, float]]:
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
    tvs = [row_tv(rescale(rows.p[i], row_t[i]), rows.q[i]) for i in np.flatnonzero(keep)]
    cross = float(np.mean(tvs)) if tvs else math.nan
    return [replace(pooled, heldout_tv=cross), *fits], temps


def _fit(rows: Rows, paper: bool, where: tuple[str, str, str], fold: str) -> Fit:
    t = fit_paper(rows.p, rows.q) if paper else fit_fixed(rows.p, rows.q)
    excluded = 0 if paper else rows.all_zero
    return Fit(*where, fold=fold, temperature=t, n_rows=len(rows.qids) - excluded, n_excluded=excluded,
               n_all_zero=rows.all_zero, objective=_mean_tv(rows, t, paper))


def rescale_record(rec: dict[str, Any], temperature: float, mode: str) -> dict[str, Any]:
    """A copy of a ``model_logprobs`` record with ``avg_actual_results`` rescaled (other fields kept).

    >>> rescale_record({"avg_actual_results": {"A": 0.8, "B": 0.2}, "response": ["A"]}, 0.5, "fixed")
    {'avg_actual_results': {'A': 0.9411764705882353, 'B': 0.058823529411764705}, 'response': ['A'], 'temperature': 0.5}
    >>> rescale_record({"avg_actual_results": {"A": 0.0}}, 2.0, "paper")["avg_actual_results"] is None
    True
    """
    out = dict(rec)
    avg = rec.get("avg_actual_results")
    if avg:
        scaled = rescale(np.array([float(v) for v in avg.values()]), temperature, paper=mode == "paper")
        if np.isnan(scaled).any():
            out.update(avg_actual_results=None, parse_ok=False,
                       parse_error="all-zero log-prob vector: rescaling is undefined (0/0), as in the original")
        else:
            out["avg_actual_results"] = dict(zip(avg, (float(x) for x in scaled), strict=True))
    if mode == "fixed":
        out["temperature"] = temperature
    return out


# ---- result files -----------------------------------------------------------------------------------------
SOURCE = "model_logprobs"
# Output folder per mode: the paper's transductive fit keeps the original name (and reproduces the released
# files); the cross-fitted one gets its own, so neither overwrites the other or the released data.
TARGETS = {"paper": "rescaled_model_logprobs", "fixed": "rescaled_model_logprobs_cv"}
PAPER_TASK0_TRUTH = "expected_results_POLPARTY_Democrat"  # the original's task0 reference, for every demographic


def logprob_models(results_dir: Path | str, datasets: Iterable[str] = DATASETS) -> list[str]:
    """Every model folder that holds ``model_logprobs`` results in one of ``datasets``."""
    found = {p.name for d in datasets for p in (Path(results_dir) / d / SOURCE).glob("*") if p.is_dir()}
    return sorted(found)


def logprob_tasks(results_dir: Path | str, dataset: str, model: str) -> list[str]:
    """The task folders (``task0``, ``task1``, ``task3_easy_hard``, ...) of a model's ``model_logprobs``."""
    base = Path(results_dir) / dataset / SOURCE / model
    return [t for t in TASK_DIRS if (base / t).is_dir()]


def pool_files(results_dir: Path | str, pool: tuple[str, str, str], demographics: Sequence[tuple[str, str]],
               mode: str) -> list[tuple[Path, ResultKey, str]]:
    """(path, key, truth field) of each existing file of a (model, dataset, task) pool, one per demographic.

    task0 has a single no-steering file, listed once per demographic (SPEC §6): against the Democrat truth in
    paper mode, against the demographic's own stored truth in fixed mode.
    """
    model, dataset, task = pool
    out = []
    for group, dem in demographics:
        if task == "task0":
            key = ResultKey(dataset, SOURCE, model, task, NONE_GROUP, "Democrat")
            truth = PAPER_TASK0_TRUTH if mode == "paper" else f"expected_results_{group}_{dem}"
        else:
            key, truth = ResultKey(dataset, SOURCE, model, task, group, dem), "expected_results"
        path = result_path(results_dir, key)
        if path.exists():
            out.append((path, key, truth))
    return out


def pool_rows(files: Sequence[tuple[Path, ResultKey, str]]) -> Rows:
    """The fitting rows of a pool: records with a model vector and a truth of the same length."""
    rows = []
    for path, _, truth_field in files:
        for qid, rec in read_results(path).items():
            avg, truth = rec.get("avg_actual_results"), rec.get(truth_field)
            if not avg or not truth or len(avg) != len(truth) or None in avg.values():
                continue
            rows.append((qid, [float(v) for v in avg.values()], [float(v) for v in truth.values()]))
    return Rows.build(rows)


def target_paths(files: Sequence[tuple[Path, ResultKey, str]], out_dir: Path | str, mode: str) -> dict[Path, Path]:
    """Source file -> rescaled file, for each distinct file of a pool."""
    return {path: result_path(out_dir, replace(key, output_type=TARGETS[mode])) for path, key, _ in files}


def write_pool(files: Sequence[tuple[Path, ResultKey, str]], temps: dict[str, float], default: float,
               out_dir: Path | str, mode: str) -> int:
    """Write the rescaled copy of each distinct file of a pool; returns the number of files written."""
    targets = target_paths(files, out_dir, mode)
    for path, target in targets.items():
        records = read_results(path)
        rescaled = {qid: rescale_record(rec, temps.get(qid, default), mode) for qid, rec in records.items()}
        write_results(target, rescaled)
    return len(targets)


def calibrate(results_dir: Path | str, out_dir: Path | str | None = None, data_dir: Path | str = ".",
              models: Sequence[str] | None = None, datasets: Sequence[str] = DATASETS, mode: str = "fixed",
              folds: int = 5, seed: int = 0, overwrite: bool = False) -> list[Fit]:
    """Fit and write rescaled log-probs for every (model, dataset, task) pool; write the fits CSV.

    Paper mode writes ``rescaled_model_logprobs`` and keeps pools whose rescaled files all exist already
    (the released ones, which it reproduces) unless ``overwrite``; fixed mode writes
    ``rescaled_model_logprobs_cv`` and always refits.

    Args:
        results_dir: where ``model_logprobs`` results are read.
        out_dir: where ``rescaled_model_logprobs`` and the CSV ``temperature_scaling_<mode>.csv`` go
            (default ``results_dir``).
        data_dir: the data root (it names each dataset's evaluated demographics).
        models: model folders (default: every one with ``model_logprobs`` results).
        datasets: dataset keys.
        mode: ``paper`` or ``fixed``.
        folds: cross-fitting folds (fixed mode; ``1`` fits on all questions).
        seed: seed of the fold assignment.
        overwrite: paper mode: refit pools whose rescaled files exist.

    Returns:
        Every fit, pooled and per fold.
    """
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; valid: {list(MODES)}")
    out_dir = Path(out_dir if out_dir is not None else results_dir)
    fits: list[Fit] = []
    demographics = {d: load_dataset(d, data_dir).demographics() for d in datasets}
    for model in models if models is not None else logprob_models(results_dir, datasets):
        for dataset in datasets:
            for task in logprob_tasks(results_dir, dataset, model):
                files = pool_files(results_dir, (model, dataset, task), demographics[dataset], mode)
                rows = pool_rows(files)
                if not rows.qids or _kept(files, out_dir, mode, overwrite):
                    continue
                pool_fits, temps = fit_pool(rows, mode, folds, seed, (model, dataset, task))
                write_pool(files, temps, pool_fits[0].temperature, out_dir, mode)
                fits.extend(pool_fits)
    write_fits(out_dir / f"temperature_scaling_{mode}.csv", fits)
    return fits


def _kept(files: Sequence[tuple[Path, ResultKey, str]], out_dir: Path, mode: str, overwrite: bool) -> bool:
    """Whether a paper-mode pool is left as it is because all its rescaled files exist."""
    return mode == "paper" and not overwrite and all(t.exists() for t in target_paths(files, out_dir, mode).values())


def write_fits(path: Path | str, fits: Sequence[Fit]) -> None:
    """Atomically write the fits as CSV (one row per pool and fold)."""
    names = [f.name for f in fields(Fit)]
    with atomic_open(path, "w") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(names)
        for fit in fits:
            writer.writerow([_cell(getattr(fit, n)) for n in names])


def _cell(value: Any) -> Any:
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.6g}"
    return value
