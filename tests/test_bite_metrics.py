"""Metrics and the bootstrap against hand-computed values and properties that hold for any input.

Every number here is worked out by hand (a comment shows how) or follows from a property of the definition
(symmetry, bounds, invariance to zero padding, an exact resample of a constant pool). ``bench/mutation.py``
measures how many planted one-line bugs these tests catch.
"""

from __future__ import annotations

import hashlib
import math
import struct
import warnings
from fractions import Fraction

import numpy as np
import pytest

from distalign.bootstrap import (
    _checked,
    bootstrap,
    bootstrap_loop,
    bootstrap_loop_many,
    bootstrap_many,
    child_rng,
    count_blocks,
    fixed_point,
    resample_counts,
    summarize,
)
from distalign.metrics import (
    METRICS,
    align_by_text,
    get_metric,
    jsd,
    jsd_batch,
    normalized,
    one_hot,
    padded,
    tv,
    tv_batch,
    tv_or_nan,
    wasserstein,
    wasserstein_batch,
)


# --- distances --------------------------------------------------------------------------------------------------
def test_tv_by_hand() -> None:
    assert tv([0.1, 0.6, 0.3], [0.3, 0.3, 0.4]) == pytest.approx(0.3)  # ½(0.2 + 0.3 + 0.1)
    assert tv([1.0, 0.0], [0.0, 1.0]) == 1.0
    assert tv([0.25, 0.75], [0.75, 0.25]) == tv([0.75, 0.25], [0.25, 0.75]) == 0.5
    assert math.isnan(tv_or_nan([1.0], [0.5, 0.5])) and tv_or_nan([0.5, 0.5], [0.5, 0.5]) == 0.0
    with pytest.raises(ValueError, match="differ in length: 2 vs 3"):
        tv([0.5, 0.5], [0.2, 0.3, 0.5])
    rows = tv_batch(np.array([[0.1, 0.6, 0.3], [1.0, 0.0, 0.0]]), np.array([[0.3, 0.3, 0.4], [0.0, 0.0, 1.0]]))
    assert rows.tolist() == pytest.approx([0.3, 1.0])


def test_padding_is_zeros_after_each_row() -> None:
    m = padded([[0.5, 0.5], [1.0], [0.2, 0.3, 0.5]])
    assert m.tolist() == [[0.5, 0.5, 0.0], [1.0, 0.0, 0.0], [0.2, 0.3, 0.5]]
    assert padded([[1.0]], width=3).tolist() == [[1.0, 0.0, 0.0]] and padded([]).shape == (0, 0)


def test_jsd_by_hand() -> None:
    # disjoint supports: m = (½, ½); KL(p‖m) = KL(q‖m) = 1 bit; √1 = 1
    assert jsd([1.0, 0.0], [0.0, 1.0]) == pytest.approx(1.0)
    expected = math.sqrt(1.5 - 0.75 * math.log2(3))  # p = (½, ½), q = (1, 0), m = (¾, ¼)
    assert jsd([0.5, 0.5], [1.0, 0.0]) == pytest.approx(expected) == jsd([1.0, 0.0], [0.5, 0.5])
    assert jsd([0.3, 0.7], [0.3, 0.7]) == 0.0
    rows = jsd_batch(np.array([[0.5, 0.5], [1.0, 0.0]]), np.array([1.0, 0.0]))
    assert rows.tolist() == pytest.approx([expected, 0.0])
    with pytest.raises(ValueError, match="differ in length"):
        jsd([1.0], [0.5, 0.5])


def test_wasserstein_by_hand() -> None:
    assert wasserstein([1.0, 0.0, 0.0], [0.0, 0.0, 1.0]) == 1.0  # all mass moves 2 steps, / (3 − 1)
    assert wasserstein([0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0]) == pytest.approx(2 / 3)  # 2 steps / 3
    assert wasserstein([0.5, 0.5], [0.5, 0.5]) == 0.0 and wasserstein([1.0], [1.0]) == 0.0
    assert wasserstein([0.2, 0.8], [0.8, 0.2]) == pytest.approx(0.6)  # |0.2 − 0.8| / 1
    assert wasserstein_batch(np.array([[1.0]]), np.array([1.0])).tolist() == [0.0]


