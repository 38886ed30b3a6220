"""Distances between distributions and the metric registry (docs/original.md §7.1, §11.2).

The score of the benchmark is the total variation distance TV(p, q) = ½·Σ_i |p_i − q_i| (lower is better).
Paper mode applies it to the stored vectors as they are (not renormalised); fixed mode first aligns the
two vectors by option *text* (:func:`align_by_text`), so a prompt that showed one option list can be scored
against a group whose observed options differ. All functions are pure; the TV batch version pads with zeros,
which leaves TV unchanged.

:data:`METRICS` registers the per-cell scores fixed mode can use instead (``lm_steering_eval.py --metric``):
``tv`` (the default and the paper's), ``jsd`` (Jensen–Shannon *distance*, base 2) and ``wasserstein``
(ordinal earth mover's distance over option positions, normalised by K − 1, as OpinionQA). To add a metric,
write a pure function of two probability vectors and its row-wise batch version here and add a
:class:`Metric` entry; the evaluation, the CSVs and ``leaderboard.md`` pick it up by name.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
Vector = Sequence[float] | FloatArray
DEFAULT_METRIC = "tv"


def tv(p: Sequence[float] | FloatArray, q: Sequence[float] | FloatArray) -> float:
    """Total variation distance ½·Σ|p_i − q_i| of two vectors of the same length (no renormalisation).

    >>> tv([0.5, 0.5], [1.0, 0.0])
    0.5
    >>> tv([0.2, 0.3, 0.5], [0.2, 0.3, 0.5])
    0.0
    >>> tv([0.0, 0.0], [0.25, 0.75])  # an all-zero vector (a silent parse failure in the paper) scores ½·Σq
    0.5
    >>> tv([1.0], [0.5, 0.5])
    Traceback (most recent call last):
    ...
    ValueError: vectors differ in length: 1 vs 2
    """
    if len(p) != len(q):
        raise ValueError(f"vectors differ in length: {len(p)} vs {len(q)}")
    return 0.5 * sum(map(abs, map(operator.sub, map(float, p), map(float, q))))  # in order, as a loop would


def tv_or_nan(p: Sequence[float], q: Sequence[float]) -> float:
    """TV, or NaN when the lengths differ (the original's caught exception, docs/original.md §7.1).

    >>> tv_or_nan([1.0], [0.5, 0.5])
    nan
    """
    return tv(p, q) if len(p) == len(q) else float("nan")


def padded(vectors: Sequence[Sequence[float]], width: int | None = None) -> FloatArray:
    """Stack vectors of different lengths into a zero-padded matrix.

    >>> padded([[0.5, 0.5], [1.0]]).tolist()
    [[0.5, 0.5], [1.0, 0.0]]
    """
    k = max((len(v) for v in vectors), default=0) if width is None else width
    out = np.zeros((len(vectors), k))
    for i, v in enumerate(vectors):
        out[i, : len(v)] = v
    return out


def tv_batch(p: FloatArray, q: FloatArray) -> FloatArray:
    """Row-wise TV of two (n, K) matrices (zero padding beyond a row's options does not change it).

    >>> tv_batch(np.array([[0.5, 0.5], [1.0, 0.0]]), np.array([[1.0, 0.0], [1.0, 0.0]])).tolist()
    [0.5, 0.0]
    """
    return 0.5 * np.abs(np.asarray(p, dtype=float) - np.asarray(q, dtype=float)).sum(axis=-1)


def normalized(values: Sequence[float]) -> list[float] | None:
    """``values`` scaled to sum to one, or ``None`` when they cannot be (zero, negative or non-finite).

    >>> normalized([1.0, 3.0])
    [0.25, 0.75]
    >>> normalized([0.0, 0.0]) is None, normalized([float("nan"), 1.0]) is None, normalized([-1.0, 2.0]) is None
    (True, True, True)
    """
    vals = [float(v) for v in values]
    total = sum(vals)
    if not vals or not math.isfinite(total) or total <= 0 or any(v < 0 for v in vals):
        return None
    return [v / total for v in vals]


def align_by_text(
    shown: Sequence[str], p: Sequence[float], truth_options: Sequence[str], q: Sequence[float]
) -> tuple[list[float], list[float]]:
    """Two distributions over different option lists, as vectors over the union of option texts.

    An option the model was shown but the group never chose has truth 0; an option the group chose but
    the prompt never showed has model probability 0. TV over the union is then the correct distance.

    >>> align_by_text(["No", "Refused", "Yes"], [0.2, 0.1, 0.7], ["No", "Yes"], [0.4, 0.6])
    ([0.2, 0.1, 0.7], [0.4, 0.0, 0.6])
    >>> align_by_text(["No", "Yes"], [0.5, 0.5], ["Maybe", "No", "Yes"], [0.2, 0.3, 0.5])
    ([0.5, 0.5, 0.0], [0.3, 0.5, 0.2])
    """
    if len(shown) != len(p) or len(truth_options) != len(q):
        raise ValueError(f"{len(shown)} options / {len(p)} probabilities vs {len(truth_options)} / {len(q)}")
    if list(shown) == list(truth_options):
        return [float(x) for x in p], [float(x) for x in q]
    union = list(dict.fromkeys([*shown, *truth_options]))
    pd_, qd = dict(zip(shown, p, strict=True)), dict(zip(truth_options, q, strict=True))
    return [float(pd_.get(o, 0.0)) for o in union], [float(qd.get(o, 0.0)) for o in union]


def one_hot(k: int, i: int) -> list[float]:
    """The one-hot vector of length ``k`` at position ``i``.

    >>> one_hot(3, 1)
    [0.0, 1.0, 0.0]
    """
    out = [0.0] * k
    out[i] = 1.0
    return out


def _rows(p: Vector, q: Vector) -> tuple[FloatArray, FloatArray]:
    """``p`` and ``q`` as float arrays whose last axes have the same length (else ValueError)."""
    a, b = np.asarray(p, dtype=float), np.asarray(q, dtype=float)
    if a.shape[-1] != b.shape[-1]:
        raise ValueError(f"vectors differ in length: {a.shape[-1]} vs {b.shape[-1]}")
    return a, b


def jsd_batch(p: FloatArray, q: FloatArray) -> FloatArray:
    """Row-wise Jensen–Shannon distance, base 2: √(½·KL(p‖m) + ½·KL(q‖m)) with m = ½(p + q); in [0, 1].

    The square root of the divergence (scipy's ``jensenshannon(p, q, base=2)``), a true metric, as in
    GlobalOpinionQA (whose similarity is 1 − this). Rows broadcast (an (n, K) matrix against one K-vector).

    >>> jsd_batch(np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([0.0, 1.0])).tolist()  # disjoint supports: 1
    [1.0, 0.0]
    """
    a, b = _rows(p, q)
    m = 0.5 * (a + b)

    def kl(x: FloatArray) -> FloatArray:  # KL(x‖m) in bits; 0·log 0 = 0, and x > 0 implies m > 0
        ratio = np.divide(x, m, out=np.ones_like(x * m), where=x > 0)
        return (x * np.log2(ratio)).sum(axis=-1)

    return np.sqrt(np.maximum(0.5 * (kl(a) + kl(b)), 0.0))


def jsd(p: Vector, q: Vector) -> float:
    """Jensen–Shannon distance (base 2) of two probability vectors of the same length (:func:`jsd_batch`).

    >>> round(jsd([0.5, 0.5], [1.0, 0.0]), 6)  # m = (¾, ¼): √(½(1 − ½·log2 3) + ½(2 − log2 3)) = √(1.5 − ¾·log2 3)
    0.557923
    >>> jsd([0.2, 0.3, 0.5], [0.2, 0.3, 0.5])
    0.0
    """
    return float(jsd_batch(*_rows(p, q)))


def wasserstein_batch(p: FloatArray, q: FloatArray) -> FloatArray:
    """Row-wise ordinal earth mover's distance between distributions over positions 0..K−1, divided by K − 1.

    W1 = Σ_{i<K−1} |P_i − Q_i| with P, Q the cumulative sums, so moving all mass from the first option to the
    last costs 1 (OpinionQA's normalisation; its alignment score is 1 − this). A single option scores 0.
    Zero padding changes K and so the score: batch only rows of the same option count.

    >>> wasserstein_batch(np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]), np.array([0.0, 0.0, 1.0])).tolist()
    [1.0, 0.5]
    """
    a, b = _rows(p, q)
    k = a.shape[-1]
    if k < 2:
        return np.zeros(np.broadcast_shapes(a.shape, b.shape)[:-1])
    gap = np.abs(np.cumsum(a, axis=-1) - np.cumsum(b, axis=-1))[..., :-1]
    return gap.sum(axis=-1) / (k - 1)


def wasserstein(p: Vector, q: Vector) -> float:
    """Normalised ordinal earth mover's distance of two probability vectors (:func:`wasserstein_batch`).

    >>> wasserstein([0.5, 0.0, 0.5], [0.0, 1.0, 0.0])  # ½ moves one step, ½ moves one step: 1 / 2
    0.5
    >>> wasserstein([0.25, 0.25, 0.25, 0.25], [1.0, 0.0, 0.0, 0.0])  # (¾ + ½ + ¼) / 3
    0.5
    """
    return float(wasserstein_batch(*_rows(p, q)))


@dataclass(frozen=True)
class Metric:
    """A per-cell score of a predicted distribution against the true one.

    Attributes:
        name: registry key and ``--metric`` value.
        label: short column label (``TV``).
        description: what it is, as the caption of ``leaderboard.md`` says it (``Total variation``).
        fn: the score of two probability vectors of the same length.
        batch: the row-wise version over (n, K) matrices (rows broadcast; used by the sampling floor).
        higher_is_better: direction of the score (the leaderboard wording and the K2S gap follow it).
        ordinal: meaningful only when the options are an ordered scale (NYT's Likert); on OpinionQA
            (alphabetical options) and GlobalOpinionQA (source order) it is only indicative.
    """

    name: str
    label: str
    description: str
    fn: Callable[[Vector, Vector], float]
    batch: Callable[[FloatArray, FloatArray], FloatArray]
    higher_is_better: bool = False
    ordinal: bool = False

    @property
    def direction(self) -> str:
        """``"higher is better"`` or ``"lower is better"``."""
        return "higher is better" if self.higher_is_better else "lower is better"

    @property
    def arrow(self) -> str:
        """``↑`` or ``↓``, for captions (``TV ↓``)."""
        return "↑" if self.higher_is_better else "↓"


WASSERSTEIN_DESCRIPTION = "Ordinal earth mover's distance / (K − 1)"
# One line per metric: the metric recipe of docs/extending.md adds its entry after the wasserstein line.
METRICS: dict[str, Metric] = {
    "tv": Metric("tv", "TV", "Total variation", tv, tv_batch),
    "jsd": Metric("jsd", "JSD", "Jensen–Shannon distance (base 2)", jsd, jsd_batch),
    "wasserstein": Metric("wasserstein", "W1", WASSERSTEIN_DESCRIPTION, wasserstein, wasserstein_batch, ordinal=True),
}


def get_metric(name: str) -> Metric:
    """The registered metric ``name``.

    >>> get_metric("jsd").label
    'JSD'
    >>> get_metric("kl")
    Traceback (most recent call last):
    ...
    ValueError: unknown metric 'kl'; valid: tv, jsd, wasserstein
    """
    if name not in METRICS:
        raise ValueError(f"unknown metric {name!r}; valid: {', '.join(METRICS)}")
    return METRICS[name]
