"""Calibration fits, leaderboards and the fixed-mode checks against hand-computed values.

* temperature scaling: the transform by hand, fits that recover a planted temperature, and the cross-fitted
  held-out TV computed with each question's *fold* temperature (never the pooled one);
* leaderboards: constant pools make every bootstrap mean exact, so dataset weights (⅓ each, "both" ½ each,
  missing datasets renormalised), persona + few-shot pooling, N, parse-failure rates and the K2S gap can be
  checked to the last digit;
* the fixed-mode check of stored against data truth fires on a disagreement and stays silent on agreement.
``bench/mutation.py`` measures how many planted one-line bugs these tests catch.
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest
from generate_standins import write_tiny_oqa

from distalign.calibration import fit as cal
from distalign.evaluation import Evaluation, evaluate
from distalign.evaluation.leaderboards import build, eval_frame, k2s
from distalign.evaluation.tally import CHECK, INFO, Tally
from distalign.types import TVRow


# --- temperature scaling -----------------------------------------------------------------------------------------
def test_rescale_by_hand() -> None:
    # p^(1/T) renormalised: T = 0.5 squares, T = 2 takes square roots, T = 1 keeps p
    assert cal.rescale(np.array([0.8, 0.2]), 0.5).tolist() == pytest.approx([0.64 / 0.68, 0.04 / 0.68])
    assert cal.rescale(np.array([0.64, 0.16, 0.0]), 2.0).tolist() == pytest.approx([0.8 / 1.2, 0.4 / 1.2, 0.0])
    assert cal.rescale(np.array([0.3, 0.7]), 1.0).tolist() == pytest.approx([0.3, 0.7])
    rows = cal.rescale(np.array([[0.8, 0.2], [0.0, 0.0]]), 0.5)
    assert rows[1].tolist() == [0.0, 0.0] and rows[0].sum() == pytest.approx(1.0)
    assert cal.summed_tv(1.0, np.array([[1.0, 0.0], [0.5, 0.5]]), np.array([[0.0, 1.0], [0.5, 0.5]])) == 1.0


def planted(t_true: float, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    q = rng.dirichlet(np.ones(4), size=n)
    return cal.rescale(q, 1 / t_true), q  # the model's vectors are the truth sharpened by 1/t_true


@pytest.mark.parametrize("t_true", [0.4, 2.5])
def test_fits_recover_a_planted_temperature(t_true: float) -> None:
    p, q = planted(t_true, 60, 1)
    assert cal.fit_fixed(p, q) == pytest.approx(t_true, rel=0.02)
    assert cal.fit_paper(p, q) == pytest.approx(t_true, rel=0.02)  # inside the paper bound (0, 10]
    assert cal.summed_tv(cal.fit_fixed(p, q), p, q) == pytest.approx(0.0, abs=1e-3)


def test_fixed_fit_bounds_and_flat_objectives() -> None:
    p, q = planted(150.0, 40, 2)  # beyond the upper bound: the fit stops at it
    assert cal.fit_fixed(p, q) == pytest.approx(cal.FIXED_BOUNDS[1], rel=0.05)
    onehot = np.array([[1.0, 0.0], [0.0, 1.0]])
    assert cal.fit_fixed(onehot, np.array([[0.5, 0.5], [0.5, 0.5]])) == 1.0  # no temperature changes one-hots
    assert cal.fit_fixed(np.zeros((3, 2)), np.full((3, 2), 0.5)) == 1.0  # only all-zero rows: nothing to fit


def test_cross_fitting_scores_each_question_at_its_fold_temperature() -> None:
    rng = np.random.default_rng(3)
    q = rng.dirichlet(np.ones(4), size=9)
    want = np.repeat([0.3, 1.0, 5.0], 3)  # three kinds of question: the folds see different mixes
    p = np.stack([cal.rescale(q[i], 1 / want[i]) for i in range(9)])
    qids = tuple(f"q{i}" for i in range(9))
    fits, temps = cal.fit_pool(cal.Rows(qids, p, q), "fixed", 3, 0, ("m", "d", "t"))
    pooled, folds = fits[0], fits[1:]
    assert pooled.fold == cal.ALL_FOLDS and [f.fold for f in folds] == ["0", "1", "2"]
    assert set(temps) == set(qids) and {temps[q] for q in qids} == {f.temperature for f in folds}
    by_hand = np.mean([cal.tv_batch(cal.rescale(p[i], temps[qids[i]]), q[i]) for i in range(9)])
    assert pooled.heldout_tv == pytest.approx(by_hand, rel=1e-9)
    at_pooled = cal.summed_tv(pooled.temperature, p, q) / 9
    assert abs(pooled.heldout_tv - at_pooled) > 1e-3  # not the pooled temperature's score
    for fold in folds:
        held = [i for i in range(9) if temps[qids[i]] == fold.temperature]
        mine = np.mean([cal.tv_batch(cal.rescale(p[i], fold.temperature), q[i]) for i in held])
        assert fold.heldout_tv == pytest.approx(mine) and fold.n_rows == 9 - len(held)


def test_paper_pool_and_single_fold_are_transductive() -> None:
    p, q = planted(2.0, 12, 4)
    rows = cal.Rows(tuple(f"q{i}" for i in range(12)), p, q)
    for mode, folds in (("paper", 5), ("fixed", 1)):
        fits, temps = cal.fit_pool(rows, mode, folds, 0, ("m", "d", "t"))
        assert len(fits) == 1 and set(temps.values()) == {fits[0].temperature} and fits[0].n_rows == 12
        assert fits[0].objective == pytest.approx(cal.summed_tv(fits[0].temperature, p, q, mode == "paper") / 12)
    with pytest.raises(ValueError, match="unknown mode"):
        cal.fit_pool(rows, "other", 5, 0, ("m", "d", "t"))


def test_fold_assignment_is_balanced_and_seeded() -> None:
    folds = cal.assign_folds([f"q{i}" for i in range(10)], 3, seed=4)
    assert sorted(np.bincount(list(folds.values())).tolist()) == [3, 3, 4]
    assert folds == cal.assign_folds([f"q{i}" for i in reversed(range(10))], 3, seed=4)
    assert folds != cal.assign_folds([f"q{i}" for i in range(10)], 3, seed=5)


# --- leaderboards ------------------------------------------------------------------------------------------------
def row(model: str, method: str, dataset: str, task: str, tv: float, n: int, fail: int = 0) -> TVRow:
    return TVRow(task, model, dataset, dataset, "G", "d", method, (tv,) * n, tuple(f"q{i}" for i in range(n)), 0, fail)


def board() -> Evaluation:
    rows = []
    for method, base in (("express_distribution", 0.2), ("sequence", 0.3)):
        for i, dataset in enumerate(("opinionqa", "nytimes", "globalvalues")):
            rows.append(row("m", method, dataset, "task1", base + 0.1 * i, 4, fail=1))
            rows.append(row("m", method, dataset, "task3_easy_hard", base + 0.1 * i + 0.05, 2))
    rows.append(row("m", "model_logprobs", "opinionqa", "task1", 0.6, 5))  # one dataset only
    return Evaluation("fixed", 0, rows, [], Tally())


def test_headline_weights_pooling_and_k2s_by_hand() -> None:
    out = build(board(), 50)
    head = out.headline.set_index("Model Name")
    v = head.loc["m (V)"]
    # per dataset: 4 cells at base and 2 at base + 0.05; the three datasets weighted ⅓ each
    expected = np.mean([(4 * (0.2 + 0.1 * i) + 2 * (0.25 + 0.1 * i)) / 6 for i in range(3)])
    assert v["point_estimate"] == pytest.approx(expected) and v["Alignment Mean"] == pytest.approx(expected, abs=0.005)
    assert v["N"] == 18 and v["n_parse_fail"] == 3 and v["parse_fail_rate"] == pytest.approx(3 / 18)
    assert 0.0 < v["Alignment Error"] < 0.02 and v["note"] == ""
    logp = head.loc["m (Log-p)"]
    assert logp["Alignment Mean"] == pytest.approx(0.6) and logp["Alignment Error"] == pytest.approx(0.0, abs=1e-12)
    assert logp["note"] == "only OpinionQA" and logp["N"] == 5
    seq = head.loc["m (Seq)"]
    gap = out.k2s.set_index("Model Name").loc["m"]
    assert gap["K2S Mean"] == pytest.approx(seq["Alignment Mean"] / v["Alignment Mean"] - 1)


def test_per_dataset_and_both_lines_by_hand() -> None:
    allb = build(board(), 50).everything
    one = allb[(allb["Model Name"] == "m (V)") & (allb["Dataset"] == "nytimes") & (allb["Task Type"] == "task1")]
    assert one["Alignment Mean"].tolist() == pytest.approx([0.3]) and one["N"].tolist() == [4]  # a constant pool
    both = allb[(allb["Model Name"] == "m (Seq)") & (allb["Dataset"] == "both")]
    oqa, nyt = (4 * 0.3 + 2 * 0.35) / 6, (4 * 0.4 + 2 * 0.45) / 6
    assert both["point_estimate"].tolist() == pytest.approx([0.5 * oqa + 0.5 * nyt]) and both["N"].tolist() == [12]


def test_k2s_edge_cases_and_the_eval_csv() -> None:
    import pandas as pd

    head = pd.DataFrame(
        {
            "model": ["a", "a", "b", "c", "c"],
            "output_type": ["express_distribution", "sequence", "sequence", "express_distribution", "sequence"],
            "Alignment Mean": [0.25, 0.3, 0.4, 0.0, 0.2],
        }
    )
    gaps = k2s(head).set_index("Model Name")["K2S Mean"]
    assert gaps["a"] == pytest.approx(0.2) and "b" not in gaps and math.isnan(gaps["c"])
    frame = eval_frame([row("m", "sequence", "opinionqa", "task1", 0.123456, 3, fail=2), row("m", "x", "d", "t", 0, 0)])
    assert frame["TV"].tolist() == ["0.12346", ""] and frame["n"].tolist() == [3, 0]
    assert frame["n_parse_fail"].tolist() == [2, 0] and frame["all_tvs"][0] == "[0.123456, 0.123456, 0.123456]"


# --- the fixed-mode check of stored against data truth ---------------------------------------------------------
def test_fixed_mode_counts_stored_truths_that_disagree_with_the_data(tmp_path) -> None:
    import json

    import lm_steering

    data = tmp_path / "data"
    write_tiny_oqa(data)
    results = tmp_path / "results"
    argv = ["--no_progress", "--models", "fake/oracle", "--dataset", "opinionqa", "--task", "1", "--limit", "3"]
    argv += ["--output_type", "model_logprobs", "--data_dir", str(data), "--results_dir", str(results), "--no_cache"]
    assert lm_steering.main(argv) == 0
    clean = _checks(evaluate(results, data, human=False))
    assert clean["stored expected vectors compared with the data"] == 17 and not any(
        r.startswith("stored expected vector differs") for r in clean
    )
    path = next(results.rglob("Democrat.json"))
    recs = json.loads(path.read_text())
    first = next(iter(recs))
    truth = recs[first]["expected_results"]
    recs[first]["expected_results"] = dict(zip(truth, reversed(list(truth.values())), strict=True))
    path.write_text(json.dumps(recs))
    assert _checks(evaluate(results, data, human=False))["stored expected vector differs from the data"] == 1


def _checks(ev: Evaluation) -> Counter[str]:
    out: Counter[str] = Counter()
    for key, n in ev.tally.counts.items():
        if key[0] in (CHECK, INFO):
            out[key[-1]] += n
    return out


def test_fit_edges_by_hand() -> None:
    p, q = planted(2.5, 3, 7)  # a small pool: the objective varies by less than 1 over the grid
    assert cal.fit_fixed(p, q) == pytest.approx(2.5, rel=0.02)
    assert cal.fit_fixed(p[:1], q[:1]) == pytest.approx(2.5, rel=0.02)  # one row is enough
    assert cal.Rows.build([]).p.shape == (0, 1)
    assert set(cal.assign_folds(["a", "b", "c"], 1, 0).values()) == {0}
    # rows far apart in scale: each row is stabilised by its own maximum
    rows = cal.rescale(np.array([[0.5, 0.5], [1e-300, 1e-300]]), 0.5)
    assert rows.tolist() == [[0.5, 0.5], [0.5, 0.5]]


def test_all_zero_rows_are_left_out_of_fixed_fits_only() -> None:
    p, q = planted(2.0, 8, 8)
    p[0] = 0.0
    qids = tuple(f"q{i}" for i in range(8))
    (fit,), _ = cal.fit_pool(cal.Rows(qids, p, q), "fixed", 1, 0, ("m", "d", "t"))
    assert (fit.n_rows, fit.n_excluded, fit.n_all_zero) == (7, 1, 1)
    assert fit.objective == pytest.approx(cal.summed_tv(fit.temperature, p[1:], q[1:]) / 7)
    assert cal.fit_fixed(p, q) == cal.fit_fixed(p[1:], q[1:])
    (paper,), _ = cal.fit_pool(cal.Rows(qids, p, q), "paper", 1, 0, ("m", "d", "t"))
    assert (paper.n_rows, paper.n_excluded, paper.n_all_zero) == (8, 0, 1) and math.isnan(paper.objective)
    fits, temps = cal.fit_pool(cal.Rows(qids, p, q), "fixed", 2, 0, ("m", "d", "t"))
    assert len(fits) == 3  # two folds are cross-fitted too
    by_hand = np.mean([cal.tv_batch(cal.rescale(p[i], temps[qids[i]]), q[i]) for i in range(1, 8)])
    assert fits[0].heldout_tv == pytest.approx(by_hand)  # the all-zero row is not scored
    two = cal.Rows(("a", "b"), p[1:3], q[1:3])
    assert len(cal.fit_pool(two, "fixed", 5, 0, ("m", "d", "t"))[0]) == 3  # two questions: two folds
