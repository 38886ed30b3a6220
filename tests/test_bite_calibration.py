"""Temperature-scaling fits against hand-worked values and properties of their documented design.

The transform is p^(1/T) renormalised per row and takes any numbers; it and the fits raise no numpy warnings
on zero entries or all-zero rows. The fixed fit evaluates the summed TV on a log-spaced grid of
``GRID_POINTS`` temperatures over ``FIXED_BOUNDS``, refines around the best point and keeps the grid point
when refining does not improve: it is never worse than any grid point, and a pool whose summed TV is large
(float spacing above the 1e-12 tie tolerance) still fits. ``bench/mutation.py`` measures how many planted
one-line bugs these tests catch.
"""

from __future__ import annotations

import math
import warnings
from fractions import Fraction

import numpy as np
import pytest

from distalign.calibration import fit as cal

GRID = np.linspace(math.log(cal.FIXED_BOUNDS[0]), math.log(cal.FIXED_BOUNDS[1]), cal.GRID_POINTS)


def test_rescale_reads_exact_fractions() -> None:
    out = cal.rescale(np.array([Fraction(4, 5), Fraction(1, 5)], dtype=object), 0.5)
    assert out.dtype == np.float64 and out.tolist() == pytest.approx([16 / 17, 1 / 17])  # 0.64 : 0.04


def test_zero_entries_and_zero_rows_raise_no_warning() -> None:
    p = np.array([[0.5, 0.0, 0.5], [0.0, 0.0, 0.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert cal.rescale(p, 2.0).tolist() == [[0.5, 0.0, 0.5], [0.0, 0.0, 0.0]]
        paper = cal.rescale(p, 2.0, paper=True)
        assert paper[0].tolist() == [0.5, 0.0, 0.5] and np.isnan(paper[1]).all()
        rows = cal.Rows.build([("a", [0, 0], [0.5, 0.5]), ("b", [0, 0], [1, 0]), ("c", [0, 0], [0, 1])])
        fits, temps = cal.fit_pool(rows, "fixed", 2, 0, ("m", "oqa", "t"))  # nothing to fit in any fold
        assert [f.temperature for f in fits] == [1.0, 1.0, 1.0] and math.isnan(fits[0].heldout_tv)
        assert temps == {"a": 1.0, "b": 1.0, "c": 1.0}


def test_summed_tv_keeps_all_zero_rows_at_zero_by_default() -> None:
    p, q = np.array([[0.0, 0.0], [1.0, 0.0]]), np.array([[0.5, 0.5], [0.0, 1.0]])
    assert cal.summed_tv(2.0, p, q) == 1.5  # ½(½ + ½) for the zero row + 1 for the opposite one-hot
    assert math.isnan(cal.summed_tv(2.0, p, q, paper=True))


STEP = GRID[1] - GRID[0]


@pytest.mark.parametrize("u", [GRID[10], GRID[25], GRID[40], GRID[0] + 0.3 * STEP, GRID[59] + 0.7 * STEP])
def test_fixed_fit_finds_a_planted_temperature(u: float) -> None:
    t = math.exp(u)  # plant the exact optimum at T* (on a grid point, or between the two first or last ones)
    a, b = 0.55 ** (1 / t), 0.45 ** (1 / t)
    p, q = np.array([[0.55, 0.45]]), np.array([[a / (a + b), b / (a + b)]])  # q = p^(1/T*) renormalised
    fitted = cal.fit_fixed(p, q)
    best_on_grid = min(cal.summed_tv(math.exp(v), p, q) for v in GRID)
    assert cal.summed_tv(fitted, p, q) <= best_on_grid  # never worse than a grid point
    assert fitted == pytest.approx(t, rel=1e-4)  # the refinement's tolerance is 1e-5 in log T


def test_a_large_pool_with_a_flat_objective_fits_t_one() -> None:
    # 40,000 rows at TV ½ whatever T: the summed TV (20,000) has a float spacing above 1e-12
    p, q = np.full((40_000, 2), 0.5), np.tile([1.0, 0.0], (40_000, 1))
    assert cal.fit_fixed(p, q) == 1.0


def test_ties_on_the_grid_go_to_the_point_nearest_t_one() -> None:
    # TV(T) = 1 / (1 + 9^(1/T)) ≈ 9^(−1/T) falls as T falls: within 1e-12 of the minimum (T ≤ 0.0795) are the
    # grid points 0.0500, 0.0568, 0.0644, 0.0731; the tie nearest T = 1 is 0.0731, refined between its neighbours
    # 0.0644 and 0.0830 (the first tie, 0.05, would give T ≈ 0.05)
    fitted = cal.fit_fixed(np.array([[0.9, 0.1]]), np.array([[1.0, 0.0]]))
    assert math.exp(GRID[2]) <= fitted <= math.exp(GRID[4])
    assert [round(math.exp(GRID[k]), 4) for k in range(5)] == [0.05, 0.0568, 0.0644, 0.0731, 0.083]
