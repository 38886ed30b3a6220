"""Simulated reference rows: what a perfect sampler, a know-nothing and a one-hot answer score (docs/original.md §7.2).

Implements docs/original.md §7.2, §11.1.3 and §11.1.18 (rows with Model = ``simulated``).

Paper mode reproduces the original's four rows, computed from the GPT-3.5 sequence outputs and the expected
vectors of its evaluation (misaligned for OQA task0):

* ``ground_truth``: mean TV between 30 answers drawn from p* and p* (the discretisation floor of Seq); the
  original stops at the first question whose expected vector sums to 0 (kept, :func:`paper_simulated`);
* ``uniform``: 1/K on the K letters of the model file;
* ``LB1`` / ``LB2``: one-hot on the largest / smallest value of GPT-3.5's sequence output (ties: first).

Fixed mode computes every reference from the ground truth alone, over all evaluated cells
(:func:`truth_simulated`): the sampling floor (no early stop), uniform, ``true_mode`` (one-hot on the most
chosen option, the best any one-hot answer can do under TV) and ``true_least`` (one-hot on the least chosen
option), scored by the run's metric (TV by default, :data:`~distalign.metrics.METRICS`). All draws come from the
seeded generator passed in, and do not depend on the metric.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from distalign.metrics import DEFAULT_METRIC, METRICS, Metric, one_hot, tv_or_nan

N_DRAWS = 30  # answers per simulated sequence (the Seq method's length)
N_SIMULATIONS = 1000  # simulated sequences per question
PAPER_KINDS = ("ground_truth", "uniform", "LB1", "LB2")
FIXED_KINDS = ("ground_truth", "uniform", "true_mode", "true_least")
TV = METRICS[DEFAULT_METRIC]


def sampling_floor(
    q: Sequence[float],
    rng: np.random.Generator,
    n_draws: int = N_DRAWS,
    n_sim: int = N_SIMULATIONS,
    metric: Metric = TV,
) -> float:
    """Mean ``metric`` (TV) between the proportions of ``n_draws`` answers drawn from ``q`` and ``q`` itself.

    >>> sampling_floor([1.0, 0.0], np.random.default_rng(0))  # a certain answer is reproduced exactly
    0.0
    >>> round(sampling_floor([0.5, 0.5], np.random.default_rng(0), n_sim=20000), 2)  # E|Bin(30,½)/30 − ½|
    0.07
    """
    q_arr = np.asarray(q, dtype=float)
    total = q_arr.sum()
    if not total > 0:
        raise ValueError(f"cannot sample from a vector summing to {total}")
    draws = rng.multinomial(n_draws, q_arr / total, size=n_sim) / n_draws
    return float(metric.batch(draws, q_arr).mean())


def uniform_tv(q: Sequence[float], k: int | None = None) -> float:
    """TV of the uniform distribution over ``k`` options (default: ``len(q)``) to ``q``.

    >>> round(uniform_tv([0.5, 0.5, 0.0]), 6)  # ½(|⅓−½|·2 + ⅓)
    0.333333
    """
    k = len(q) if k is None else k
    return tv_or_nan([1.0 / k] * k, q)


def paper_simulated(
    cells: Sequence[tuple[Sequence[float], Sequence[float]]], rng: np.random.Generator
) -> dict[str, list[float]]:
    """The original's four references for one demographic's file: cells are (GPT-3.5 Seq vector, expected).

    Length mismatches give NaN (dropped later); the ground-truth loop stops at the first expected vector
    that sums to 0, as the original's ``break`` does.

    >>> out = paper_simulated([([0.2, 0.8], [1.0, 0.0]), ([0.5, 0.5], [0.0, 0.0]), ([1.0, 0.0], [0.0, 1.0])],
    ...                       np.random.default_rng(0))
    >>> out["ground_truth"], out["uniform"], out["LB1"], out["LB2"]
    ([0.0], [0.5, 0.5, 0.5], [1.0, 0.5, 1.0], [0.0, 0.5, 0.0])
    """
    out: dict[str, list[float]] = {kind: [] for kind in PAPER_KINDS}
    stopped = False
    for pred, expected in cells:
        k = len(pred)
        out["uniform"].append(uniform_tv(expected, k))
        out["LB1"].append(tv_or_nan(one_hot(k, int(np.argmax(pred))), expected))
        out["LB2"].append(tv_or_nan(one_hot(k, int(np.argmin(pred))), expected))
        stopped = stopped or not sum(expected) > 0
        if not stopped:
            ok = len(expected) == k
            out["ground_truth"].append(sampling_floor(expected, rng) if ok else float("nan"))
    return out


def truth_simulated(
    truths: Sequence[Sequence[float]], rng: np.random.Generator, metric: Metric = TV
) -> dict[str, list[float]]:
    """The fixed-mode references, from the ground-truth distributions alone, scored by ``metric``.

    >>> out = truth_simulated([[0.75, 0.25]], np.random.default_rng(0))
    >>> out["uniform"], out["true_mode"], out["true_least"]
    ([0.25], [0.25], [0.75])
    >>> out = truth_simulated([[0.0, 0.0, 1.0]], np.random.default_rng(0), METRICS["wasserstein"])
    >>> out["ground_truth"], out["true_mode"], out["true_least"]  # least chosen: the first of the tied zeros
    ([0.0], [0.0], [1.0])
    """
    out: dict[str, list[float]] = {kind: [] for kind in FIXED_KINDS}
    for q in truths:
        k = len(q)
        out["ground_truth"].append(sampling_floor(q, rng, metric=metric))
        out["uniform"].append(metric.fn([1.0 / k] * k, q))
        out["true_mode"].append(metric.fn(one_hot(k, int(np.argmax(q))), q))
        out["true_least"].append(metric.fn(one_hot(k, int(np.argmin(q))), q))
    return out
