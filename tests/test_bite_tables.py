"""The leaderboard tables of a small evaluation, line by line, worked out by hand.

Every row holds constant scores, so each line's point estimate is a weighted mean that can be written down; the
tests pin the lines' order (registry order of datasets, then tasks; human lines after their cell; simulated lines;
"both" lines), their names, datasets, tasks, N, notes and the files :func:`write` produces. ``bench/mutation.py``
measures how many planted one-line bugs these tests catch.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pandas as pd
import pytest

from distalign.evaluation import Evaluation
from distalign.evaluation.leaderboards import EVAL_COLUMNS, LB_COLUMNS, build, eval_frame, k2s, write
from distalign.evaluation.tally import SKIP, Tally
from distalign.results import ResultKey
from distalign.types import TVRow


def row(model: str, method: str, dataset: str, task: str, tvs: tuple[float, ...], fail: int = 0) -> TVRow:
    return TVRow(task, model, dataset, dataset, "G", "d", method, tvs, tuple(f"q{i}" for i in range(len(tvs))), 0, fail)


def evaluation() -> Evaluation:
    rows = [
        row("m", "express_distribution", "nytimes", "task1", (0.4, 0.4)),
        row("m", "express_distribution", "opinionqa", "task1", (0.2, 0.2), fail=1),
        row("m", "express_distribution", "opinionqa", "task3_easy_hard", (0.3,)),
        row("m", "sequence", "opinionqa", "task1", (0.5,)),
        row("simulated", "uniform", "opinionqa", "truth", (0.35, 0.35)),
        row("simulated", "floor", "opinionqa", "truth", (0.1,)),
        row("human", "express_distribution", "opinionqa", "task1", (0.1,)),
        row("human", "express_distribution", "nytimes", "task3_easy_hard", (0.6,)),  # a cell only humans have
    ]
    tally = Tally()
    tally.add(SKIP, ResultKey("opinionqa", "sequence", "m", "task1", "G", "d"), "malformed record", 2)
    return Evaluation("fixed", 0, rows, [], tally)


def cells(frame, *columns: str) -> list[tuple]:
    return [tuple(r) for r in frame[list(columns)].itertuples(index=False)]


def test_every_line_of_the_per_dataset_table() -> None:
    allb = build(evaluation(), 30).everything
    assert cells(allb, "Model Name", "Dataset", "Task Type", "model", "method", "output_type", "N", "note") == [
        ("m (V)", "opinionqa", "task1", "m", "V", "express_distribution", 2, ""),
        ("m (Seq)", "opinionqa", "task1", "m", "Seq", "sequence", 1, ""),
        ("human", "opinionqa", "task1", "human", "V", "express_distribution", 1, ""),
        ("m (V)", "opinionqa", "task3_easy_hard", "m", "V", "express_distribution", 1, ""),
        ("m (V)", "nytimes", "task1", "m", "V", "express_distribution", 2, ""),
        ("human", "nytimes", "task3_easy_hard", "human", "V", "express_distribution", 1, ""),
        ("simulated", "opinionqa", "uniform", "", "", "", 2, ""),
        ("simulated", "opinionqa", "floor", "", "", "", 1, ""),
        ("m (V)", "both", "task1_task3", "m", "V", "express_distribution", 5, ""),
        ("m (Seq)", "both", "task1_task3", "m", "Seq", "sequence", 1, "only OpinionQA"),
        ("human", "both", "task1_task3", "human", "V", "express_distribution", 2, ""),
    ]
    points = allb["point_estimate"].tolist()
    v_both = 0.5 * 0.7 / 3 + 0.5 * 0.4
    assert points == pytest.approx([0.2, 0.5, 0.1, 0.3, 0.4, 0.6, 0.35, 0.1, v_both, 0.5, 0.5 * 0.1 + 0.5 * 0.6])
    assert allb["n_parse_fail"].tolist() == [1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0]


def test_every_line_of_the_headline_and_the_gap() -> None:
    out = build(evaluation(), 30)
    assert cells(out.headline, "Model Name", "Dataset", "Task Type", "N", "note") == [
        ("m (V)", "three", "task1_task3", 5, "only OpinionQA, NYT Books"),
        ("m (Seq)", "three", "task1_task3", 1, "only OpinionQA"),
        ("simulated", "three", "uniform", 2, "only OpinionQA"),
        ("simulated", "three", "floor", 1, "only OpinionQA"),
    ]
    v = 0.5 * 0.7 / 3 + 0.5 * 0.4  # the datasets present, reweighted to ½ each
    assert out.headline["point_estimate"].tolist() == pytest.approx([v, 0.5, 0.35, 0.1])
    assert out.headline["parse_fail_rate"].tolist()[:2] == pytest.approx([1 / 5, 0.0])
    assert cells(out.k2s, "Model Name", "Dataset", "Task Type") == [("m", "three", "knowledge_to_sim_gap")]
    assert out.k2s["V Mean"].tolist() == pytest.approx([v], abs=0.05)
    assert out.k2s["K2S Mean"].tolist() == pytest.approx([out.k2s["Seq Mean"][0] / out.k2s["V Mean"][0] - 1])


def test_the_files_written(tmp_path: Path) -> None:
    paths = write(build(evaluation(), 30), tmp_path)
    assert [p.name for p in paths] == [
        "eval_disagreement_bootstrapping.csv",
        "leaderboard_distrib_alignment.csv",
        "leaderboard_distrib_alignment_all.csv",
        "k2s_gap.csv",
        "eval_skips.csv",
        "pairwise_differences.csv",
        "eval_positions.csv",
        "leaderboard.md",
    ]
    with open(tmp_path / "eval_disagreement_bootstrapping.csv", newline="") as fh:
        table = list(csv.reader(fh))
    assert table[0] == EVAL_COLUMNS and len(table) == 9
    assert table[1] == ["task1", "m", "nytimes", "nytimes", "G", "d", "express_distribution", "0.40000"] + [
        "[0.4, 0.4]",
        "2",
        "0",
        "0",
    ]
    with open(tmp_path / "leaderboard_distrib_alignment.csv", newline="") as fh:
        assert next(csv.reader(fh)) == LB_COLUMNS
    skips = (tmp_path / "eval_skips.csv").read_text().splitlines()
    assert skips == [
        "kind,dataset,output_type,model,task,group,demographic,reason,count",
        "skip,opinionqa,sequence,m,task1,G,d,malformed record,2",
    ]
    assert (tmp_path / "leaderboard.md").read_text().startswith("#")
    assert (tmp_path / "k2s_gap.csv").read_text().splitlines()[
        0
    ] == "Model Name,Dataset,Task Type,K2S Mean,V Mean,Seq Mean"


def test_k2s_edge_cases_empty_cells_and_empty_tables(tmp_path: Path) -> None:
    head = pd.DataFrame(
        {
            "model": ["a", "a", "b", "c", "c"],
            "output_type": ["express_distribution", "sequence", "sequence", "express_distribution", "sequence"],
            "Alignment Mean": [0.25, 0.3, 0.4, 0.0, 0.2],
        }
    )
    gaps = k2s(head).set_index("Model Name")["K2S Mean"]
    assert gaps["a"] == pytest.approx(0.2) and "b" not in gaps and math.isnan(gaps["c"])  # b has no V; c's V is 0
    frame = eval_frame([row("m", "x", "d", "t", ())])
    assert frame["TV"].tolist() == [""] and frame["n"].tolist() == [0]
    ev = Evaluation("fixed", 0, [row("c", "express_distribution", "opinionqa", "task1", (0.0,))], [], Tally())
    ev.rows.append(row("c", "sequence", "opinionqa", "task1", (0.25,)))  # exact in fixed point
    write(build(ev, 10), tmp_path)
    assert (tmp_path / "k2s_gap.csv").read_text().splitlines()[1] == "c,three,knowledge_to_sim_gap,,0.0,0.25"
    assert (
        tmp_path / "eval_skips.csv"
    ).read_text() == "kind,dataset,output_type,model,task,group,demographic,reason,count\n"
