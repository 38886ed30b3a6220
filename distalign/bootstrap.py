"""Seeded, vectorized percentile bootstrap of dataset-weighted mean TVs (docs/original.md §7.4, §11.1.17).

The statistic of one leaderboard row is Σ_d w_d · mean(pool_d): each dataset's pool of per-question TVs is
resampled with replacement at its own size, and the datasets are combined with fixed weights (⅓ each for
the three-dataset headline, ½ OQA + ½ NYT for "both", 1 for a single dataset). The reported mean is the
mean of the bootstrap statistics and the error the half-width of the 2.5–97.5 percentile interval, as in
the original.

Randomness and pairing: the resampled cell positions of a pool of ``n`` cells of dataset ``d`` come from the
child generator ``SeedSequence(seed, spawn_key=sha256(key|d|n))``. The leaderboards use one key for every row,
so all scores of one dataset with the same number of cells are resampled at the same positions: a *paired*
bootstrap (differences between two models that were scored on the same cells are paired comparisons), and a
row's interval depends only on the seed and its own pools, so adding a model never changes other rows. Two runs
with the same seed give identical bytes.

Speed: the B resamples of one (dataset, n) are drawn as a B × n matrix of resample counts C (in blocks of rows,
so memory stays bounded for large pools); the statistics of all rows sharing it are one matrix product C·X/n
(:func:`bootstrap_many`).
The TVs enter the product in fixed point (integers times 2^-k, k ≤ 30, :func:`fixed_point`), so every resample
sum is exact in float64 whatever the summation order: a row's numbers are bit-identical whether it is computed
alone, in a batch of any width, or by :func:`bootstrap_loop`, which computes the same statistics from the same
draws one resample at a time (the reference for tests and the benchmark).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from distalign.metrics import FloatArray

N_RESAMPLES = 1000
BLOCK_CELLS = 1 << 21  # entries of one block of the resample-count matrix (16 MiB of float64)


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
    return _estimate(float(np.mean(stats)), float((hi - lo) / 2), pools, weights)


def _estimate(mean: float, error: float, pools: Mapping[str, FloatArray], weights: Mapping[str, float]) -> Estimate:
    point = float(sum(weights[k] * float(np.mean(x)) for k, x in pools.items()))
    return Estimate(mean, error, point, int(sum(len(x) for x in pools.values())))


def count_blocks(
    seed: int, key: str, n: int, n_resamples: int, block_cells: int | None = None
) -> Iterator[tuple[int, FloatArray]]:
    """:func:`resample_counts` in blocks of rows: (first resample, b × n counts) with b · n ≤ ``block_cells``.

    The blocks are drawn in order from the one generator of (seed, key, n), whose stream does not depend on how
    the draws are split (the per-resample loop relies on the same fact), so stacking the blocks gives exactly
    :func:`resample_counts`; memory stays O(``block_cells``) whatever the pool size.

    >>> blocks = list(count_blocks(0, "k|a", 5, 7, block_cells=10))
    >>> [(start, c.shape) for start, c in blocks]
    [(0, (2, 5)), (2, (2, 5)), (4, (2, 5)), (6, (1, 5))]
    >>> bool((np.vstack([c for _, c in blocks]) == resample_counts(0, "k|a", 5, 7)).all())
    True
    """
    rng = child_rng(seed, f"{key}|{n}")
    rows = max(1, (block_cells or BLOCK_CELLS) // n)
    for start in range(0, n_resamples, rows):
        b = min(rows, n_resamples - start)
        idx = rng.integers(0, n, size=(b, n))
        idx += (np.arange(b) * n)[:, None]  # resample r counts into bins r·n ... r·n + n − 1
        yield start, np.bincount(idx.ravel(), minlength=b * n).reshape(b, n).astype(float)


def resample_counts(seed: int, key: str, n: int, n_resamples: int) -> FloatArray:
    """B × n matrix: how often each of ``n`` cells is drawn in each of B resamples (rows sum to ``n``).

    >>> c = resample_counts(0, "k|opinionqa", 5, 3)
    >>> c.shape, c.sum(axis=1).tolist()
    ((3, 5), [5.0, 5.0, 5.0])
    """
    idx = child_rng(seed, f"{key}|{n}").integers(0, n, size=(n_resamples, n))
    idx += (np.arange(n_resamples) * n)[:, None]  # resample b counts into bins b·n ... b·n + n − 1
    return np.bincount(idx.ravel(), minlength=n_resamples * n).reshape(n_resamples, n).astype(float)


def fixed_point(x: FloatArray) -> tuple[FloatArray, float]:
    """``x`` as integers (stored as floats) and their scale 2^k, so that any sum of ``x.size`` of them is exact.

    k ≤ 30 (resolution 2^-30 ≈ 1e-9) and small enough that x.size · max|x| · 2^k < 2^52.

    >>> fixed_point(np.array([0.5, 0.25]))
    (array([5.36870912e+08, 2.68435456e+08]), 1073741824.0)
    """
    bound = x.size * max(1.0, float(np.abs(x).max()))
    scale = 2.0 ** min(30, 52 - int(np.ceil(np.log2(bound))))
    return np.round(x * scale), scale


Job = tuple[Mapping[str, FloatArray], Mapping[str, float]]  # (dataset -> TVs, dataset -> weight) of one score


def bootstrap_many(jobs: Sequence[Job], n_resamples: int, seed: int, key: str = "") -> list[Estimate]:
    """Vectorized bootstrap of many scores Σ_d w_d·mean(resampled pool_d) at once.

    All pools of one (dataset, size n) are stacked into an n × m matrix X and resampled together by the
    matrix product C·X/n with the B × n count matrix C of :func:`resample_counts`, computed in row blocks
    (:func:`count_blocks`) so that memory does not grow with B · n.

    Args:
        jobs: per score, (dataset -> per-question TVs, dataset -> weight) with the same keys.
        n_resamples: number of bootstrap resamples B.
        seed: the run's seed.
        key: draw key ("": the paired leaderboard bootstrap).

    >>> [round(e.point, 2) for e in bootstrap_many([({"a": np.array([0.2, 0.4])}, {"a": 1.0}),
    ...                                             ({"a": np.array([0.6, 0.8])}, {"a": 1.0})], 100, 0)]
    [0.3, 0.7]
    """
    data = [_checked(pools, weights) for pools, weights in jobs]
    stats = _stats(data, [weights for _, weights in jobs], n_resamples, seed, key)
    lo, hi = np.percentile(stats, [2.5, 97.5], axis=1)  # row by row, as summarize does, in one call
    means = np.mean(stats, axis=1)
    return [_estimate(float(means[j]), float((hi[j] - lo[j]) / 2), data[j], jobs[j][1]) for j in range(len(jobs))]


def bootstrap_stats(jobs: Sequence[Job], n_resamples: int, seed: int, key: str = "") -> FloatArray:
    """The len(jobs) × B matrix of bootstrap statistics behind :func:`bootstrap_many` (same draws, same bits).

    For intervals other than the leaderboard's mean ± half-width, e.g. the percentile bounds of a paired
    difference (:mod:`distalign.evaluation.pairwise`).

    >>> bootstrap_stats([({"a": np.array([0.0, 1.0])}, {"a": 1.0})], 4, 0).shape
    (1, 4)
    """
    data = [_checked(pools, weights) for pools, weights in jobs]
    return _stats(data, [weights for _, weights in jobs], n_resamples, seed, key)


def _stats(
    data: Sequence[Mapping[str, FloatArray]],
    weights: Sequence[Mapping[str, float]],
    n_resamples: int,
    seed: int,
    key: str,
) -> FloatArray:
    """Statistics of every job: pools of one (dataset, size n) resampled together by one count matrix."""
    groups: dict[tuple[str, int], list[int]] = {}
    for j, pools in enumerate(data):
        for name, x in pools.items():
            groups.setdefault((name, x.size), []).append(j)
    stats = np.zeros((len(data), n_resamples))
    for (name, n), members in groups.items():
        ints, scales = zip(*(fixed_point(data[j][name]) for j in members), strict=True)
        x = np.stack(ints, axis=1)
        for start, counts in count_blocks(seed, f"{key}|{name}", n, n_resamples):
            sums = counts @ x  # b × m exact integer sums
            rows = slice(start, start + len(counts))
            for col, j in enumerate(members):
                stats[j, rows] += weights[j][name] * (sums[:, col] / (n * scales[col]))
    return stats


def bootstrap(
    pools: Mapping[str, FloatArray], weights: Mapping[str, float], n_resamples: int, seed: int, key: str = ""
) -> Estimate:
    """Vectorized bootstrap of one score (see :func:`bootstrap_many`).

    >>> e = bootstrap({"a": np.array([0.0, 1.0])}, {"a": 1.0}, 2000, 0)
    >>> round(e.mean, 1), e.point, e.n
    (0.5, 0.5, 2)
    """
    return bootstrap_many([(pools, weights)], n_resamples, seed, key)[0]


def bootstrap_loop(
    pools: Mapping[str, FloatArray], weights: Mapping[str, float], n_resamples: int, seed: int, key: str = ""
) -> Estimate:
    """The same bootstrap as :func:`bootstrap` from the same draws, one resample at a time (the reference)."""
    data = _checked(pools, weights)
    stats = np.zeros(n_resamples)
    for name, x in data.items():
        rng = child_rng(seed, f"{key}|{name}|{x.size}")
        ints, scale = fixed_point(x)
        for b in range(n_resamples):
            stats[b] += weights[name] * (ints[rng.integers(0, x.size, size=x.size)].sum() / (x.size * scale))
    return summarize(stats, data, weights)


def bootstrap_loop_many(jobs: Sequence[Job], n_resamples: int, seed: int, key: str = "") -> list[Estimate]:
    """:func:`bootstrap_many` computed by :func:`bootstrap_loop`, one score and one resample at a time."""
    return [bootstrap_loop(pools, weights, n_resamples, seed, key) for pools, weights in jobs]
