"""The bootstrap's inputs and its statistics matrix against the documented draw scheme.

A pool may be any sequence of numbers (exact fractions included); :func:`bootstrap_stats` is the matrix of
resample statistics behind :func:`bootstrap_many`: row j, column b is Σ_d w_d·(C_d[b] · pool_d) / n_d with C_d
the resample counts of the key ``"<key>|<dataset>"`` (the module docstring's draw scheme).
``bench/mutation.py`` measures how many planted one-line bugs these tests catch.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from distalign.bootstrap import bootstrap, bootstrap_many, bootstrap_stats, resample_counts


def test_a_pool_of_exact_fractions_is_read_as_floats() -> None:
    pools = {"a": [Fraction(1, 4), Fraction(3, 4)], "b": [Fraction(1, 2)]}
    est = bootstrap(pools, {"a": 0.5, "b": 0.5}, 40, 1)
    assert est.point == pytest.approx(0.5) and est.n == 3  # ½·½ + ½·½
    same = bootstrap({"a": np.array([0.25, 0.75]), "b": np.array([0.5])}, {"a": 0.5, "b": 0.5}, 40, 1)
    assert est == same


def test_statistics_matrix_follows_the_draw_scheme() -> None:
    x, y = np.array([0.0, 0.5, 1.0]), np.array([0.25, 0.75])
    jobs = [({"a": x}, {"a": 1.0}), ({"a": x, "b": y}, {"a": 0.5, "b": 0.5})]
    stats = bootstrap_stats(jobs, 30, 7)
    ca, cb = resample_counts(7, "|a", 3, 30), resample_counts(7, "|b", 2, 30)  # default key ""
    assert stats[0].tolist() == pytest.approx((ca @ x / 3).tolist())
    assert stats[1].tolist() == pytest.approx((0.5 * ca @ x / 3 + 0.5 * cb @ y / 2).tolist())
    assert set(np.round(stats[0] * 6).tolist()) <= set(range(7))  # resample means of thirds of {0, ½, 1}
    keyed = bootstrap_stats(jobs, 30, 7, "row")
    assert keyed[0].tolist() == pytest.approx((resample_counts(7, "row|a", 3, 30) @ x / 3).tolist())
    means = [e.mean for e in bootstrap_many(jobs, 30, 7)]
    assert stats.mean(axis=1).tolist() == means  # the same draws, the same bits