def test_distances_are_symmetric_and_bounded() -> None:
    rng = np.random.default_rng(0)
    for _ in range(50):
        k = int(rng.integers(2, 7))
        p, q = rng.dirichlet(np.ones(k)), rng.dirichlet(np.ones(k))
        for metric in METRICS.values():
            d = metric.fn(p, q)
            assert 0.0 <= d <= 1.0 + 1e-12 and d == pytest.approx(metric.fn(q, p)) and metric.fn(p, p) == 0.0
        assert tv(np.append(p, 0.0), np.append(q, 0.0)) == pytest.approx(tv(p, q))  # padding is harmless


def test_normalized_and_one_hot() -> None:
    assert normalized([2.0, 6.0]) == [0.25, 0.75] and normalized([0.0, 5.0]) == [0.0, 1.0]
    assert normalized([]) is None and normalized([0.0]) is None and normalized([-0.1, 1.1]) is None
    assert normalized([float("inf"), 1.0]) is None and normalized([1e308, 1e308]) is None
    assert one_hot(4, 0) == [1.0, 0.0, 0.0, 0.0] and one_hot(2, 1) == [0.0, 1.0]


def test_align_by_text_uses_the_union_in_shown_order() -> None:
    same = align_by_text(["No", "Yes"], [0.3, 0.7], ["No", "Yes"], [0.4, 0.6])
    assert same == ([0.3, 0.7], [0.4, 0.6])
    # same options in another order: each probability must follow its text, never its position
    swapped = align_by_text(["Yes", "No"], [0.3, 0.7], ["No", "Yes"], [0.4, 0.6])
    assert swapped == ([0.3, 0.7], [0.6, 0.4])
    assert tv(*swapped) == pytest.approx(0.3)
    extra = align_by_text(["A", "B"], [0.5, 0.5], ["B", "C"], [0.2, 0.8])
    assert extra == ([0.5, 0.5, 0.0], [0.0, 0.2, 0.8])
    with pytest.raises(ValueError):
        align_by_text(["A"], [0.5, 0.5], ["A"], [1.0])
    with pytest.raises(ValueError):
        align_by_text(["A"], [1.0], ["A", "B"], [1.0])


def test_metric_registry() -> None:
    assert [m.name for m in METRICS.values()] == ["tv", "jsd", "wasserstein"]
    assert get_metric("tv").fn is tv and get_metric("wasserstein").ordinal and not get_metric("tv").ordinal
    assert get_metric("tv").direction == "lower is better" and get_metric("tv").arrow == "↓"
    with pytest.raises(ValueError, match="unknown metric 'x'; valid: tv, jsd, wasserstein"):
        get_metric("x")


# --- the bootstrap ----------------------------------------------------------------------------------------------
def test_a_constant_pool_has_no_spread() -> None:
    e = bootstrap({"a": np.full(7, 0.3)}, {"a": 1.0}, 200, 0)
    assert e.mean == pytest.approx(0.3) and e.error == pytest.approx(0.0, abs=1e-12) and e.point == pytest.approx(0.3)
    assert e.n == 7


def test_weights_combine_dataset_means() -> None:
    pools = {"a": np.full(4, 0.2), "b": np.full(9, 0.8)}
    e = bootstrap(pools, {"a": 0.25, "b": 0.75}, 100, 1)
    assert e.point == pytest.approx(0.25 * 0.2 + 0.75 * 0.8) == pytest.approx(e.mean) and e.n == 13
    many = bootstrap_many([(pools, {"a": 0.5, "b": 0.5}), ({"a": np.full(4, 0.6)}, {"a": 1.0})], 100, 1)
    assert [m.point for m in many] == pytest.approx([0.5, 0.6])


