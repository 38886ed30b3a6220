"""Simulated references: hand values, the paper's early stop, the sampling floor (docs/original.md §7.2)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from distalign.evaluation.baselines import paper_simulated, sampling_floor, truth_simulated, uniform_tv
from distalign.metrics import METRICS, jsd


def exact_floor_two_options(n: int = 30) -> float:
    """E|X/n − ½| for X ~ Bin(n, ½): the TV of n fair-coin answers to (½, ½)."""
    return sum(math.comb(n, k) / 2**n * abs(k / n - 0.5) for k in range(n + 1))


def test_sampling_floor_matches_the_binomial_expectation() -> None:
    est = sampling_floor([0.5, 0.5], np.random.default_rng(0), n_sim=40000)
    assert est == pytest.approx(exact_floor_two_options(), abs=0.002)  # 0.0722
    assert sampling_floor([0.0, 1.0, 0.0], np.random.default_rng(0)) == 0.0
    with pytest.raises(ValueError):
        sampling_floor([0.0, 0.0], np.random.default_rng(0))


def test_sampling_floor_is_seeded() -> None:
    q = [0.2, 0.3, 0.5]
    assert sampling_floor(q, np.random.default_rng(5)) == sampling_floor(q, np.random.default_rng(5))


def test_uniform_hand_values() -> None:
    assert uniform_tv([1.0, 0.0]) == pytest.approx(0.5)
    assert uniform_tv([0.25, 0.25, 0.25, 0.25]) == 0.0
    assert uniform_tv([0.7, 0.2, 0.1]) == pytest.approx(0.5 * (0.7 - 1 / 3 + 1 / 3 - 0.2 + 1 / 3 - 0.1))
    assert math.isnan(uniform_tv([0.5, 0.5], k=3))


def test_paper_references_lb_ties_and_early_stop() -> None:
    cells = [
        ([0.4, 0.4, 0.2], [0.2, 0.5, 0.3]),  # LB1: tie -> first letter; LB2: C
        ([0.5, 0.5], [0.0, 0.0]),  # zero-sum expected: the ground-truth loop stops here for good
        ([1.0, 0.0], [0.0, 1.0]),
    ]
    out = paper_simulated(cells, np.random.default_rng(0))
    assert out["LB1"] == pytest.approx([0.8, 0.5, 1.0])  # one-hot A vs [.2,.5,.3]: ½(.8+.5+.3)
    assert out["LB2"] == pytest.approx([0.7, 0.5, 0.0])  # one-hot C: ½(.2+.5+.7); argmin of [1, 0] is B
    assert out["uniform"] == pytest.approx([0.5 * (2 / 15 + 1 / 6 + 1 / 30), 0.5, 0.5])
    assert len(out["ground_truth"]) == 1


def test_paper_references_length_mismatch_is_nan() -> None:
    out = paper_simulated([([0.5, 0.5], [1.0, 0.0, 0.0])], np.random.default_rng(0))
    assert all(math.isnan(v[0]) for v in out.values())


def test_truth_references() -> None:
    out = truth_simulated([[0.6, 0.3, 0.1], [0.0, 1.0]], np.random.default_rng(0))
    assert out["true_mode"] == pytest.approx([0.4, 0.0])
    assert out["true_least"] == pytest.approx([0.9, 1.0])
    assert out["uniform"] == pytest.approx([0.5 * (0.6 - 1 / 3 + 1 / 3 - 0.3 + 1 / 3 - 0.1), 0.5])
    assert out["ground_truth"][1] == 0.0


def test_truth_references_under_another_metric() -> None:
    out = truth_simulated([[0.5, 0.5], [0.0, 0.0, 1.0]], np.random.default_rng(0), METRICS["jsd"])
    assert out["uniform"] == pytest.approx([0.0, jsd([1 / 3] * 3, [0.0, 0.0, 1.0])])
    assert out["true_mode"] == pytest.approx([math.sqrt(1.5 - 0.75 * math.log2(3)), 0.0])  # one-hot vs (½, ½)
    assert out["true_least"] == pytest.approx([math.sqrt(1.5 - 0.75 * math.log2(3)), 1.0])
    assert out["ground_truth"][1] == 0.0 and 0.0 < out["ground_truth"][0] < 0.2
    # the draws do not depend on the metric: both runs leave their generators in the same state
    rngs = [np.random.default_rng(0), np.random.default_rng(0)]
    truth_simulated([[0.5, 0.5]], rngs[0], METRICS["wasserstein"])
    truth_simulated([[0.5, 0.5]], rngs[1])
    assert rngs[0].random() == rngs[1].random()
