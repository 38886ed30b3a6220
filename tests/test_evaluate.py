"""Evaluation semantics on tiny hand-made trees: paper vs fixed, skips and malformed files, --metric."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import pandas as pd
import pytest
from eval_fixtures import make_data, oqa_truth, record, result_file
from hypothesis import given, settings
from hypothesis import strategies as st

import lm_steering_eval
from distalign.evaluation import evaluate
from distalign.evaluation.fixed import FixedSemantics
from distalign.evaluation.paper import PaperSemantics
from distalign.files import DataError
from distalign.results import ResultKey
from distalign.types import TVRow

D1 = {"A": 0.5, "B": 0.0, "C": 0.5}


@pytest.fixture
def tree(tmp_path: Path) -> tuple[Path, Path]:
    data = make_data(tmp_path / "data")
    return data, tmp_path / "results"


def rows_of(rows: list[TVRow], **kw: str) -> list[TVRow]:
    return [r for r in rows if all(getattr(r, k) == v for k, v in kw.items())]


def one(rows: list[TVRow], **kw: str) -> TVRow:
    found = rows_of(rows, **kw)
    assert len(found) == 1, found
    return found[0]


def test_paper_tv_uses_stored_vectors(tree: tuple[Path, Path]) -> None:
    data, res = tree
    recs = {
        "q1": record(D1, expected=oqa_truth("POLPARTY", "Democrat", "q1")),
        "q2": record({"A": 1.0, "B": 0.0}, expected=oqa_truth("POLPARTY", "Democrat", "q2")),
    }
    result_file(res, "opinionqa", "sequence", "gpt-4", "task1", "POLPARTY", "Democrat", recs)
    ev = evaluate(res, data, "paper", human=False)
    row = one(ev.rows, model="gpt-4")
    assert row.tvs == pytest.approx((0.25, 0.5))  # ½(.25+.25+0), ½(.5+.5)
    assert row.qids == ("q1", "q2")


def test_task0_paper_walk_vs_fixed_text_alignment(tree: tuple[Path, Path]) -> None:
    data, res = tree
    recs = {"q1": record({"A": 0.0, "B": 0.0, "C": 1.0}), "q2": record({"A": 0.5, "B": 0.5})}
    result_file(res, "opinionqa", "model_logprobs", "gpt-4", "task0", "NONE", "Democrat", recs)
    paper = evaluate(res, data, "paper", human=False).rows
    fixed_ev = evaluate(res, data, "fixed", human=False)
    fixed = fixed_ev.rows
    # paper: letters are compared with MC_options [Yes, No, Refused] shares: Democrat [.5, .25, .25]
    assert one(paper, model="gpt-4", demographic="Democrat").tvs[0] == pytest.approx(0.75)
    # Male: walk [.5, .5, 0]; q2 has no Male respondents: zeros, TV = ½·Σp̂ = 0.5 (kept, as the original)
    assert one(paper, model="gpt-4", demographic="Male").tvs == pytest.approx((1.0, 0.5))
    # fixed: the Democrat dict's letters A=No, B=Refused, C=Yes against each group's own options
    assert one(fixed, model="gpt-4", demographic="Democrat").tvs[0] == pytest.approx(0.5)
    male = one(fixed, model="gpt-4", demographic="Male")
    assert male.tvs == pytest.approx((0.5,))  # union [No, Refused, Yes]: p̂ [0,0,1] vs [.5,0,.5]
    assert male.n_skipped == 1  # q2: no respondents, counted
    assert fixed_ev.tally.total("skip", "no ground truth") == 1
    assert len(rows_of(fixed, model="gpt-4")) == 6


def test_fixed_reparses_verbalized_and_scores_failures_as_uniform(tree: tuple[Path, Path]) -> None:
    data, res = tree
    truth = oqa_truth("POLPARTY", "Democrat", "q1")
    zeros = {"A": 0.0, "B": 0.0, "C": 0.0}
    recs = {
        "q1": record(zeros, "Sure: {'A': 0.25, 'B': 0.25, 'C': 0.5}", truth),
        "q2": record({"A": 0.0, "B": 0.0}, "I cannot answer.", oqa_truth("POLPARTY", "Democrat", "q2")),
    }
    result_file(res, "opinionqa", "express_distribution", "opus", "task1", "POLPARTY", "Democrat", recs)
    paper = one(evaluate(res, data, "paper", human=False).rows, model="opus")
    assert paper.tvs == pytest.approx((0.5, 0.5))  # all-zero vectors: ½·Σp*
    assert paper.n_parse_fail == 2  # counted as the original's silent failures
    ev = evaluate(res, data, "fixed", human=False)
    fixed = one(ev.rows, model="opus")
    assert fixed.tvs == pytest.approx((0.0, 0.0))  # q2: uniform [.5,.5] equals the truth [.5,.5]
    assert fixed.n_parse_fail == 1
    assert ev.tally.total("parse_failure") == 1


def test_own_records_parse_failure(tree: tuple[Path, Path]) -> None:
    data, res = tree
    rec = record(
        None,
        "garbage",
        oqa_truth("POLPARTY", "Democrat", "q1"),
        parse_ok=False,
        parse_error="no {...}",
        options=["No", "Refused", "Yes"],
    )
    result_file(res, "opinionqa", "express_distribution", "local__m", "task1", "POLPARTY", "Democrat", {"q1": rec})
    fixed = one(evaluate(res, data, "fixed", human=False).rows, model="local__m")
    assert fixed.tvs == pytest.approx((1 / 6,))  # uniform ⅓ vs [.25, .25, .5]
    assert fixed.n_parse_fail == 1
    paper = one(evaluate(res, data, "paper", human=False).rows, model="local__m")
    assert paper.tvs == pytest.approx((0.5,))  # the paper parser reads "garbage" as zeros


def test_nyt_rows_duplicated_only_in_paper_mode(tree: tuple[Path, Path]) -> None:
    data, res = tree
    for group, dem in [("POLPARTY", "Democrat"), ("POLPARTY", "Republican"), ("SEX", "Male"), ("SEX", "Female")]:
        recs = {
            f"Book {i}": record(
                {"A": 0.25, "B": 0.25, "C": 0.25, "D": 0.25}, expected={"A": 0.25, "B": 0.25, "C": 0.25, "D": 0.25}
            )
            for i in (1, 2)
        }
        result_file(res, "nytimes", "sequence", "gpt-4", "task1", group, dem, recs)
    paper = rows_of(evaluate(res, data, "paper", human=False).rows, model="gpt-4")
    fixed = rows_of(evaluate(res, data, "fixed", human=False).rows, model="gpt-4")
    assert len(paper) == 8 and sorted({r.wave for r in paper}) == ["POLPARTY", "SEX"]
    assert len(fixed) == 4
    rep = one(fixed, demographic="Republican")
    assert rep.tvs == pytest.approx((0.75, 0.75))  # uniform vs [1, 0, 0, 0]


def test_globalvalues_row(tree: tuple[Path, Path]) -> None:
    data, res = tree
    recs = {
        "Is X good?": record({"A": 1.0, "B": 0.0}, "AAAA", {"A": 0.5, "B": 0.5}),
        "Is Y good?": record({"A": 0.0, "B": 0.5, "C": 0.5}, "BBCC", {"A": 1.0, "B": 0.0, "C": 0.0}),
    }
    result_file(res, "globalvalues", "sequence", "gpt-4", "task1", "globalvalues", "0", recs)
    for mode in ("paper", "fixed"):
        row = one(evaluate(res, data, mode, human=False).rows, model="gpt-4")
        assert row.tvs == pytest.approx((0.5, 1.0))


def test_malformed_files_are_counted_not_crashing(tree: tuple[Path, Path]) -> None:
    data, res = tree
    truth = oqa_truth("POLPARTY", "Democrat", "q1")
    result_file(res, "opinionqa", "sequence", "m", "task1", "POLPARTY", "Democrat", '{"q1": {"avg_actual_res')
    result_file(
        res,
        "opinionqa",
        "model_logprobs",
        "m",
        "task1",
        "POLPARTY",
        "Republican",
        {"q1": record({"A": "x", "B": 1.0, "C": 0.0}, "", truth)},
    )
    result_file(
        res,
        "opinionqa",
        "model_logprobs",
        "m",
        "task1",
        "SEX",
        "Female",
        {"q1": record({"A": 0.5, "B": 0.5}, "", truth)},
    )
    result_file(res, "opinionqa", "sequence", "m", "task1", "RACE", "Asian", {"q1": record(D1, "", truth)})
    for mode in ("paper", "fixed"):
        ev = evaluate(res, data, mode, human=False)
        assert ev.tally.total("skip", "unreadable result file") == 1
        assert ev.tally.total("skip", "malformed record") == 1
        assert ev.tally.total("skip", "option count") == 1
        assert ev.tally.total("skip", "file of a demographic that is not evaluated") == 1
        assert all(r.tvs == () for r in rows_of(ev.rows, model="m"))
    with pytest.raises(DataError, match="malformed JSON"):
        evaluate(res, data, "fixed", human=False, strict=True)


def test_unknown_mode() -> None:
    with pytest.raises(ValueError, match="valid: paper, fixed"):
        evaluate(".", ".", "best")


def test_fixed_simulated_rows_from_truth(tree: tuple[Path, Path]) -> None:
    data, res = tree
    result_file(res, "opinionqa", "sequence", "gpt-4", "task1", "POLPARTY", "Democrat", {"q1": record(D1)})
    rows = evaluate(res, data, "fixed", human=False).rows
    uniform = one(rows, model="simulated", output_type="uniform", demographic="Democrat")
    assert uniform.tvs == pytest.approx((1 / 6, 0.0))  # [.25,.25,.5] vs ⅓; [.5,.5] vs ½
    mode = one(rows, model="simulated", output_type="true_mode", demographic="Democrat")
    assert mode.tvs == pytest.approx((0.5, 0.5))
    male = one(rows, model="simulated", output_type="ground_truth", demographic="Male")
    assert len(male.tvs) == 1  # q2 has no Male respondents


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=200), method=st.sampled_from(["express_distribution", "sequence", "model_logprobs"]))
def test_predictions_never_raise_on_arbitrary_text(text: str, method: str) -> None:
    key = ResultKey("opinionqa", method, "m", "task1", "POLPARTY", "Democrat")
    rec = record({"A": 0.2, "B": 0.8}, text)
    for semantics in (PaperSemantics, FixedSemantics):
        sem = semantics.__new__(semantics)
        out = sem.prediction(key, {**rec, "parse_ok": True}, 2, "x") if semantics is PaperSemantics else None
        assert out is None or len(out) == 2
    pred, reason = FixedSemantics.prediction(FixedSemantics.__new__(FixedSemantics), key, rec, 2, "x")
    assert (pred is None) == bool(reason)
    assert pred is None or abs(sum(pred) - 1) < 1e-9


# --- --metric ----------------------------------------------------------------------------------------------
def nyt_tree(res: Path) -> None:
    """gpt-4 Log-p puts all mass on "Very likely" for both books: Democrat truth uniform, Republican "Very unlikely"."""
    for group, dem in [("POLPARTY", "Democrat"), ("POLPARTY", "Republican"), ("SEX", "Male"), ("SEX", "Female")]:
        recs = {f"Book {i}": record({"A": 0.0, "B": 0.0, "C": 0.0, "D": 1.0}) for i in (1, 2)}
        result_file(res, "nytimes", "model_logprobs", "gpt-4", "task1", group, dem, recs)


# one-hot D vs uniform: TV ¾; JSD with m = (⅛, ⅛, ⅛, ⅝): ½(log2 8/5 + ¾ + ¼·log2 2/5) = 2 − ⅝·log2 5, its root;
# W1: CDF gaps ¼, ½, ¾ over 3 steps = ½. Against the Republican "Very unlikely": all three are 1.
JSD_ONE_HOT_UNIFORM4 = math.sqrt(2 - 0.625 * math.log2(5))


@pytest.mark.parametrize(
    "metric,democrat,republican", [("tv", 0.75, 1.0), ("jsd", JSD_ONE_HOT_UNIFORM4, 1.0), ("wasserstein", 0.5, 1.0)]
)
def test_fixed_mode_scores_cells_by_the_metric(
    tree: tuple[Path, Path], metric: str, democrat: float, republican: float
) -> None:
    data, res = tree
    nyt_tree(res)
    rows = evaluate(res, data, "fixed", human=False, metric=metric).rows
    assert one(rows, model="gpt-4", demographic="Democrat").tvs == pytest.approx((democrat, democrat))
    assert one(rows, model="gpt-4", demographic="Republican").tvs == pytest.approx((republican, republican))
    floor = one(rows, model="simulated", output_type="ground_truth", demographic="Republican")
    assert floor.tvs == (0.0, 0.0)  # a certain answer is reproduced exactly under every metric


def test_paper_mode_and_unknown_metric_are_rejected(
    tree: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    data, res = tree
    with pytest.raises(ValueError, match="paper mode scores by tv only"):
        evaluate(res, data, "paper", metric="jsd")
    with pytest.raises(ValueError, match="unknown metric 'kl'; valid: tv, jsd, wasserstein"):
        evaluate(res, data, "fixed", metric="kl")
    for args, message in (
        (["--mode", "paper", "--metric", "wasserstein"], "--mode paper scores by tv only"),
        (["--metric", "kl"], "choose from 'tv', 'jsd', 'wasserstein'"),
    ):
        with pytest.raises(SystemExit) as exit_:
            lm_steering_eval.main(["--results_dir", str(res), "--data_dir", str(data), *args])
        assert exit_.value.code == 2 and message in capsys.readouterr().err


def run_cli(tree: tuple[Path, Path], out: Path, *args: str) -> dict[str, bytes]:
    data, res = tree
    assert (
        lm_steering_eval.main(
            [
                "--results_dir",
                str(res),
                "--data_dir",
                str(data),
                "--output_dir",
                str(out),
                "--n_bootstrap",
                "20",
                "--quiet",
                *args,
            ]
        )
        == 0
    )
    return {p.name: p.read_bytes() for p in out.iterdir()}


def test_cli_metric_outputs(tree: tuple[Path, Path], tmp_path: Path) -> None:
    nyt_tree(tree[1])
    default, tv, jsd = (
        run_cli(tree, tmp_path / name, *args)
        for name, args in (("d", ()), ("tv", ("--metric", "tv")), ("jsd", ("--metric", "jsd")))
    )
    assert default == tv  # the default is TV, byte for byte, without a metric column or mention
    assert b",metric" not in default["eval_disagreement_bootstrapping.csv"]
    assert b"metric **" not in default["leaderboard.md"]
    evals = pd.read_csv(io.BytesIO(jsd["eval_disagreement_bootstrapping.csv"]))
    assert list(evals.columns[-2:]) == ["n_skipped", "metric"] and set(evals["metric"]) == {"jsd"}
    dem = evals[(evals["Model"] == "gpt-4") & (evals["Demographic/Avg"] == "Democrat")].iloc[0]
    assert json.loads(dem["all_tvs"]) == pytest.approx([JSD_ONE_HOT_UNIFORM4] * 2)
    for name in ("leaderboard_distrib_alignment.csv", "leaderboard_distrib_alignment_all.csv", "k2s_gap.csv"):
        assert pd.read_csv(io.BytesIO(jsd[name])).columns[-1] == "metric"
    head = pd.read_csv(io.BytesIO(jsd["leaderboard_distrib_alignment.csv"])).set_index("Model Name")
    old = pd.read_csv(io.BytesIO(tv["leaderboard_distrib_alignment.csv"])).set_index("Model Name")
    assert head.loc["gpt-4 (Log-p)", "Alignment Mean"] != old.loc["gpt-4 (Log-p)", "Alignment Mean"]
    md = jsd["leaderboard.md"].decode()
    assert "Mode: **fixed** · metric **jsd** · seed 0" in md and "(JSD ↓, lower is better)" in md
    assert "| Reference " in md and " JSD |" in md
