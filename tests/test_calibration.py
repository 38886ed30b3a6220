"""Tests of temperature scaling (distalign.calibration, temperature_scaling.py; docs/original.md §6).

Constructed pools where the right temperature is known, the paper-mode artefacts (NaN objective -> 3.8197,
task0 duplication), cross-fitting, NaN-free fixed-mode output, and (marked ``data``) reproduction of the
released TS-Log-p files and Table 1 means from the released log-probs.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest

import temperature_scaling
from distalign import calibration as cal
from distalign.results import ResultKey, read_results, result_path, write_results

REPO = Path(__file__).resolve().parents[1]
OQA_DEMS = [
    ("POLPARTY", "Democrat"),
    ("POLPARTY", "Republican"),
    ("SEX", "Male"),
    ("SEX", "Female"),
    ("RACE", "Black"),
    ("RACE", "White"),
]


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def known_pool(t_true: float, n: int = 200, k: int = 4, seed: int = 0) -> cal.Rows:
    """truth = softmax(z), model = softmax(z · t_true): rescaling by t_true recovers the truth exactly."""
    z = np.random.default_rng(seed).normal(size=(n, k))
    truth, model = softmax(z), softmax(z * t_true)
    return cal.Rows.build([(f"q{i}", model[i], truth[i]) for i in range(n)])


# ---- the transform -----------------------------------------------------------------------------------------
def test_rescale_hand_computed():
    # [0.8, 0.2] at T = 2: sqrt -> [0.894, 0.447] / 1.342 = [2/3, 1/3]
    assert np.allclose(cal.rescale(np.array([0.8, 0.2]), 2.0), [2 / 3, 1 / 3])
    assert np.allclose(cal.rescale(np.array([0.8, 0.2]), 1.0), [0.8, 0.2])
    # unnormalised input is renormalised; zeros stay zero
    assert np.allclose(cal.rescale(np.array([0.3, 0.0, 0.3]), 5.0), [0.5, 0.0, 0.5])


def test_rescale_all_zero_row_paper_nan_fixed_zero():
    p = np.array([[0.0, 0.0], [0.9, 0.1]])
    assert np.isnan(cal.rescale(p, 3.0, paper=True)[0]).all()
    out = cal.rescale(p, 3.0)
    assert out[0].tolist() == [0.0, 0.0] and not np.isnan(out).any()


def test_rescale_tiny_temperature_does_not_underflow():
    out = cal.rescale(np.array([1e-30, 2e-30]), 0.01)
    assert np.allclose(out, [0.0, 1.0]) and not np.isnan(out).any()


# ---- fitting -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("t_true", [0.5, 2.0, 7.0])
def test_both_fits_recover_known_temperature(t_true):
    rows = known_pool(t_true)
    assert cal.fit_paper(rows.p, rows.q) == pytest.approx(t_true, rel=1e-3)
    assert cal.fit_fixed(rows.p, rows.q) == pytest.approx(t_true, rel=1e-3)


def test_fixed_searches_beyond_the_paper_bound():
    rows = known_pool(30.0)
    assert cal.fit_paper(rows.p, rows.q) == pytest.approx(10.0, abs=1e-3)  # the original hits its bound
    assert cal.fit_fixed(rows.p, rows.q) == pytest.approx(30.0, rel=1e-3)


def test_paper_nan_objective_gives_first_brent_probe():
    rows = known_pool(2.0, n=20)
    p = np.vstack([rows.p, np.zeros((1, rows.p.shape[1]))])
    q = np.vstack([rows.q, np.full((1, rows.q.shape[1]), 0.25)])
    assert math.isnan(cal.summed_tv(2.0, p, q, paper=True))
    assert cal.fit_paper(p, q) == pytest.approx(10 * (3 - math.sqrt(5)) / 2, abs=1e-9)  # 3.8197
    assert cal.fit_fixed(p, q) == pytest.approx(2.0, rel=1e-3)  # the all-zero row is excluded


def test_flat_objective_keeps_temperature_one():
    onehot = np.eye(3)[[0, 1, 2, 0]]
    truth = np.full((4, 3), 1 / 3)
    assert cal.fit_fixed(onehot, truth) == 1.0


def test_assign_folds_seeded_and_balanced():
    ids = [f"q{i}" for i in range(23)]
    a, b = cal.assign_folds(ids, 5, seed=1), cal.assign_folds(list(reversed(ids)), 5, seed=1)
    assert a == b  # depends on the set of ids and the seed only
    assert sorted(np.bincount(list(a.values()))) == [4, 4, 5, 5, 5]
    assert a != cal.assign_folds(ids, 5, seed=2)


# ---- cross-fitting -----------------------------------------------------------------------------------------
def test_cross_fit_temperatures_come_from_the_other_folds():
    rows = known_pool(3.0, n=100)
    fits, temps = cal.fit_pool(rows, "fixed", folds=4, seed=0, where=("m", "d", "task1"))
    assert [f.fold for f in fits] == ["all", "0", "1", "2", "3"]
    fold_of = cal.assign_folds(rows.qids, 4, seed=0)
    for fit in fits[1:]:
        train = np.array([fold_of[q] != int(fit.fold) for q in rows.qids])
        assert fit.temperature == pytest.approx(cal.fit_fixed(rows.p[train], rows.q[train]))
        assert fit.n_rows == int(train.sum())
        assert all(temps[q] == fit.temperature for q in rows.qids if fold_of[q] == int(fit.fold))
    assert not math.isnan(fits[0].heldout_tv)


def test_cross_fit_is_not_an_oracle():
    """Changing the truth of fold 0's questions does not change the temperature applied to them."""
    rows = known_pool(3.0, n=100)
    _, temps = cal.fit_pool(rows, "fixed", folds=5, seed=0, where=("m", "d", "t"))
    fold_of = cal.assign_folds(rows.qids, 5, seed=0)
    in0 = np.array([fold_of[q] == 0 for q in rows.qids])
    q2 = rows.q.copy()
    q2[in0] = softmax(np.log(rows.p[in0]) / 9.0)  # a very different truth for fold 0 only
    _, temps2 = cal.fit_pool(cal.Rows(rows.qids, rows.p, q2), "fixed", folds=5, seed=0, where=("m", "d", "t"))
    assert all(temps[q] == temps2[q] for q in rows.qids if fold_of[q] == 0)
    assert any(temps[q] != temps2[q] for q in rows.qids if fold_of[q] != 0)


