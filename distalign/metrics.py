"""Distances between distributions: total variation and its helpers (SPEC §7.1, §11.2; evaluation issue #3).

The score of the benchmark is the total variation distance TV(p, q) = ½·Σ_i |p_i − q_i| (lower is better).
Paper mode applies it to the stored vectors as they are (not renormalised); fixed mode first aligns the
two vectors by option *text* (:func:`align_by_text`), so a prompt that showed one option list can be scored
against a group whose observed options differ. All functions are pure; the batch version pads with zeros,
which leaves TV unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


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
    return 0.5 * sum(abs(float(a) - float(b)) for a, b in zip(p, q, strict=True))


def tv_or_nan(p: Sequence[float], q: Sequence[float]) -> float:
    """TV, or NaN when the lengths differ (the original's caught exception, SPEC §7.1).

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
