"""TV, JSD, Wasserstein, alignment helpers, the metric registry: hand-computed values, properties (§7.1).

Section numbers refer to docs/original.md.
"""

from __future__ import annotations

import math
from dataclasses import FrozenInstanceError

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.spatial.distance import jensenshannon

from distalign.metrics import (
    DEFAULT_METRIC,
    METRICS,
    align_by_text,
    get_metric,
    jsd,
    normalized,
    one_hot,
    padded,
    tv,
    tv_batch,
    tv_or_nan,
    wasserstein,
)


def test_tv_hand_values() -> None:
    assert tv([0.2, 0.3, 0.5], [0.5, 0.3, 0.2]) == pytest.approx(0.3)  # ½(.3 + 0 + .3)
    assert tv([1.0, 0.0], [0.0, 1.0]) == 1.0
    assert tv([0.0, 0.0, 0.0], [0.2, 0.3, 0.5]) == pytest.approx(0.5)  # all-zero p̂ scores ½·Σp*
    assert tv([0.1, 0.1], [0.5, 0.5]) == pytest.approx(0.4)  # not renormalised


def test_tv_length_mismatch() -> None:
    with pytest.raises(ValueError, match="differ in length"):
        tv([1.0], [0.5, 0.5])
    assert math.isnan(tv_or_nan([1.0], [0.5, 0.5]))


def test_batch_matches_scalar_and_padding_is_neutral() -> None:
    p, q = [[0.5, 0.5], [0.2, 0.3, 0.5]], [[1.0, 0.0], [0.5, 0.3, 0.2]]
    assert tv_batch(padded(p), padded(q)).tolist() == pytest.approx([tv(a, b) for a, b in zip(p, q, strict=True)])
    assert padded(p, 4).shape == (2, 4)


def test_align_by_text() -> None:
    p, q = align_by_text(["No", "Refused", "Yes"], [0.0, 0.0, 1.0], ["No", "Yes"], [0.5, 0.5])
    assert (p, q) == ([0.0, 0.0, 1.0], [0.5, 0.0, 0.5])
    assert tv(p, q) == pytest.approx(0.5)
    with pytest.raises(ValueError):
        align_by_text(["A"], [0.5, 0.5], ["A"], [1.0])


def test_normalized_and_one_hot() -> None:
    assert normalized([2, 2, 4]) == [0.25, 0.25, 0.5]
    assert normalized([]) is None and normalized([0, 0]) is None and normalized([math.inf, 1]) is None
    assert one_hot(2, 0) == [1.0, 0.0]


dists = st.integers(1, 9).flatmap(
    lambda k: st.tuples(
        st.lists(st.floats(0, 1), min_size=k, max_size=k), st.lists(st.floats(0, 1), min_size=k, max_size=k)
    )
)


@given(dists)
def test_tv_of_distributions_is_in_unit_interval_and_symmetric(pair: tuple[list[float], list[float]]) -> None:
    a, b = (np.asarray(x) + 1e-9 for x in pair)
    p, q = a / a.sum(), b / b.sum()
    d = tv(p.tolist(), q.tolist())
    assert -1e-12 <= d <= 1 + 1e-12
    assert d == pytest.approx(tv(q.tolist(), p.tolist()))
    assert tv(p.tolist(), p.tolist()) == 0.0


# --- the metric registry (--metric) ------------------------------------------------------------------------
def test_jsd_hand_values() -> None:
    assert jsd([1.0, 0.0], [0.0, 1.0]) == pytest.approx(1.0)  # disjoint supports: the maximum
    # m = (½, ¼, ¼): KL(p‖m) = ½·log2(1) + ½·log2 2 = ½ for p = (½, ½, 0), and q = (½, 0, ½) alike: √½
    assert jsd([0.5, 0.5, 0.0], [0.5, 0.0, 0.5]) == pytest.approx(math.sqrt(0.5))
    assert jsd([0.5, 0.5], [1.0, 0.0]) == pytest.approx(math.sqrt(1.5 - 0.75 * math.log2(3)))
    assert jsd([0.2, 0.8], [0.6, 0.4]) == pytest.approx(float(jensenshannon([0.2, 0.8], [0.6, 0.4], base=2)))


def test_wasserstein_hand_values() -> None:
    assert wasserstein([1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0]) == 1.0  # first to last option
    assert wasserstein([1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0]) == pytest.approx(1 / 3)  # one step of three
    assert wasserstein([0.5, 0.0, 0.0, 0.5], [0.0, 0.5, 0.5, 0.0]) == pytest.approx(1 / 3)  # ½·⅓ + ½·⅓
    assert wasserstein([1.0], [1.0]) == 0.0
    # order matters, unlike TV: the same two vectors with the options reversed on one side
    assert wasserstein([0.7, 0.2, 0.1], [0.1, 0.2, 0.7]) == pytest.approx((0.6 + 0.6) / 2)
    with pytest.raises(ValueError, match="differ in length"):
        wasserstein([1.0], [0.5, 0.5])


def test_registry() -> None:
    assert list(METRICS)[:3] == ["tv", "jsd", "wasserstein"] and METRICS[DEFAULT_METRIC].fn is tv
    assert get_metric("wasserstein").ordinal and not get_metric("tv").ordinal
    assert not any(m.higher_is_better for m in METRICS.values())
    with pytest.raises(ValueError, match="valid: tv, jsd, wasserstein"):
        get_metric("kl")
    with pytest.raises(FrozenInstanceError):
        get_metric("tv").higher_is_better = True  # type: ignore[misc]


def unit_vector(raw: list[float]) -> list[float]:
    a = np.asarray(raw) + 1e-9
    return (a / a.sum()).tolist()


@pytest.mark.parametrize("name", list(METRICS))
@given(pair=dists)
def test_metric_properties(name: str, pair: tuple[list[float], list[float]]) -> None:
    metric, p, q = METRICS[name], unit_vector(pair[0]), unit_vector(pair[1])
    d = metric.fn(p, q)
    assert -1e-12 <= d <= 1 + 1e-9
    assert d == pytest.approx(metric.fn(q, p), abs=1e-12)
    assert metric.fn(p, p) == 0.0
    batch = metric.batch(np.array([p, q]), np.array(q))  # rows against one vector, as the sampling floor does
    assert batch.tolist() == pytest.approx([d, 0.0], abs=1e-12)