def test_paper_mode_is_one_transductive_temperature():
    rows = known_pool(2.0, n=30)
    fits, temps = cal.fit_pool(rows, "paper", folds=5, seed=0, where=("m", "d", "t"))
    assert len(fits) == 1 and fits[0].fold == "all" and set(temps.values()) == {fits[0].temperature}


def test_unknown_mode_raises():
    with pytest.raises(ValueError, match="valid"):
        cal.fit_pool(known_pool(2.0, n=5), "oracle", 5, 0, ("m", "d", "t"))


# ---- files -------------------------------------------------------------------------------------------------
def vec(values: np.ndarray) -> dict[str, float]:
    return {letter: float(v) for letter, v in zip("ABCD", values, strict=True)}


def make_results(root: Path, t_true: float = 2.0, n: int = 20, zero_row: bool = True) -> None:
    """A toy OQA tree for one model: task1 per demographic, task0 NONE with every group's stored truth."""
    rng = np.random.default_rng(0)
    for i, (group, dem) in enumerate(OQA_DEMS):
        recs = {}
        for j in range(n):
            z = rng.normal(size=4)
            model = softmax(z * t_true) * (0.0 if zero_row and i == 0 and j == 0 else 1.0)
            recs[f"Q{j}"] = {
                "actual_results": {a: [v] for a, v in vec(model).items()},
                "avg_actual_results": vec(model),
                "response": ["A"],
                "expected_results": vec(softmax(z)),
            }
        write_results(result_path(root, ResultKey("opinionqa", "model_logprobs", "toy", "task1", group, dem)), recs)
    none = {}
    for j in range(n):
        z = rng.normal(size=4)
        rec = {"avg_actual_results": vec(softmax(z * t_true)), "response": ["B"]}
        for group, dem in OQA_DEMS:
            rec[f"expected_results_{group}_{dem}"] = vec(softmax(z + rng.normal(0, 0.1, 4)))
        none[f"Q{j}"] = rec
    write_results(result_path(root, ResultKey("opinionqa", "model_logprobs", "toy", "task0", "NONE", "Democrat")), none)