def test_bootstrap_matches_its_reference_loop_and_the_percentile_definition() -> None:
    pools, weights = {"a": np.array([0.0, 0.1, 0.5, 0.9]), "b": np.array([0.2, 0.4, 0.6])}, {"a": 0.5, "b": 0.5}
    fast, slow = bootstrap(pools, weights, 300, 5, "k"), bootstrap_loop(pools, weights, 300, 5, "k")
    assert (fast.mean, fast.error, fast.point, fast.n) == (slow.mean, slow.error, slow.point, slow.n)
    assert fast.point == pytest.approx(0.5 * 0.375 + 0.5 * 0.4) and fast.n == 7
    assert 0.0 < fast.error < 0.3 and abs(fast.mean - fast.point) < 0.05
    assert bootstrap(pools, weights, 300, 6, "k") != fast  # another seed, other draws
    e = summarize(np.linspace(0.0, 1.0, 401), {"a": np.array([0.5])}, {"a": 1.0})  # 2.5th / 97.5th: 0.025 / 0.975
    assert e.mean == pytest.approx(0.5) and e.error == pytest.approx(0.475)


def test_resample_counts_and_blocks() -> None:
    c = resample_counts(3, "k|a", 6, 40)
    assert c.shape == (40, 6) and (c.sum(axis=1) == 6).all() and (c >= 0).all()
    assert np.array_equal(np.vstack([b for _, b in count_blocks(3, "k|a", 6, 40, block_cells=18)]), c)
    starts = [s for s, _ in count_blocks(3, "k|a", 6, 40, block_cells=18)]
    assert starts == list(range(0, 40, 3))
    assert not np.array_equal(resample_counts(3, "k|b", 6, 40), c)
    assert child_rng(1, "x").integers(0, 10**9) != child_rng(2, "x").integers(0, 10**9)


def test_fixed_point_is_exact_and_bounded() -> None:
    x = np.array([0.1, 0.7, 1.0])
    ints, scale = fixed_point(x)
    assert scale == 2.0**30 and np.allclose(ints / scale, x, atol=2**-30) and (ints == np.round(ints)).all()
    big = np.full(2**22, 3.0)
    ints, scale = fixed_point(big)
    assert big.size * 3.0 * scale < 2.0**52 and scale < 2.0**30


