"""Leaderboard tables by hand: the positions table, plugin datasets, simulated kinds per dataset, K2S edges.

Every expected cell is written out from the documented layout of :mod:`distalign.evaluation.leaderboards`:
``eval_positions.csv`` holds the eval CSV's key columns and each row's file positions as JSON; the per-dataset
table lists registered datasets in registry order and any other dataset after them; a simulated kind gets a line
only for the datasets it has rows on; K2S needs both a V and a Seq score of a named model.
``bench/mutation.py`` measures how many planted one-line bugs these tests catch.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from distalign.evaluation import Evaluation
from distalign.evaluation.leaderboards import KEY_COLUMNS, LB_COLUMNS, build, k2s, write
from distalign.evaluation.tally import Tally
from distalign.types import TVRow

V, SEQ = "express_distribution", "sequence"


def row(model: str, method: str, dataset: str, task: str, tvs: tuple[float, ...], at: tuple[int, ...] = ()) -> TVRow:
    qids = tuple(f"q{i}" for i in range(len(tvs)))
    return TVRow(task, model, dataset, dataset, "G", "d", method, tvs, qids, positions=at)


def test_the_positions_table(tmp_path: Path) -> None:
    rows = [row("m", V, "opinionqa", "task1", (0.5, 0.25), at=(3, 0)), row("m", SEQ, "nytimes", "task1", (0.75,), (1,))]
    out = build(Evaluation("fixed", 0, rows, [], Tally()), 10)
    assert list(out.positions.columns) == [*KEY_COLUMNS, "positions"]
    assert out.positions.values.tolist() == [
        ["task1", "m", "opinionqa", "opinionqa", "G", "d", V, "[3, 0]"],
        ["task1", "m", "nytimes", "nytimes", "G", "d", SEQ, "[1]"],
    ]
    write(out, tmp_path)
    lines = (tmp_path / "eval_positions.csv").read_text().splitlines()
    assert lines[0] == "Task Type,Model,Dataset,Wave,Demographic Group/Avg,Demographic/Avg,Output Type,positions"
    assert lines[1:] == [
        'task1,m,opinionqa,opinionqa,G,d,express_distribution,"[3, 0]"',
        "task1,m,nytimes,nytimes,G,d,sequence,[1]",
    ]


def test_plugin_datasets_come_last_and_simulated_kinds_keep_their_datasets() -> None:
    rows = [
        row("m", V, "mydata", "task1", (0.2,)),  # a dataset the registry does not know (a plugin's)
        row("m", V, "opinionqa", "task1", (0.4,)),
        row("simulated", "uniform", "opinionqa", "truth", (0.3,)),
        row("simulated", "floor", "nytimes", "truth", (0.1,)),
    ]
    allb = build(Evaluation("fixed", 0, rows, [], Tally()), 10).everything
    assert [tuple(r) for r in allb[["Model Name", "Dataset", "Task Type", "N"]].itertuples(index=False)] == [
        ("m (V)", "opinionqa", "task1", 1),
        ("m (V)", "mydata", "task1", 1),
        ("simulated", "opinionqa", "uniform", 1),
        ("simulated", "nytimes", "floor", 1),
        ("m (V)", "both", "task1_task3", 1),
    ]
    assert list(allb.columns) == LB_COLUMNS


def test_k2s_needs_a_named_model_with_both_scores() -> None:
    head = pd.DataFrame(
        {
            "model": ["v_only", "", "", "x", "x"],  # "": reference lines (simulated), never a K2S row
            "output_type": [V, V, SEQ, V, SEQ],
            "Alignment Mean": [0.2, 0.25, 0.5, 0.5, 0.75],
        }
    )
    gap = k2s(head)
    assert gap["Model Name"].tolist() == ["x"] and gap["K2S Mean"].tolist() == [0.5]  # 0.75 / 0.5 − 1
    assert gap["Task Type"].tolist() == ["knowledge_to_sim_gap"] and not math.isnan(gap["V Mean"][0])


def test_only_human_rows_still_build() -> None:
    out = build(Evaluation("fixed", 0, [row("human", V, "opinionqa", "task1", (0.1,))], [], Tally()), 10)
    assert list(out.headline.columns) == LB_COLUMNS and out.headline.empty
