"""Leaderboards: weights, K2S, n/a and new-model rows, file formats, byte-identical reruns (SPEC §7.3–§7.5)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from eval_fixtures import make_data, oqa_truth, record, result_file

import lm_steering_eval
from distalign.evaluation import Evaluation
from distalign.evaluation.tally import SKIP, Tally
from distalign.leaderboards import K2S_COLUMNS, LB_COLUMNS, build, write
from distalign.types import TVRow

ORIGINAL_LB = ["Model Name", "Dataset", "Task Type", "Alignment Mean", "Alignment Error"]


def row(model: str, method: str, dataset: str, tvs: list[float], task: str = "task1", fail: int = 0) -> TVRow:
    return TVRow(task, model, dataset, "w", "G", "d", method, tuple(tvs), n_parse_fail=fail)


@pytest.fixture
def ev() -> Evaluation:
    rows = [row("gpt-4", "express_distribution", "opinionqa", [0.3, 0.3], fail=1),
            row("gpt-4", "express_distribution", "nytimes", [0.6], task="task3_easy_hard"),
            row("gpt-4", "express_distribution", "globalvalues", [0.9]),
            row("gpt-4", "express_distribution", "opinionqa", [0.0], task="task0"),  # not in the headline
            *(row("gpt-4", "sequence", d, [0.4]) for d in ("opinionqa", "nytimes", "globalvalues")),
            row("local__tiny", "independent_samples", "opinionqa", [0.2]),
            *(row("simulated", "uniform", d, [0.5], "truth") for d in ("opinionqa", "nytimes", "globalvalues")),
            row("human", "express_distribution", "opinionqa", [0.1]),
            row("human", "express_distribution", "nytimes", [0.3])]
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
    for text in ("Mode: **fixed** · seed 0 · 50 bootstrap resamples", "n/a: no log-probabilities", "local/tiny",
                 "0.6000 ± 0.0000", "-0.333", "Samples", "file of a demographic that is not evaluated: 3"):
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
        recs = {q: record({"A": 0.5, "B": 0.5, "C": 0.0} if q == "q1" else {"A": 1.0, "B": 0.0}, "",
                          oqa_truth("POLPARTY", "Democrat", q)) for q in ("q1", "q2")}
        result_file(res, "opinionqa", "model_logprobs", model, "task1", "POLPARTY", "Democrat", recs)
    outs = []
    for name, seed in (("a", "0"), ("b", "0"), ("c", "1")):
        args = ["--results_dir", str(res), "--data_dir", str(data), "--output_dir", str(tmp_path / name),
                "--seed", seed, "--n_bootstrap", "30", "--quiet"]
        assert lm_steering_eval.main(args) == 0
        outs.append({p.name: p.read_bytes() for p in (tmp_path / name).iterdir()})
    assert outs[0] == outs[1]
    model_lines = [[x for x in o["eval_disagreement_bootstrapping.csv"].splitlines() if b"simulated" not in x]
                   for o in (outs[0], outs[2])]
    assert model_lines[0] == model_lines[1]  # only the simulated sampling floor and the bootstrap use the seed
    assert outs[0]["leaderboard_distrib_alignment.csv"] != outs[2]["leaderboard_distrib_alignment.csv"]
    assert b"openai/gpt-4o-2024-08-06" in outs[0]["leaderboard.md"]


def test_cli_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert lm_steering_eval.main(["--results_dir", str(tmp_path), "--data_dir", str(tmp_path), "--quiet",
                                  "--output_dir", str(tmp_path / "o")]) == 2
    assert "no result files" in capsys.readouterr().err