@pytest.mark.parametrize(
    ("pools", "weights", "says"),
    [
        ({}, {}, "no pools"),
        ({"a": np.array([0.1])}, {"b": 1.0}, "different datasets"),
        ({"a": np.array([])}, {"a": 1.0}, "non-empty"),
        ({"a": np.array([0.1, np.nan])}, {"a": 1.0}, "finite"),
        ({"a": np.array([[0.1]])}, {"a": 1.0}, "1-D"),
    ],
)
def test_bad_pools_are_refused(pools, weights, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        _checked(pools, weights)


def test_more_distance_edges() -> None:
    assert normalized([0.1, 0.3]) == pytest.approx([0.25, 0.75])  # a total below 1 is fine
    assert tv_batch(np.array([0.5, 0.5]), np.array([1.0, 0.0])) == 0.5  # one row as a 1-D vector
    assert wasserstein_batch(np.array([1.0]), np.array([[1.0], [1.0]])).shape == (2,)  # rows broadcast
    both = wasserstein_batch(np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([[0.0, 1.0], [0.0, 1.0]]))
    assert both.tolist() == [1.0, 0.0]
    with pytest.raises(ValueError, match=r"^2 options / 2 probabilities vs 1 / 2$"):
        align_by_text(["A", "B"], [0.5, 0.5], ["A"], [0.5, 0.5])


def test_child_generators_follow_their_definition() -> None:
    # a child of the seed keyed by the first 16 bytes of sha256(key), read as four little-endian 32-bit words
    words = struct.unpack("<4I", hashlib.sha256(b"row|opinionqa").digest()[:16])
    expected = np.random.default_rng(np.random.SeedSequence(3, spawn_key=words)).integers(0, 2**32, 4)
    assert child_rng(3, "row|opinionqa").integers(0, 2**32, 4).tolist() == expected.tolist()


def test_resample_count_shapes_whatever_is_drawn() -> None:
    for seed in range(10):  # with 1 resample of 50 cells the last cell is often never drawn
        assert resample_counts(seed, "k", 50, 1).shape == (1, 50)
        assert [b.shape for _, b in count_blocks(seed, "k", 50, 1)] == [(1, 50)]
    assert [b.shape for _, b in count_blocks(0, "k", 10, 3, block_cells=5)] == [(1, 10)] * 3  # at least a row


def test_fixed_point_scales_by_hand() -> None:
    assert fixed_point(np.full(2**22, 3.0))[1] == 2.0**28  # bound 3·2^22 -> ceil(log2) = 24 -> 2^(52-24)
    assert fixed_point(np.full(2**22 + 1, 0.5))[1] == 2.0**29  # bound 2^22 + 1 (|x| < 1 counts as 1) -> 2^(52-23)


def test_bootstrap_defaults_and_singletons() -> None:
    pools, weights = {"a": np.array([0.1, 0.9, 0.4])}, {"a": 1.0}
    assert bootstrap(pools, weights, 50, 2) == bootstrap_loop(pools, weights, 50, 2)  # the same default key
    jobs = [(pools, weights), ({"a": np.array([0.3])}, weights)]
    assert bootstrap_loop_many(jobs, 50, 2, "k") == bootstrap_many(jobs, 50, 2, "k")
    single = bootstrap({"a": np.array([0.3])}, weights, 20, 0)
    assert (single.mean, single.error, single.n) == (pytest.approx(0.3), pytest.approx(0.0), 1)


@pytest.mark.parametrize(
    ("pools", "weights", "message"),
    [
        ({}, {}, "nothing to bootstrap: no pools"),
        ({"a": np.array([0.1])}, {"b": 1.0}, "pools ['a'] and weights ['b'] name different datasets"),
        ({"a": np.array([np.inf])}, {"a": 1.0}, "pool 'a' must be a non-empty 1-D array of finite values"),
    ],
)
def test_bad_pool_messages(pools, weights, message: str) -> None:
    with pytest.raises(ValueError) as e:
        _checked(pools, weights)
    assert str(e.value) == message


def test_exact_fractions_come_back_as_float_arrays() -> None:
    # the batch distances convert their inputs to float64 (values read as exact rationals still give floats)
    h, q, t = Fraction(1, 2), Fraction(1, 4), Fraction(3, 4)
    cases = [
        (tv_batch, [[q, t]], [[t, 0.25]], 0.5),  # ½(½ + ½)
        (tv_batch, [[0.25, 0.75]], [[t, q]], 0.5),
        (jsd_batch, [[Fraction(1), Fraction(0)]], [[0.0, 1.0]], 1.0),  # disjoint supports
        (jsd_batch, [[1.0, 0.0]], [[Fraction(0), Fraction(1)]], 1.0),
        (wasserstein_batch, [[h, Fraction(0), h]], [[0.0, 1.0, 0.0]], 0.5),  # ½ + ½ steps over K − 1 = 2
        (wasserstein_batch, [[0.5, 0.0, 0.5]], [[Fraction(0), Fraction(1), Fraction(0)]], 0.5),
    ]
    for fn, p, r, expected in cases:
        out = fn(np.array(p, dtype=object), np.array(r, dtype=object))
        assert out.dtype == np.float64 and out.tolist() == pytest.approx([expected]), fn.__name__


def test_options_no_one_chose_raise_no_numpy_warning() -> None:
    # an option with zero mass on both sides is common (a refused option); it must not warn 0/0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert jsd([0.5, 0.5, 0.0], [1.0, 0.0, 0.0]) == pytest.approx(math.sqrt(1.5 - 0.75 * math.log2(3)))
