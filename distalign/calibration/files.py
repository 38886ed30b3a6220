"""Temperature scaling over result files: pools, rescaled records and files, the fits CSV (docs/original.md §6).

A pool is one (model, dataset, steering task) of ``model_logprobs`` results, every evaluated demographic
together; its rows are fitted by :mod:`distalign.calibration.fit` and its files rewritten, rescaled, into
``rescaled_model_logprobs`` (paper mode) or ``rescaled_model_logprobs_cv`` (fixed mode).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

import numpy as np

from distalign.calibration.fit import MODES, Fit, Rows, fit_pool, rescale
from distalign.datasets import DATASETS, NONE_GROUP, load_dataset
from distalign.files import atomic_open
from distalign.names import RESCALED, task_dirs
from distalign.results import ResultKey, read_results, result_path, write_results

SOURCE = "model_logprobs"
# Output folder per mode: the paper's transductive fit keeps the original name (and reproduces the released
# files); the cross-fitted one gets its own, so neither overwrites the other or the released data.
TARGETS = RESCALED
PAPER_TASK0_TRUTH = "expected_results_POLPARTY_Democrat"  # the original's task0 reference, for every demographic


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
            out.update(
                avg_actual_results=None,
                parse_ok=False,
                parse_error="all-zero log-prob vector: rescaling is undefined (0/0), as in the original",
            )
        else:
            out["avg_actual_results"] = dict(zip(avg, (float(x) for x in scaled), strict=True))
    if mode == "fixed":
        out["temperature"] = temperature
    return out


def logprob_models(results_dir: Path | str, datasets: Iterable[str] | None = None) -> list[str]:
    """Every model folder that holds ``model_logprobs`` results in one of ``datasets`` (default: all registered)."""
    found = {p.name for d in (datasets or DATASETS) for p in (Path(results_dir) / d / SOURCE).glob("*") if p.is_dir()}
    return sorted(found)


def logprob_tasks(results_dir: Path | str, dataset: str, model: str) -> list[str]:
    """The task folders (``task0``, ``task1``, ``task3_easy_hard``, ...) of a model's ``model_logprobs``."""
    base = Path(results_dir) / dataset / SOURCE / model
    return [t for t in task_dirs() if (base / t).is_dir()]


def pool_files(
    results_dir: Path | str, pool: tuple[str, str, str], demographics: Sequence[tuple[str, str]], mode: str
) -> list[tuple[Path, ResultKey, str]]:
    """(path, key, truth field) of each existing file of a (model, dataset, task) pool, one per demographic.

    task0 has a single no-steering file, listed once per demographic (docs/original.md §6): against the Democrat
    truth in paper mode, against the demographic's own stored truth in fixed mode.
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


def write_pool(
    files: Sequence[tuple[Path, ResultKey, str]],
    temps: dict[str, float],
    default: float,
    out_dir: Path | str,
    mode: str,
) -> int:
    """Write the rescaled copy of each distinct file of a pool; returns the number of files written."""
    targets = target_paths(files, out_dir, mode)
    for path, target in targets.items():
        records = read_results(path)
        rescaled = {qid: rescale_record(rec, temps.get(qid, default), mode) for qid, rec in records.items()}
        write_results(target, rescaled)
    return len(targets)


def calibrate(
    results_dir: Path | str,
    out_dir: Path | str | None = None,
    data_dir: Path | str = ".",
    models: Sequence[str] | None = None,
    datasets: Sequence[str] | None = None,
    mode: str = "fixed",
    folds: int = 5,
    seed: int = 0,
    overwrite: bool = False,
) -> list[Fit]:
    """Fit and write rescaled log-probs for every (model, dataset, task) pool; write the fits CSV.

    Paper mode writes ``rescaled_model_logprobs`` and keeps pools whose rescaled files all exist already (the
    released ones, which it reproduces) unless ``overwrite``; fixed mode writes ``rescaled_model_logprobs_cv``.

    Args:
        results_dir: where ``model_logprobs`` results are read.
        out_dir: where ``rescaled_model_logprobs`` and the CSV ``temperature_scaling_<mode>.csv`` go
            (default ``results_dir``).
        data_dir: the data root (it names each dataset's evaluated demographics).
        models: model folders (default: every one with ``model_logprobs`` results).
        datasets: dataset keys (default: every registered dataset, :data:`distalign.datasets.DATASETS`).
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
    pools = _pools(results_dir, data_dir, models, list(datasets or DATASETS), mode)
    return _fit_and_write(pools, out_dir, mode, folds, seed, overwrite)


def _pools(
    results_dir: Path | str, data_dir: Path | str, models: Sequence[str] | None, datasets: Sequence[str], mode: str
) -> Iterator[tuple[tuple[str, str, str], list[tuple[Path, ResultKey, str]]]]:
    """Every (model, dataset, task) pool with ``model_logprobs`` results, model by model, with its files."""
    demographics: dict[str, list[tuple[str, str]]] = {}  # loaded for the datasets that have log-prob results
    for model in models if models is not None else logprob_models(results_dir, datasets):
        for dataset in datasets:
            for task in logprob_tasks(results_dir, dataset, model):
                if dataset not in demographics:
                    demographics[dataset] = load_dataset(dataset, data_dir).demographics()
                pool = (model, dataset, task)
                yield pool, pool_files(results_dir, pool, demographics[dataset], mode)


def _fit_and_write(
    pools: Iterable[tuple[tuple[str, str, str], list[tuple[Path, ResultKey, str]]]],
    out_dir: Path,
    mode: str,
    folds: int,
    seed: int,
    overwrite: bool,
) -> list[Fit]:
    """Fit each pool and write its rescaled files (paper mode keeps the pools written already), then the fits CSV."""
    fits: list[Fit] = []
    for pool, files in pools:
        rows = pool_rows(files)
        if not rows.qids or _kept(files, out_dir, mode, overwrite):
            continue
        pool_fits, temps = fit_pool(rows, mode, folds, seed, pool)
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
