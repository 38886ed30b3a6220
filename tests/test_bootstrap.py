"""Seeded, vectorized bootstrap: weights, determinism, agreement with the per-resample loop (docs/original.md §7.4)."""

from __future__ import annotations

import numpy as np
import pytest

from distalign.bootstrap import bootstrap, bootstrap_loop, bootstrap_loop_many, bootstrap_many, child_rng

THIRD = {"opinionqa": 1 / 3, "nytimes": 1 / 3, "globalvalues": 1 / 3}


def test_constant_pools_give_the_weighted_mean_and_zero_error() -> None:
    pools = {"opinionqa": np.full(7, 0.3), "nytimes": np.full(5, 0.6), "globalvalues": np.full(3, 0.9)}
    est = bootstrap(pools, THIRD, 200, 0)
    assert est.mean == pytest.approx(0.6) and est.point == pytest.approx(0.6)  # (.3 + .6 + .9) / 3
    assert est.error == pytest.approx(0.0, abs=1e-12)
    assert est.n == 15
    both = bootstrap(
        {"opinionqa": np.full(4, 0.2), "nytimes": np.full(9, 0.4)}, {"opinionqa": 0.5, "nytimes": 0.5}, 100, 0
    )
    assert both.mean == pytest.approx(0.3)  # ½·.2 + ½·.4, whatever the pool sizes


def test_weights_are_per_dataset_not_per_question() -> None:
    pools = {"a": np.array([0.0] * 90), "b": np.array([1.0] * 10)}
    est = bootstrap(pools, {"a": 0.5, "b": 0.5}, 50, 0, "k")
    assert est.point == pytest.approx(0.5)  # pooled per question it would be 0.1


def test_interval_of_a_two_point_pool() -> None:
    # mean of n=400 draws of {0, 1}: sd = ½/√400 = 0.025, 95% half-width ≈ 1.96 · 0.025 = 0.049
    est = bootstrap({"a": np.array([0.0, 1.0] * 200)}, {"a": 1.0}, 4000, 1, "k")
    assert est.mean == pytest.approx(0.5, abs=0.003)
    assert est.error == pytest.approx(0.049, abs=0.004)


def test_same_seed_same_numbers_and_keys_are_independent() -> None:
    pools = {"a": np.linspace(0, 1, 50)}
    first = bootstrap(pools, {"a": 1.0}, 300, 7, "gpt-4 (V)")
    assert first == bootstrap(pools, {"a": 1.0}, 300, 7, "gpt-4 (V)")
    assert first != bootstrap(pools, {"a": 1.0}, 300, 8, "gpt-4 (V)")
    assert first != bootstrap(pools, {"a": 1.0}, 300, 7, "gpt-4 (Seq)")


def test_vectorized_equals_loop() -> None:
    rng = np.random.default_rng(3)
    pools = {"opinionqa": rng.random(120), "nytimes": rng.random(80), "globalvalues": rng.random(30)}
    fast, slow = bootstrap(pools, THIRD, 250, 0, "k"), bootstrap_loop(pools, THIRD, 250, 0, "k")
    assert fast == slow  # the same draws and exact fixed-point sums: bit-identical


def test_child_rng_depends_on_seed_and_key() -> None:
    draw = lambda s, k: child_rng(s, k).integers(0, 10**9, 4).tolist()  # noqa: E731
    assert draw(0, "x") == draw(0, "x") and draw(0, "x") != draw(1, "x") and draw(0, "x") != draw(0, "y")


@pytest.mark.parametrize(
    "pools,weights",
    [
        ({}, {}),
        ({"a": np.array([])}, {"a": 1.0}),
        ({"a": np.array([np.nan])}, {"a": 1.0}),
        ({"a": np.array([0.1])}, {"b": 1.0}),
    ],
)
def test_bad_input(pools: dict, weights: dict) -> None:
    with pytest.raises(ValueError):
        bootstrap(pools, weights, 10, 0, "k")


def test_many_equals_one_by_one_and_rows_are_paired() -> None:
    rng = np.random.default_rng(4)
    x, y = rng.random(60), rng.random(60)
    jobs = [({"a": x}, {"a": 1.0}), ({"a": x + 0.1}, {"a": 1.0}), ({"a": y, "b": x[:7]}, {"a": 0.5, "b": 0.5})]
    many = bootstrap_many(jobs, 300, 0)
    assert many == [bootstrap(p, w, 300, 0) for p, w in jobs]
    # the same cells resampled at the same positions: a constant shift moves the mean, not the interval
    assert many[1].mean - many[0].mean == pytest.approx(0.1)
    assert many[1].error == pytest.approx(many[0].error)
    assert bootstrap_loop_many(jobs, 300, 0) == many


def test_blocked_counts_are_bit_identical(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(5)
    jobs = [({"a": rng.random(61), "b": rng.random(7)}, {"a": 0.5, "b": 0.5}), ({"a": rng.random(61)}, {"a": 1.0})]
    whole = bootstrap_many(jobs, 301, 2)
    monkeypatch.setattr("distalign.bootstrap.BLOCK_CELLS", 200)  # 3 resamples of 61 cells per block
    assert bootstrap_many(jobs, 301, 2) == whole == bootstrap_loop_many(jobs, 301, 2)
