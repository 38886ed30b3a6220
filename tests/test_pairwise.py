"""Pairwise differences: a known difference is found significant, identical models are not; pairing, weights, CSV."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from distalign.evaluation import Evaluation
from distalign.evaluation.leaderboards import build, write
from distalign.evaluation.pairwise import COLUMNS, cell_scores, pair_line, pairwise
from distalign.evaluation.tally import Tally
from distalign.types import TVRow

DATASETS = ("opinionqa", "nytimes", "globalvalues")
THIRDS = {d: 1 / 3 for d in DATASETS}


def rows_of(model: str, scores: dict[str, np.ndarray], output_type: str = "express_distribution") -> list[TVRow]:
    """One task1 row per dataset with the given per-question scores (questions q0, q1, ...)."""
    return [
        TVRow(
            "task1", model, d, "w", "G", "g", output_type, tuple(map(float, x)), tuple(f"q{i}" for i in range(len(x)))
        )
        for d, x in scores.items()
    ]


def hard_questions(seed: int, n: int = 120) -> dict[str, np.ndarray]:
    """Per-question scores that vary a lot from question to question (some questions are hard for everyone)."""
    rng = np.random.default_rng(seed)
    return {d: rng.uniform(0.05, 0.6, n) for d in DATASETS}


def test_a_known_difference_is_significant_and_estimated():
    base = hard_questions(0)
    noise = np.random.default_rng(1)
    worse = {d: x + 0.02 + noise.normal(0, 0.03, x.size) for d, x in base.items()}
    rows = rows_of("a", worse) + rows_of("b", base)
    line = pair_line(rows, "a", "b", "express_distribution", THIRDS, 1000, 0)
    assert line is not None
    assert line["significant"] is True and line["CI Low"] > 0
    assert line["CI Low"] <= line["Difference"] <= line["CI High"]
    assert line["Difference"] == pytest.approx(0.02, abs=0.006)
    assert line["N"] == 360 and line["note"] == ""


def test_identical_models_are_not_significant():
    base = hard_questions(2)
    line = pair_line(rows_of("a", base) + rows_of("b", base), "a", "b", "express_distribution", THIRDS, 1000, 0)
    assert line is not None and line["significant"] is False
    assert line["Difference"] == line["CI Low"] == line["CI High"] == 0.0


def test_equal_quality_with_noise_is_rarely_significant():
    """Two equally good models with independent noise: about 5% of seeds find a 'difference', as a 95% CI should."""
    found = 0
    for seed in range(40):
        base, noise = hard_questions(seed, n=60), np.random.default_rng(100 + seed)
        a = {d: x + noise.normal(0, 0.03, x.size) for d, x in base.items()}
        b = {d: x + noise.normal(0, 0.03, x.size) for d, x in base.items()}
        line = pair_line(rows_of("a", a) + rows_of("b", b), "a", "b", "express_distribution", THIRDS, 400, seed)
        assert line is not None
        found += bool(line["significant"])
    assert found <= 6


def test_pairing_is_tighter_than_comparing_two_intervals():
    """The question-to-question spread cancels in the paired differences."""
    base = hard_questions(5)
    worse = {d: x + 0.01 for d, x in base.items()}
    line = pair_line(rows_of("a", worse) + rows_of("b", base), "a", "b", "express_distribution", THIRDS, 1000, 0)
    assert line is not None and line["significant"] is True
    assert line["CI High"] - line["CI Low"] < 1e-9  # a constant shift: every resample sees exactly 0.01


def test_only_common_cells_are_paired_and_missing_datasets_are_noted():
    a = rows_of("a", {"opinionqa": np.array([0.5, 0.4, 0.3]), "nytimes": np.array([0.2])})
    b = rows_of("b", {"opinionqa": np.array([0.1, 0.1])})  # q2 and NYT missing
    cells = cell_scores(a, "a", "express_distribution")
    assert list(cells["opinionqa"]) == [("task1", "G", "g", f"q{i}") for i in range(3)]
    line = pair_line(a + b, "a", "b", "express_distribution", THIRDS, 200, 0)
    assert line is not None
    assert line["N"] == 2 and line["Difference"] == pytest.approx(0.35) and line["note"] == "only OpinionQA"
    assert pair_line(a, "a", "b", "express_distribution", THIRDS, 200, 0) is None


def evaluation(rows: list[TVRow]) -> Evaluation:
    return Evaluation("fixed", 0, rows, [], Tally())


def test_pairwise_frame_orders_pairs_and_methods_and_is_seeded():
    base = hard_questions(6, n=40)
    rows = []
    for shift, model in ((0.0, "gpt-4"), (0.05, "anthropic_opus"), (0.1, "zzz__new")):
        for output_type in ("sequence", "express_distribution"):
            rows += rows_of(model, {d: x + shift for d, x in base.items()}, output_type)
    frame = pairwise(evaluation(rows), 300)
    assert list(frame.columns) == COLUMNS
    assert list(zip(frame["Model A"], frame["Model B"], frame["method"], strict=True))[:4] == [
        ("gpt-4", "anthropic_opus", "V"),
        ("gpt-4", "zzz__new", "V"),
        ("anthropic_opus", "zzz__new", "V"),
        ("gpt-4", "anthropic_opus", "Seq"),
    ]
    assert frame["Difference"].round(9).tolist()[:3] == [-0.05, -0.1, -0.05]
    assert frame["significant"].all()
    pd.testing.assert_frame_equal(frame, pairwise(evaluation(rows), 300))


def test_the_evaluation_writes_pairwise_differences(tmp_path):
    base = hard_questions(7, n=30)
    rows = rows_of("gpt-4", base) + rows_of("anthropic_opus", {d: x + 0.1 for d, x in base.items()})
    write(build(evaluation(rows), 200), tmp_path)
    frame = pd.read_csv(tmp_path / "pairwise_differences.csv")
    assert frame[["Model A", "Model B", "significant"]].values.tolist() == [["gpt-4", "anthropic_opus", True]]
    assert frame.loc[0, "Difference"] == pytest.approx(-0.1)
