"""Seeded, vectorized percentile bootstrap of dataset-weighted mean TVs (SPEC §7.4, §11.1.17; issue #3).

The statistic of one leaderboard row is Σ_d w_d · mean(pool_d): each dataset's pool of per-question TVs is
resampled with replacement at its own size, and the datasets are combined with fixed weights (⅓ each for
the three-dataset headline, ½ OQA + ½ NYT for "both", 1 for a single dataset). The reported mean is the
mean of the bootstrap statistics and the error the half-width of the 2.5–97.5 percentile interval, as in
the original.

Randomness: each (row key, dataset) pair draws from its own child generator,
``SeedSequence(seed, spawn_key=sha256(row key | dataset))``. A row's interval therefore depends only on the
seed and its own key and data: adding a model or a dataset elsewhere never changes other rows' numbers,
and two runs with the same seed give identical bytes. All resamples of a pool are drawn in one call
(``integers(0, n, size=(B, n))``) and averaged with one matrix operation; :func:`bootstrap_loop` is the
plain per-resample loop over the same draws, kept as the reference for tests and the benchmark.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from distalign.metrics import FloatArray

N_RESAMPLES = 1000


@dataclass(frozen=True)
class Estimate:
    """A bootstrapped score.

    Attributes:
        mean: mean of the bootstrap statistics (the original's ``Alignment Mean``).
        error: half-width of the 2.5–97.5 percentile interval (``Alignment Error``).
        point: the plain weighted mean of the pools (no resampling).
        n: total pool size (questions × demographics pooled over datasets).
    """

    mean: float
    error: float
    point: float
    n: int


def child_rng(seed: int, key: str) -> np.random.Generator:
    """The generator of one (row, dataset) key: a child of ``seed`` keyed by a hash of ``key``.

    >>> a, b = child_rng(0, "gpt-4 (V)|opinionqa"), child_rng(0, "gpt-4 (V)|opinionqa")
    >>> a.integers(0, 100, 3).tolist() == b.integers(0, 100, 3).tolist()
    True
    """
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    words = [int.from_bytes(digest[i : i + 4], "little") for i in range(0, 16, 4)]
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=words))


def _checked(pools: Mapping[str, FloatArray], weights: Mapping[str, float]) -> dict[str, FloatArray]:
    if not pools:
        raise ValueError("nothing to bootstrap: no pools")
    if set(pools) != set(weights):
        raise ValueError(f"pools {sorted(pools)} and weights {sorted(weights)} name different datasets")
    out = {name: np.asarray(x, dtype=float) for name, x in pools.items()}
    for name, x in out.items():
        if x.ndim != 1 or x.size == 0 or not np.all(np.isfinite(x)):
            raise ValueError(f"pool {name!r} must be a non-empty 1-D array of finite values")
    return out


def summarize(stats: FloatArray, pools: Mapping[str, FloatArray], weights: Mapping[str, float]) -> Estimate:
    """Mean and percentile half-width of the bootstrap statistics ``stats``.

    >>> e = summarize(np.array([0.1, 0.2, 0.3]), {"a": np.array([0.2])}, {"a": 1.0})
    >>> round(e.mean, 6), round(e.error, 6), e.point, e.n
    (0.2, 0.095, 0.2, 1)
    """
    lo, hi = np.percentile(stats, [2.5, 97.5])
    point = float(sum(weights[k] * float(np.mean(x)) for k, x in pools.items()))
    return Estimate(float(np.mean(stats)), float((hi - lo) / 2), point, int(sum(len(x) for x in pools.values())))


def bootstrap(
    pools: Mapping[str, FloatArray], weights: Mapping[str, float], n_resamples: int, seed: int, key: str
) -> Estimate:
    """Vectorized bootstrap of Σ_d w_d·mean(resampled pool_d).

    Args:
        pools: dataset -> per-question TVs.
        weights: dataset -> weight (same keys as ``pools``).
        n_resamples: number of bootstrap resamples B.
        seed: the run's seed.
        key: the row's identity (e.g. ``"leaderboard|gpt-4 (V)|three|task1_task3"``).

    >>> e = bootstrap({"a": np.array([0.0, 1.0])}, {"a": 1.0}, 2000, 0, "k")
    >>> round(e.mean, 1), e.point, e.n
    (0.5, 0.5, 2)
    """
    data = _checked(pools, weights)
    stats = np.zeros(n_resamples)
    for name, x in data.items():
        idx = child_rng(seed, f"{key}|{name}").integers(0, x.size, size=(n_resamples, x.size))
        stats += weights[name] * x[idx].mean(axis=1)
    return summarize(stats, data, weights)


def bootstrap_loop(
    pools: Mapping[str, FloatArray], weights: Mapping[str, float], n_resamples: int, seed: int, key: str
) -> Estimate:
    """The same bootstrap as :func:`bootstrap`, one resample at a time (reference and benchmark baseline)."""
    data = _checked(pools, weights)
    stats = np.zeros(n_resamples)
    for name, x in data.items():
        rng = child_rng(seed, f"{key}|{name}")
        for b in range(n_resamples):
            stats[b] += weights[name] * x[rng.integers(0, x.size, size=x.size)].mean()
    return summarize(stats, data, weights)
