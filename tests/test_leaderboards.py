"""Leaderboards: weights, K2S, n/a and new-model rows, formats, identical reruns, metrics (docs/original.md §7.5)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from eval_fixtures import make_data, oqa_truth, record, result_file

import lm_steering_eval
from distalign.evaluation import Evaluation
from distalign.evaluation.leaderboards import K2S_COLUMNS, K2S_UNDEFINED, LB_COLUMNS, build, write
from distalign.evaluation.tally import SKIP, Tally
from distalign.metrics import METRICS, FloatArray, Metric
from distalign.types import TVRow

ORIGINAL_LB = ["Model Name", "Dataset", "Task Type", "Alignment Mean", "Alignment Error"]


def row(model: str, method: str, dataset: str, tvs: list[float], task: str = "task1", fail: int = 0) -> TVRow:
    return TVRow(task, model, dataset, "w", "G", "d", method, tuple(tvs), n_parse_fail=fail)


@pytest.fixture
def ev() -> Evaluation:
    rows = [
        row("gpt-4", "express_distribution", "opinionqa", [0.3, 0.3], fail=1),
        row("gpt-4", "express_distribution", "nytimes", [0.6], task="task3_easy_hard"),
        row("gpt-4", "express_distribution", "globalvalues", [0.9]),
        row("gpt-4", "express_distribution", "opinionqa", [0.0], task="task0"),  # not in the headline
        *(row("gpt-4", "sequence", d, [0.4]) for d in ("opinionqa", "nytimes", "globalvalues")),
        row("local__tiny", "independent_samples", "opinionqa", [0.2]),
        *(row("simulated", "uniform", d, [0.5], "truth") for d in ("opinionqa", "nytimes", "globalvalues")),
        row("human", "express_distribution", "opinionqa", [0.1]),
        row("human", "express_distribution", "nytimes", [0.3]),
    ]
    tally = Tally()
    tally.add(SKIP, None, "file of a demographic that is not evaluated", 3)
    na = [("opinionqa", "model_logprobs", "anthropic_opus", "no log-probabilities")]
    return Evaluation("fixed", 0, rows, na, tally)


def test_headline(ev: Evaluation) -> None:
    head = build(ev, 50).headline.set_index("Model Name")
    assert list(build(ev, 50).headline.columns[:5]) == ORIGINAL_LB
    v = head.loc["gpt-4 (V)"]
    assert v["Alignment Mean"] == pytest.approx(0.6) and v["Alignment Error"] == pytest.approx(0.0)  # ⅓(.3+.6+.9)
    assert v["N"] == 4 and v["n_parse_fail"] == 1 and v["parse_fail_rate"] == pytest.approx(0.25)
    tiny = head.loc["local__tiny (Samples)"]
    assert tiny["Alignment Mean"] == pytest.approx(0.2) and tiny["note"] == "only OpinionQA"
    opus = head.loc["anthropic_opus (Log-p)"]
    assert pd.isna(opus["Alignment Mean"]) and opus["note"] == "n/a: no log-probabilities"
    assert head.loc["simulated"]["Task Type"] == "uniform"


def test_k2s_all_and_markdown(ev: Evaluation) -> None:
    out = build(ev, 50)
    assert list(out.k2s.columns) == K2S_COLUMNS
    gap = out.k2s.set_index("Model Name").loc["gpt-4"]
    assert gap["K2S Mean"] == pytest.approx(0.4 / 0.6 - 1)
    allb = out.everything
    both = allb[(allb["Model Name"] == "gpt-4 (V)") & (allb["Dataset"] == "both")].iloc[0]
    assert both["Alignment Mean"] == pytest.approx(0.45)  # ½·.3 + ½·.6
    human = allb[(allb["Model Name"] == "human") & (allb["Dataset"] == "both")].iloc[0]
    assert human["Alignment Mean"] == pytest.approx(0.2)
    task0 = allb[(allb["Task Type"] == "task0")]
    assert task0["Alignment Mean"].tolist() == [0.0]
    md = out.markdown
    for text in (
        "Mode: **fixed** · seed 0 · 50 bootstrap resamples",
        "n/a — anthropic_opus, Log-p: no log-probabilities",
        "local/tiny",
        "0.6000 ± 0.0000",
        "-0.333",
        "Samples",
        "file of a demographic that is not evaluated: 3",
    ):
        assert text in md


def test_files_are_overwritten_with_json_lists(ev: Evaluation, tmp_path: Path) -> None:
    out = build(ev, 20)
    (tmp_path / "k2s_gap.csv").write_text("stale\n" * 100)
    write(out, tmp_path)
    first = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    write(out, tmp_path)
    assert first == {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    assert b"stale" not in first["k2s_gap.csv"]
    evals = pd.read_csv(tmp_path / "eval_disagreement_bootstrapping.csv")
    assert json.loads(evals["all_tvs"][0]) == [0.3, 0.3]
    assert list(pd.read_csv(tmp_path / "leaderboard_distrib_alignment_all.csv").columns) == LB_COLUMNS


def test_cli_same_seed_same_bytes_and_new_models_appear(tmp_path: Path) -> None:
    data, res = make_data(tmp_path / "data"), tmp_path / "results"
    for model in ("gpt-4", "openai__gpt-4o-2024-08-06"):
        recs = {
            q: record(
                {"A": 0.5, "B": 0.5, "C": 0.0} if q == "q1" else {"A": 1.0, "B": 0.0},
                "",
                oqa_truth("POLPARTY", "Democrat", q),
            )
            for q in ("q1", "q2")
        }
        result_file(res, "opinionqa", "model_logprobs", model, "task1", "POLPARTY", "Democrat", recs)
    outs = []
    for name, seed in (("a", "0"), ("b", "0"), ("c", "1")):
        args = [
            "--results_dir",
            str(res),
            "--data_dir",
            str(data),
            "--output_dir",
            str(tmp_path / name),
            "--seed",
            seed,
            "--n_bootstrap",
            "30",
            "--quiet",
        ]
        assert lm_steering_eval.main(args) == 0
        outs.append({p.name: p.read_bytes() for p in (tmp_path / name).iterdir()})
    assert outs[0] == outs[1]
    model_lines = [
        [x for x in o["eval_disagreement_bootstrapping.csv"].splitlines() if b"simulated" not in x]
        for o in (outs[0], outs[2])
    ]
    assert model_lines[0] == model_lines[1]  # only the simulated sampling floor and the bootstrap use the seed
    assert outs[0]["leaderboard_distrib_alignment.csv"] != outs[2]["leaderboard_distrib_alignment.csv"]
    assert b"openai/gpt-4o-2024-08-06" in outs[0]["leaderboard.md"]


def test_cli_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        lm_steering_eval.main(
            [
                "--results_dir",
                str(tmp_path),
                "--data_dir",
                str(tmp_path),
                "--quiet",
                "--output_dir",
                str(tmp_path / "o"),
            ]
        )
        == 2
    )
    assert "no result files" in capsys.readouterr().err


def overlap(p: Sequence[float] | FloatArray, q: Sequence[float] | FloatArray) -> float:
    """Σ min(p_i, q_i) = 1 − TV: a higher-is-better score, registered only for these tests."""
    return float(np.minimum(p, q).sum())


@pytest.fixture
def with_overlap(monkeypatch: pytest.MonkeyPatch) -> Metric:
    metric = Metric(
        "overlap",
        "OVL",
        "Probability overlap",
        overlap,
        lambda p, q: np.minimum(p, q).sum(axis=-1),
        higher_is_better=True,
    )
    monkeypatch.setitem(METRICS, "overlap", metric)
    return metric


def test_a_registered_metric_flows_through(ev: Evaluation, with_overlap: Metric) -> None:
    out = build(replace(ev, metric="overlap"), 20)
    assert out.headline["metric"].eq("overlap").all() and out.everything.columns[-1] == "metric"
    assert out.eval_rows.columns[-1] == "metric"
    gap = out.k2s.set_index("Model Name").loc["gpt-4"]
    assert pd.isna(gap["K2S Mean"]) and gap["note"] == K2S_UNDEFINED and gap["metric"] == "overlap"
    assert gap["V Mean"] == pytest.approx(0.6)  # the means are still reported
    md = out.markdown
    assert "Mode: **fixed** · metric **overlap** · seed 0" in md
    assert "Probability overlap to the human distribution (OVL ↑, higher is better)" in md
    assert "K2S: not defined for a higher-is-better metric." in md and "-0.333" not in md
    gpt4 = next(line for line in md.splitlines() if line.startswith("| gpt-4 "))
    assert gpt4.rstrip(" |").endswith("–")  # empty K2S cell


def test_jsd_run_keeps_the_k2s_gap_and_tags_tables(ev: Evaluation) -> None:
    out = build(replace(ev, metric="jsd"), 20)
    assert out.k2s.set_index("Model Name").loc["gpt-4", "K2S Mean"] == pytest.approx(0.4 / 0.6 - 1)
    assert list(out.k2s.columns) == [*K2S_COLUMNS, "metric"]
    assert list(out.headline.columns) == [*LB_COLUMNS, "metric"] and list(out.skips.columns)[-1] == "count"
    assert "| Reference " in out.markdown and " JSD |" in out.markdown
