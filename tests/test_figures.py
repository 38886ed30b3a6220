"""Tests of the figures (distalign.figures; docs/original.md §8): each figure renders from a small fixture
(Agg backend) with the expected axes, labels and series; new models appear automatically; missing inputs are
skipped with a note. The NYT figures are tested in ``tests/test_figures_nyt.py``."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from figure_fixtures import bar_groups, results_folder, tick_texts  # noqa: E402

from distalign import figures  # noqa: E402
from distalign.figures import data, plots  # noqa: E402
from distalign.figures.__main__ import main  # noqa: E402
from distalign.figures.style import split_model_method  # noqa: E402
from distalign.names import METHOD_DESCRIPTIONS  # noqa: E402


@pytest.fixture
def results(tmp_path: Path) -> Path:
    return results_folder(tmp_path)


# ---- parsing -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("gpt-4 (V)", ("gpt-4", "V")),
        ("gpt-4 (TS-Log-p)", ("gpt-4", "TS-Log-p")),
        ("anthropic_opus (sequence)", ("anthropic_opus", "Seq")),
        ("hf/org/model-7b (Log-p)", ("hf/org/model-7b", "Log-p")),
        ("m [rescaled_model_logprobs]", ("m", "TS-Log-p")),
        ("human", ("human", "")),
        ("x (New-Method)", ("x", "New-Method")),
    ],
)
def test_split_model_method(name, expected):
    assert split_model_method(name) == expected


def test_leaderboard_table_kinds(results):
    table = data.leaderboard_table(pd.read_csv(results / "leaderboard_distrib_alignment.csv"))
    assert set(table["kind"]) == {"model", "simulated"}
    assert set(table.loc[table["kind"] == "simulated", "method"]) == {"ground_truth", "uniform", "LB1"}
    assert len(table[table["kind"] == "model"]) == 8  # empty (n/a) cells dropped


# ---- figures -----------------------------------------------------------------------------------------------
def test_leaderboard_figure(results):
    fig = figures.build("leaderboard", results, results.parent)
    ax = fig.axes[0]
    assert len(bar_groups(ax)) == 4  # one bar series per method
    assert tick_texts(ax) == ["GPT-4", "Claude 3 Opus", "openai/gpt-4o"]
    assert "TV ↓ (lower is better)" in ax.get_ylabel()
    ys = sorted(round(line.get_ydata()[0], 4) for line in ax.get_lines() if len(set(line.get_ydata())) == 1)
    assert 0.1147 in ys and 0.3634 in ys  # the 30-sample floor and uniform
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend[0] == "verbalize (V)" and len(legend) == 4


def test_k2s_figure_uses_csv_and_computes_missing(results):
    table = data.leaderboard_table(pd.read_csv(results / "leaderboard_distrib_alignment.csv"))
    fig = plots.plot_k2s_gap(table, pd.DataFrame({"model": ["gpt-4"], "k2s": [0.2135]}))
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert "K2S +21%" in texts  # from the CSV
    assert "K2S +25%" in texts  # gpt-4o: 0.25 / 0.20 − 1, computed
    assert tick_texts(fig.axes[0], "y") == ["openai/gpt-4o", "Claude 3 Opus", "GPT-4"]


def test_breakdown_figure(results):
    fig = figures.build("breakdown", results, results.parent)
    heat = [ax for ax in fig.axes if ax.images]
    assert [ax.get_title(loc="left") for ax in heat] == [
        "verbalize (V)",
        "sequence (Seq)",
        "log-probs (Log-p)",
        METHOD_DESCRIPTIONS["TS-Log-p"],
    ]
    assert heat[0].images[0].get_array().shape == (3, 8)  # 3 models × (3 + 3 + 2 without GV no steering)
    assert heat[2].images[0].get_array().shape == (1, 8)  # only gpt-4 has log-probs
    assert "no steering" in tick_texts(heat[0])
    assert any("TV ↓" in ax.get_ylabel() for ax in fig.axes)  # the colour bar


def test_humans_vs_llms_figure(results):
    evaluation = pd.read_csv(results / "eval_disagreement_bootstrapping.csv")
    table = data.humans_vs_llms(evaluation, seed=0)
    assert set(table["model"]) == {"human", "gpt-4", "openai/gpt-4o"}  # Seq and simulated rows left out
    assert table.equals(data.humans_vs_llms(evaluation, seed=0))  # seeded
    fig = plots.plot_humans_vs_llms(table)
    ax = fig.axes[0]
    assert [c.get_label() for c in bar_groups(ax)] == ["no steering", "persona", "few-shot"]
    assert tick_texts(ax)[0] == "Humans"


def test_calibration_figure(results):
    pairs = data.calibration_pairs(results)
    assert set(pairs["variant"]) == {"Log-p", "TS-Log-p"} and len(pairs) == 2 * 40 * 4  # null record skipped
    bins = data.calibration_bins(pairs)
    assert bins["bin"].between(0, 9).all()
    assert bins.groupby(["model", "variant"])["n"].sum().tolist() == [160, 160]
    fig = plots.plot_calibration(bins, pairs)
    assert [ax.get_title() for ax in fig.axes] == ["GPT-4"]
    assert fig.axes[0].get_xlim() == (0, 1)


def test_calibration_bins_hand_computed():
    pairs = pd.DataFrame({"model": "m", "variant": "Log-p", "expected": [0.1, 0.3, 0.9], "output": [0.05, 0.08, 1.0]})
    bins = data.calibration_bins(pairs)
    assert bins["bin"].tolist() == [0, 9]
    assert np.allclose(bins["expected"], [0.2, 0.9]) and bins["n"].tolist() == [2, 1]


# ---- degrading gracefully ----------------------------------------------------------------------------------
def test_empty_tables_render_a_note():
    empty = pd.DataFrame(columns=["kind", "model", "method", "dataset", "steering", "mean", "error"])
    for fig in (
        plots.plot_leaderboard(empty),
        plots.plot_breakdown(empty),
        plots.plot_humans_vs_llms(pd.DataFrame(columns=["model", "steering", "mean", "error"])),
    ):
        assert any(t.get_text().startswith("no ") for ax in fig.axes for t in ax.texts)


def test_build_all_skips_missing_inputs(tmp_path):
    notes: list[str] = []
    saved = figures.build_all(tmp_path, tmp_path / "figs", tmp_path, log=notes.append)
    assert saved == {}
    assert len(notes) == len(figures.FIGURES) and all(n.startswith("skip ") for n in notes)
    assert any("lm_steering_eval.py" in n for n in notes)


def test_unknown_figure_name():
    with pytest.raises(ValueError, match="valid: leaderboard"):
        figures.build("pie")


def test_cli_writes_png_and_pdf(results, capsys):
    out = results / "figures"
    assert main(["--results_dir", str(results), "--out", str(out), "--data_dir", str(results.parent)]) == 0
    for name in figures.FIGURES:
        assert (out / f"{name}.png").stat().st_size > 10_000 and (out / f"{name}.pdf").exists()
    assert capsys.readouterr().out.count("wrote") == len(figures.FIGURES)
