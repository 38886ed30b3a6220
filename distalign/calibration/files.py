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
from distalign.files import DataError, atomic_open, safe_component
from distalign.names import RESCALED, task_dirs
from distalign.results import ResultKey, read_results, result_path, write_results

SOURCE = "model_logprobs"
# Output folder per mode: the paper's transductive fit keeps the original name (and reproduces the released
# files); the cross-fitted one gets its own, so neither overwrites the other or the released data.
TARGETS = RESCALED
PAPER_TASK0_TRUTH = "expected_results_POLPARTY_Democrat"  # the original's task0 reference, for every demographic
TOLERANCE = 1e-6  # how far rounding may leave a stored probability outside [0, 1]


class NothingFitted(DataError):
    """No pool had anything to fit; the fits CSV is left as it was (the CLI exits 1 with this message)."""


def rescale_record(rec: dict[str, Any], temperature: float, mode: str) -> dict[str, Any]:
    """A copy of a ``model_logprobs`` record with ``avg_actual_results`` rescaled (other fields kept).

    A vector that is not a ``{letter: probability}`` object of finite non-negative numbers is written as a failure.

    >>> rescale_record({"avg_actual_results": {"A": 0.8, "B": 0.2}, "response": ["A"]}, 0.5, "fixed")
    {'avg_actual_results': {'A': 0.9411764705882353, 'B': 0.058823529411764705}, 'response': ['A'], 'temperature': 0.5}
    >>> rescale_record({"avg_actual_results": {"A": 0.0}}, 2.0, "paper")["avg_actual_results"] is None
    True
    >>> rescale_record({"avg_actual_results": [0.5, 0.5]}, 2.0, "fixed")["parse_error"]
    'malformed log-prob vector: not rescaled'
    """
    out = dict(rec)
    avg = rec.get("avg_actual_results")
    values = probabilities(avg) if avg else []
    if values is None:
        out.update(avg_actual_results=None, parse_ok=False, parse_error="malformed log-prob vector: not rescaled")
    elif values:
        scaled = rescale(np.array(values), temperature, paper=mode == "paper")
        if np.isnan(scaled).any():
            out.update(
                avg_actual_results=None,
                parse_ok=False,
                parse_error="all-zero log-prob vector: rescaling is undefined (0/0), as in the original",
            )
        else:
            out["avg_actual_results"] = dict(zip(avg or {}, (float(x) for x in scaled), strict=True))
    if mode == "fixed":
        out["temperature"] = temperature
    return out


def probabilities(field: Any) -> list[float] | None:
    """The values of a stored ``{letter: probability}`` object, or ``None`` unless all are numbers in [0, 1].

    Rounding may leave a stored probability just above 1 (the released GPT-4 log-probs hold 1.000000015): values
    within :data:`TOLERANCE` of the interval count as in it.

    >>> probabilities({"A": 0.25, "B": 0.75}), probabilities({"A": float("nan")}), probabilities(3)
    ([0.25, 0.75], None, None)
    """
    if not isinstance(field, dict) or not field:
        return None
    values = list(field.values())
    numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
    if not numbers or not all(-TOLERANCE <= v <= 1 + TOLERANCE for v in values):
        return None
    return [float(v) for v in values]


def logprob_models(results_dir: Path | str, datasets: Iterable[str] | None = None) -> list[str]:
    """Every model folder that holds ``model_logprobs`` results in one of ``datasets`` (default: all registered)."""
    folders = (p for d in (datasets or DATASETS) for p in (Path(results_dir) / d / SOURCE).glob("*"))
    found = {p.name for p in folders if p.is_dir() and not p.name.startswith((".", "_"))}
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
    """The fitting rows of a pool: records whose model vector and truth are probabilities of the same length.

    Records without them, or with malformed or out-of-range values (NaN, infinities, negatives), are left out.
    """
    rows = []
    for path, _, truth_field in files:
        for qid, rec in read_results(path).items():
            avg, truth = probabilities(rec.get("avg_actual_results")), probabilities(rec.get(truth_field))
            if avg is not None and truth is not None and len(avg) == len(truth):
                rows.append((qid, avg, truth))
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
        Every fit, pooled and per fold; none when paper mode kept every pool. With no pool or no row to fit,
        :class:`NothingFitted` is raised; in both cases the CSV is left as it was.
    """
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; valid: {list(MODES)}")
    out_dir, datasets = Path(out_dir if out_dir is not None else results_dir), list(datasets or DATASETS)
    _check_models(results_dir, models, datasets)
    pools = list(_pools(results_dir, data_dir, models, datasets, mode))
    if not pools:
        raise NothingFitted(f"no {SOURCE} results under {results_dir} ({', '.join(datasets)}): nothing to scale")
    return _fit_and_write(pools, out_dir, mode, folds, seed, overwrite)


def _check_models(results_dir: Path | str, models: Sequence[str] | None, datasets: Sequence[str]) -> None:
    """Refuse a model folder name that cannot be one, or that holds no ``model_logprobs`` results (a typo)."""
    found = logprob_models(results_dir, datasets)
    for model in models or ():
        safe_component(model, "model", "--models")
        if model not in found:
            raise ValueError(f"--models: no {SOURCE} results of {model!r} under {results_dir}; found: {found}")


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
    """Fit each pool and write its rescaled files, then the fits CSV (rows of kept pools carried over).

    Paper mode keeps the pools written already. When nothing was fitted the CSV is left as it was: a run that
    kept every pool returns no fit; a run that found no row to fit raises :class:`NothingFitted`.
    """
    fits: list[Fit] = []
    kept: list[tuple[str, str, str]] = []
    for pool, files in pools:
        if _kept(files, out_dir, mode, overwrite):
            kept.append(pool)
            continue
        rows = pool_rows(files)
        if rows.qids:
            pool_fits, temps = fit_pool(rows, mode, folds, seed, pool)
            write_pool(files, temps, pool_fits[0].temperature, out_dir, mode)
            fits.extend(pool_fits)
    path = out_dir / f"temperature_scaling_{mode}.csv"
    if not fits and not kept:
        raise NothingFitted(f"no record with a finite log-prob vector and truth to fit; {path} left as it was")
    if fits:
        write_fits(path, fits, carried=_previous_rows(path, kept))
    return fits


def _previous_rows(path: Path, pools: Sequence[tuple[str, str, str]]) -> list[list[str]]:
    """The rows of ``pools`` in an existing fits CSV (kept pools keep their temperatures in the new one)."""
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            table = list(csv.reader(fh))
    except (OSError, UnicodeDecodeError, csv.Error):
        return []
    wanted = set(pools)
    return [row for row in table[1:] if len(row) > 2 and (row[0], row[1], row[2]) in wanted]


def _kept(files: Sequence[tuple[Path, ResultKey, str]], out_dir: Path, mode: str, overwrite: bool) -> bool:
    """Whether a paper-mode pool is left as it is: each rescaled file exists and has its source's questions."""
    if mode != "paper" or overwrite:
        return False
    targets = target_paths(files, out_dir, mode)
    return all(t.is_file() and set(read_results(t)) == set(read_results(s)) for s, t in targets.items())


def write_fits(path: Path | str, fits: Sequence[Fit], carried: Sequence[Sequence[str]] = ()) -> None:
    """Atomically write the fits as CSV (one row per pool and fold), then the ``carried`` rows as they are."""
    names = [f.name for f in fields(Fit)]
    with atomic_open(path, "w") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(names)
        for fit in fits:
            writer.writerow([_cell(getattr(fit, n)) for n in names])
        writer.writerows(carried)


def _cell(value: Any) -> Any:
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.6g}"
    return value
