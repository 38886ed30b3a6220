"""Fixture data of the figure tests: small leaderboard and evaluation CSVs, NYT data, log-prob results.

:func:`results_folder` writes every input of the figures under a temporary folder; ``tests/test_figures.py`` and
``tests/test_figures_nyt.py`` build their ``results`` fixture with it. A new model (``openai/gpt-4o``) is among
them, so it must appear in the figures without code changes.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.container import BarContainer

from distalign.results import ResultKey, result_path, write_results

MODELS = {
    "gpt-4": (0.229, 0.278, 0.550, 0.274),
    "anthropic_opus": (0.226, 0.325, None, None),
    "openai/gpt-4o": (0.20, 0.25, None, None),
}  # a new model must appear without code changes
METHODS = ("V", "Seq", "Log-p", "TS-Log-p")
TASKS = {"none": "task0", "persona": "task1", "fewshot": "task3_easy_hard"}
LIKERT = ["1: Very unlikely", "2: Somewhat unlikely", "3: Somewhat likely", "4: Very likely"]


def leaderboard_csv(path: Path) -> None:
    rows = [
        {
            "Model Name": f"{m} ({k})",
            "Dataset": "three",
            "Task Type": "task1_task3",
            "Alignment Mean": v,
            "Alignment Error": 0.006 if v is not None else None,
        }
        for m, vals in MODELS.items()
        for k, v in zip(METHODS, vals, strict=True)
    ]
    rows += [
        {"Model Name": "simulated", "Dataset": "three", "Task Type": t, "Alignment Mean": v, "Alignment Error": 0.004}
        for t, v in (("ground_truth", 0.1147), ("uniform", 0.3634), ("LB1", 0.71))
    ]
    pd.DataFrame(rows).to_csv(path, index=False)


def leaderboard_all_csv(path: Path) -> None:
    rows = []
    for m, vals in MODELS.items():
        for k, v in zip(METHODS, vals, strict=True):
            for d in ("opinionqa", "nytimes", "globalvalues"):
                for s, task in TASKS.items():
                    if v is not None and not (d == "globalvalues" and s == "none"):
                        rows.append(
                            {
                                "Model Name": f"{m} ({k})",
                                "Dataset": d,
                                "Task Type": task,
                                "Alignment Mean": v + 0.01 * len(s),
                                "Alignment Error": 0.01,
                            }
                        )
    rows.append(
        {
            "Model Name": "human",
            "Dataset": "both",
            "Task Type": "task1_task3",
            "Alignment Mean": 0.24,
            "Alignment Error": 0.01,
        }
    )
    pd.DataFrame(rows).to_csv(path, index=False)


def eval_csv(path: Path) -> None:
    rng, rows = np.random.default_rng(0), []
    for model, out in (
        ("human", "express_distribution"),
        ("gpt-4", "express_distribution"),
        ("gpt-4", "sequence"),
        ("openai/gpt-4o", "express_distribution"),
        ("simulated", "uniform"),
    ):
        for d in ("opinionqa", "nytimes", "globalvalues"):
            for task in TASKS.values():
                tvs = np.round(rng.uniform(0.1, 0.4, 30), 5).tolist()
                rows.append(
                    {
                        "Task Type": task,
                        "Model": model,
                        "Dataset": d,
                        "Wave": "w",
                        "Demographic Group/Avg": "g",
                        "Demographic/Avg": "d",
                        "Output Type": out,
                        "TV": np.mean(tvs),
                        "all_tvs": json.dumps(tvs),
                    }
                )
    pd.DataFrame(rows).to_csv(path, index=False)


def nyt_data(root: Path, n: int = 10) -> None:
    rng, books = np.random.default_rng(1), {}
    for i in range(n):
        books[f"Book {i} By Author {i}"] = {
            "MC_options": LIKERT,
            "genre": "Fiction",
            "summary": "s",
            **{g: dict(zip(LIKERT, map(int, rng.integers(1, 9, 4)), strict=True)) for g in ("Democrat", "Republican")},
        }
    (root / "nytimes").mkdir(parents=True, exist_ok=True)
    (root / "nytimes" / "POLPARTY_data.json").write_text(json.dumps(books))
    humans = {
        g: {
            f"{k}_{s}": [0.25, 0.25, 0.3, 0.2] if s == "avg" else [0.01] * 4
            for k in ("nosteer", "persona", "fewshot", "gt")
            for s in ("avg", "bs")
        }
        for g in ("Democrat", "Republican")
    }
    (root / "results" / "human_annotations").mkdir(parents=True, exist_ok=True)
    (root / "results" / "human_annotations" / "all_q_ID_to_TV.json").write_text(json.dumps({"humans": humans}))
    for model in ("gpt-4", "anthropic_opus"):
        for task in ("task1", "task3_easy_hard"):
            for g in ("Democrat", "Republican"):
                recs = {
                    b: {"avg_actual_results": dict(zip("ABCD", rng.dirichlet(np.ones(4)).tolist(), strict=True))}
                    for b in books
                }
                recs["Book 0 By Author 0"]["avg_actual_results"] = None  # a parse failure is skipped
                key = ResultKey("nytimes", "express_distribution", model, task, "POLPARTY", g)
                write_results(result_path(root / "results", key), recs)


def logprob_results(root: Path) -> None:
    rng = np.random.default_rng(2)
    for out in ("model_logprobs", "rescaled_model_logprobs"):
        recs = {}
        for q in range(40):
            truth = rng.dirichlet(np.ones(4))
            recs[f"Q{q}"] = {
                "avg_actual_results": dict(zip("ABCD", rng.dirichlet(np.ones(4) * 0.3), strict=True)),
                "expected_results": dict(zip("ABCD", truth, strict=True)),
            }
        recs["Qnan"] = {"avg_actual_results": None, "expected_results": {"A": 1.0}}
        key = ResultKey("opinionqa", out, "gpt-4", "task1", "POLPARTY", "Democrat")
        write_results(result_path(root, key), json.loads(json.dumps(recs, default=float)))


def results_folder(tmp_path: Path) -> Path:
    """The results folder ``tmp_path/results`` with every input of the figures (NYT data under ``tmp_path``)."""
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
