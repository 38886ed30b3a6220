"""TV and alignment helpers: hand-computed values and properties (SPEC §7.1)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from distalign.metrics import align_by_text, normalized, one_hot, padded, tv, tv_batch, tv_or_nan


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


dists = st.integers(1, 9).flatmap(lambda k: st.tuples(
    st.lists(st.floats(0, 1), min_size=k, max_size=k), st.lists(st.floats(0, 1), min_size=k, max_size=k)))


@given(dists)
def test_tv_of_distributions_is_in_unit_interval_and_symmetric(pair: tuple[list[float], list[float]]) -> None:
    a, b = (np.asarray(x) + 1e-9 for x in pair)
    p, q = a / a.sum(), b / b.sum()
    d = tv(p.tolist(), q.tolist())
    assert -1e-12 <= d <= 1 + 1e-12
    assert d == pytest.approx(tv(q.tolist(), p.tolist()))
    assert tv(p.tolist(), p.tolist()) == 0.0