def out_file(root: Path, task: str, group: str, dem: str, mode: str = "fixed") -> Path:
    return result_path(root, ResultKey("opinionqa", cal.TARGETS[mode], "toy", task, group, dem))


def test_calibrate_fixed_writes_layout_fields_and_csv(tmp_path):
    make_results(tmp_path / "in")
    fits = cal.calibrate(tmp_path / "in", tmp_path / "out", datasets=["opinionqa"], mode="fixed", folds=4)
    recs = read_results(out_file(tmp_path / "out", "task1", "POLPARTY", "Democrat"))
    src = read_results(
        result_path(tmp_path / "in", ResultKey("opinionqa", "model_logprobs", "toy", "task1", "POLPARTY", "Democrat"))
    )
    assert list(recs) == list(src)
    for qid, rec in recs.items():
        assert set(rec) == set(src[qid]) | {"temperature"}
        assert rec["response"] == src[qid]["response"] and rec["expected_results"] == src[qid]["expected_results"]
        assert all(isinstance(v, float) and not math.isnan(v) for v in rec["avg_actual_results"].values())
    assert recs["Q0"]["avg_actual_results"] == {"A": 0.0, "B": 0.0, "C": 0.0, "D": 0.0}  # all-zero kept, no NaN
    pooled = next(f for f in fits if f.task == "task1" and f.fold == "all")
    assert pooled.n_excluded == 1 and pooled.n_rows == 6 * 20 - 1
    assert pooled.temperature == pytest.approx(2.0, rel=1e-3)
    with open(tmp_path / "out" / "temperature_scaling_fixed.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0])[:8] == ["model", "dataset", "task", "fold", "temperature", "n_rows", "n_excluded", "objective"]
    assert {r["task"] for r in rows} == {"task0", "task1"} and len(rows) == 2 * 5


def test_calibrate_paper_task0_duplicates_and_uses_democrat_truth(tmp_path):
    make_results(tmp_path / "in")
    fits = cal.calibrate(tmp_path / "in", tmp_path / "out", datasets=["opinionqa"], mode="paper")
    task0 = next(f for f in fits if f.task == "task0")
    assert task0.n_rows == 6 * 20  # the NONE file read once per demographic
    none = read_results(
        result_path(tmp_path / "in", ResultKey("opinionqa", "model_logprobs", "toy", "task0", "NONE", "Democrat"))
    )
    rows = cal.Rows.build(
        [(q, list(r["avg_actual_results"].values()), list(r[cal.PAPER_TASK0_TRUTH].values())) for q, r in none.items()]
    )
    assert task0.temperature == pytest.approx(cal.fit_paper(rows.p, rows.q), abs=1e-4)
    task1 = next(f for f in fits if f.task == "task1")
    assert task1.temperature == pytest.approx(3.8197, abs=1e-4) and math.isnan(task1.objective)
    zero = read_results(out_file(tmp_path / "out", "task1", "POLPARTY", "Democrat", "paper"))["Q0"]
    assert zero["avg_actual_results"] is None and zero["parse_ok"] is False
    assert "temperature" not in zero


def test_calibrate_same_seed_same_bytes(tmp_path):
    make_results(tmp_path / "in")
    for name in ("a", "b"):
        cal.calibrate(tmp_path / "in", tmp_path / name, datasets=["opinionqa"], folds=3, seed=7)
    for rel in (
        "temperature_scaling_fixed.csv",
        "opinionqa/rescaled_model_logprobs_cv/toy/task1/Pew_American_Trends_Panel_disagreement_100/SEX/Male.json",
    ):
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes()


def test_cli_defaults_and_summary(tmp_path, capsys):
    make_results(tmp_path)
    assert temperature_scaling.main(["--results_dir", str(tmp_path), "--datasets", "opinionqa"]) == 0
    out = capsys.readouterr().out
    assert "toy" in out and "task1" in out
    assert out_file(tmp_path, "task0", "NONE", "Democrat").exists()
    assert (tmp_path / "temperature_scaling_fixed.csv").exists()


def test_paper_mode_keeps_existing_rescaled_files_unless_overwrite(tmp_path):
    make_results(tmp_path)
    target = out_file(tmp_path, "task1", "SEX", "Male", "paper")
    target.parent.mkdir(parents=True)
    source = result_path(tmp_path, ResultKey("opinionqa", "model_logprobs", "toy", "task1", "SEX", "Male"))
    released = json.dumps({q: {"kept": {}} for q in read_results(source)})
    target.write_text(released)  # stands for a released file of the pool (same questions); the others are missing
    assert {f.task for f in cal.calibrate(tmp_path, datasets=["opinionqa"], mode="paper")} == {"task0", "task1"}
    written = (tmp_path / "temperature_scaling_paper.csv").read_text()
    fits = cal.calibrate(tmp_path, datasets=["opinionqa"], mode="paper")
    assert fits == []  # every pool's rescaled files exist now: nothing refit, nothing rewritten
    assert (tmp_path / "temperature_scaling_paper.csv").read_text() == written  # the fits CSV kept too
    target.write_text(released)
    cal.calibrate(tmp_path, datasets=["opinionqa"], mode="paper")
    assert target.read_text() == released
    target.write_text('{"Q0": {"kept": {}}}')  # out of date (another question set): refit
    assert {f.task for f in cal.calibrate(tmp_path, datasets=["opinionqa"], mode="paper")} == {"task1"}
    lines = (tmp_path / "temperature_scaling_paper.csv").read_text().splitlines()
    assert [line.split(",")[2] for line in lines[1:]] == ["task1", "task0"]  # the kept pool's row carried over
    assert cal.calibrate(tmp_path, datasets=["opinionqa"], mode="paper", overwrite=True)
    assert "kept" not in read_results(target)
    assert not (tmp_path / "opinionqa" / "rescaled_model_logprobs_cv").exists()


def test_cli_empty_results_dir(tmp_path, capsys):
    assert temperature_scaling.main(["--results_dir", str(tmp_path)]) == 1
    assert "nothing to scale" in capsys.readouterr().err and not list(tmp_path.iterdir())


def test_a_run_that_fits_nothing_keeps_the_previous_csv(tmp_path, capsys):
    make_results(tmp_path)
    assert temperature_scaling.main(["--results_dir", str(tmp_path), "--datasets", "opinionqa"]) == 0
    csv_path = tmp_path / "temperature_scaling_fixed.csv"
    before = csv_path.read_bytes()
    capsys.readouterr()
    assert temperature_scaling.main(["--results_dir", str(tmp_path), "--models", "toy_typo"]) == 2
    assert "no model_logprobs results of 'toy_typo'" in capsys.readouterr().err and "toy" in csv_path.read_text()
    assert temperature_scaling.main(["--results_dir", str(tmp_path), "--datasets", "nytimes"]) == 1
    assert "nothing fitted" in capsys.readouterr().err and csv_path.read_bytes() == before


def test_summary_columns_are_aligned_whatever_the_name_lengths():
    long = "local__smollm2-135m-instruct-with-a-much-longer-name"
    fits = [
        cal.Fit(long, "opinionqa", "task3_easy_hard", cal.ALL_FOLDS, 1.234, 10, 0, 0.3, 2, 0.31),
        cal.Fit(long, "opinionqa", "task3_easy_hard", "0", 1.1, 10, 0, 0.3, 0),
        cal.Fit("gpt-4", "nytimes", "task1", cal.ALL_FOLDS, 10.0, 10, 0, 0.3, 0),
    ]
    lines = temperature_scaling.summary(fits).splitlines()
    assert lines[1].startswith(long + "  opinionqa  task3_easy_hard")
    starts = [line.index(word) for line, word in zip(lines, ("dataset", "opinionqa", "nytimes"), strict=True)]
    assert len(set(starts)) == 1  # every dataset cell starts in the same column
    ends = [line.index(word) + len(word) for line, word in zip(lines, ("T (all)", "1.2340", "10.0000"), strict=True)]
    assert len(set(ends)) == 1  # numbers are right-aligned under their header
