"""Tests of the figures (distalign.figures; docs/original.md §8): each figure renders from a small fixture
(Agg backend) with the expected axes, labels and series; new models appear automatically; missing inputs are
skipped with a note."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.container import BarContainer  # noqa: E402

from distalign import figures  # noqa: E402
from distalign.figures import data, plots  # noqa: E402
from distalign.figures.__main__ import main  # noqa: E402
from distalign.figures.style import split_model_method  # noqa: E402
from distalign.names import METHOD_DESCRIPTIONS  # noqa: E402
from distalign.results import ResultKey, result_path, write_results  # noqa: E402

MODELS = {"gpt-4": (0.229, 0.278, 0.550, 0.274), "anthropic_opus": (0.226, 0.325, None, None),
          "openai/gpt-4o": (0.20, 0.25, None, None)}  # a new model must appear without code changes
METHODS = ("V", "Seq", "Log-p", "TS-Log-p")
TASKS = {"none": "task0", "persona": "task1", "fewshot": "task3_easy_hard"}
LIKERT = ["1: Very unlikely", "2: Somewhat unlikely", "3: Somewhat likely", "4: Very likely"]


# ---- fixtures ----------------------------------------------------------------------------------------------
def leaderboard_csv(path: Path) -> None:
    rows = [{"Model Name": f"{m} ({k})", "Dataset": "three", "Task Type": "task1_task3", "Alignment Mean": v,
             "Alignment Error": 0.006 if v is not None else None}
            for m, vals in MODELS.items() for k, v in zip(METHODS, vals, strict=True)]
    rows += [{"Model Name": "simulated", "Dataset": "three", "Task Type": t, "Alignment Mean": v,
              "Alignment Error": 0.004} for t, v in (("ground_truth", 0.1147), ("uniform", 0.3634), ("LB1", 0.71))]
    pd.DataFrame(rows).to_csv(path, index=False)


def leaderboard_all_csv(path: Path) -> None:
    rows = []
    for m, vals in MODELS.items():
        for k, v in zip(METHODS, vals, strict=True):
            for d in ("opinionqa", "nytimes", "globalvalues"):
                for s, task in TASKS.items():
                    if v is not None and not (d == "globalvalues" and s == "none"):
                        rows.append({"Model Name": f"{m} ({k})", "Dataset": d, "Task Type": task,
                                     "Alignment Mean": v + 0.01 * len(s), "Alignment Error": 0.01})
    rows.append({"Model Name": "human", "Dataset": "both", "Task Type": "task1_task3", "Alignment Mean": 0.24,
                 "Alignment Error": 0.01})
    pd.DataFrame(rows).to_csv(path, index=False)


def eval_csv(path: Path) -> None:
    rng, rows = np.random.default_rng(0), []
    for model, out in (("human", "express_distribution"), ("gpt-4", "express_distribution"), ("gpt-4", "sequence"),
                       ("openai/gpt-4o", "express_distribution"), ("simulated", "uniform")):
        for d in ("opinionqa", "nytimes", "globalvalues"):
            for task in TASKS.values():
                tvs = np.round(rng.uniform(0.1, 0.4, 30), 5).tolist()
                rows.append({"Task Type": task, "Model": model, "Dataset": d, "Wave": "w",
                             "Demographic Group/Avg": "g", "Demographic/Avg": "d", "Output Type": out,
                             "TV": np.mean(tvs), "all_tvs": json.dumps(tvs)})
    pd.DataFrame(rows).to_csv(path, index=False)


def nyt_data(root: Path, n: int = 10) -> None:
    rng, books = np.random.default_rng(1), {}
    for i in range(n):
        books[f"Book {i} By Author {i}"] = {"MC_options": LIKERT, "genre": "Fiction", "summary": "s",
                                            **{g: dict(zip(LIKERT, map(int, rng.integers(1, 9, 4)), strict=True))
                                               for g in ("Democrat", "Republican")}}
    (root / "nytimes").mkdir(parents=True, exist_ok=True)
    (root / "nytimes" / "POLPARTY_data.json").write_text(json.dumps(books))
    humans = {g: {f"{k}_{s}": [0.25, 0.25, 0.3, 0.2] if s == "avg" else [0.01] * 4
                  for k in ("nosteer", "persona", "fewshot", "gt") for s in ("avg", "bs")}
              for g in ("Democrat", "Republican")}
    (root / "results" / "human_annotations").mkdir(parents=True, exist_ok=True)
    (root / "results" / "human_annotations" / "all_q_ID_to_TV.json").write_text(json.dumps({"humans": humans}))
    for model in ("gpt-4", "anthropic_opus"):
        for task in ("task1", "task3_easy_hard"):
            for g in ("Democrat", "Republican"):
                recs = {b: {"avg_actual_results": dict(zip("ABCD", rng.dirichlet(np.ones(4)).tolist(), strict=True))}
                        for b in books}
                recs["Book 0 By Author 0"]["avg_actual_results"] = None  # a parse failure is skipped
                key = ResultKey("nytimes", "express_distribution", model, task, "POLPARTY", g)
                write_results(result_path(root / "results", key), recs)


def logprob_results(root: Path) -> None:
    rng = np.random.default_rng(2)
    for out in ("model_logprobs", "rescaled_model_logprobs"):
        recs = {}
        for q in range(40):
            truth = rng.dirichlet(np.ones(4))
            recs[f"Q{q}"] = {"avg_actual_results": dict(zip("ABCD", rng.dirichlet(np.ones(4) * 0.3), strict=True)),
                             "expected_results": dict(zip("ABCD", truth, strict=True))}
        recs["Qnan"] = {"avg_actual_results": None, "expected_results": {"A": 1.0}}
        key = ResultKey("opinionqa", out, "gpt-4", "task1", "POLPARTY", "Democrat")
        write_results(result_path(root, key), json.loads(json.dumps(recs, default=float)))


@pytest.fixture
def results(tmp_path: Path) -> Path:
    res = tmp_path / "results"
    res.mkdir()
    leaderboard_csv(res / "leaderboard_distrib_alignment.csv")
    leaderboard_all_csv(res / "leaderboard_distrib_alignment_all.csv")
    eval_csv(res / "eval_disagreement_bootstrapping.csv")
    nyt_data(tmp_path)
    logprob_results(res)
    return res


def bar_groups(ax) -> list[BarContainer]:
    return [c for c in ax.containers if isinstance(c, BarContainer)]


def tick_texts(ax, axis: str = "x") -> list[str]:
    return [t.get_text() for t in (ax.get_xticklabels() if axis == "x" else ax.get_yticklabels())]


# ---- parsing -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "expected"), [
    ("gpt-4 (V)", ("gpt-4", "V")), ("gpt-4 (TS-Log-p)", ("gpt-4", "TS-Log-p")),
    ("anthropic_opus (sequence)", ("anthropic_opus", "Seq")),
    ("hf/org/model-7b (Log-p)", ("hf/org/model-7b", "Log-p")), ("m [rescaled_model_logprobs]", ("m", "TS-Log-p")),
    ("human", ("human", "")), ("x (New-Method)", ("x", "New-Method")),
])
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
    assert [ax.get_title(loc="left") for ax in heat] == ["verbalize (V)", "sequence (Seq)", "log-probs (Log-p)",
                                                         METHOD_DESCRIPTIONS["TS-Log-p"]]
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


def test_stereotyping_figure(results):
    table = data.stereotype_table(results, results.parent, seed=0)
    assert set(table["source"]) == {"truth", "human", "model"}
    model_n = table.loc[table["source"] == "model", "n"].unique().tolist()
    assert model_n == [2]  # two models averaged
    fig = plots.plot_stereotyping(table)
    assert [ax.get_title() for ax in fig.axes] == ["Democrats: how likely to read the book?",
                                                   "Republicans: how likely to read the book?"]
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels == ["ground truth", "humans · persona", "humans · few-shot", "LLMs · persona", "LLMs · few-shot"]


def test_partisan_books_figure(results):
    table = data.book_gaps(results.parent, n_each=3, seed=0)
    books = list(dict.fromkeys(table["book"]))
    gaps = table.drop_duplicates("book")["gap"].to_numpy()
    assert len(books) == 6 and np.all(np.diff(gaps) <= 0)  # largest Rep − Dem first
    fig = plots.plot_partisan_books(table)
    ax = fig.axes[0]
    assert [c.get_label() for c in bar_groups(ax)] == ["Democrats", "Republicans"]
    assert tick_texts(ax, "y")[0] == "Book {}\nAuthor {}".format(*[books[0].split()[1]] * 2)


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
    for fig in (plots.plot_leaderboard(empty), plots.plot_breakdown(empty),
                plots.plot_humans_vs_llms(pd.DataFrame(columns=["model", "steering", "mean", "error"]))):
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
