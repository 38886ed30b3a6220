"""Human baseline from Qualtrics-style exports: first k = 4 complete answers, paper vs fixed (docs/original.md §7.6)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from eval_fixtures import make_data

from distalign.evaluation.base import Context
from distalign.evaluation.human import ANNOTATIONS, Estimates, human_rows, question_ids, read_survey
from distalign.metrics import get_metric

BLOCKS = ("Q_NoSteering", "Q135", "Q136", "Q137")
EMPTY = ["", "", "", ""]
# Book 1 answers per block, in file order (Qualtrics IDs: book 1 -> "1", book 2 -> "103", never answered)
ANSWERS = {
    "Q_NoSteering": [
        [100, 0, 0, 0],
        [50, 50, "", ""],
        [0, 100, 0, 0],
        ["abc", 0, 0, 0],
        [0, 0, 100, 0],
        [0, 0, 0, 100],
        [100, 0, 0, 0],
    ],
    "Q135": [[100, 0, 0, 0]] * 7,
    "Q136": [[0, 0, 50, 0]] * 7,  # sums to 50: paper keeps it as is, fixed renormalises
    "Q137": [[25, 75, 0, 0]] * 7,
}


def write_export(path: Path) -> None:
    fields = [f"{qid}_{b}_{k}" for qid in (1, 103) for b in BLOCKS for k in range(1, 5)]
    header = ["Q84", "QDem_Gend", *fields]
    rows = [
        header,
        ["Prolific ID", "Gender", *("estimate" for _ in fields)],
        ['{"ImportId":"QID1"}', '{"ImportId":"QID2"}', *('{"ImportId":"x"}' for _ in fields)],
    ]
    for i in range(7):
        values = [v for b in BLOCKS for v in ANSWERS[b][i]] + EMPTY * len(BLOCKS)
        rows.append([f"5f03{i}", "Female", *values])
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(rows)


@pytest.fixture
def data(tmp_path: Path) -> Path:
    root = make_data(tmp_path / "data")
    write_export(root / ANNOTATIONS / "Distributional_Alignment_Persona_Steering - NYT_July 3, 2024_10.32.csv")
    return root


def test_reader_drops_identifying_columns_and_header_rows(data: Path) -> None:
    df = read_survey(sorted((data / ANNOTATIONS).glob("*.csv")))
    assert "Q84" not in df.columns and "QDem_Gend" not in df.columns
    assert len(df) == 7 and question_ids(df) == [1, 103]


def test_first_four_complete_answers_in_file_order(data: Path) -> None:
    est = Estimates(read_survey(sorted((data / ANNOTATIONS).glob("*.csv"))))
    mean, bad = est.first_k_mean([f"1_Q_NoSteering_{k}" for k in range(1, 5)])
    assert mean == [25.0, 25.0, 25.0, 25.0]  # rows 1, 3, 5, 6: row 2 is incomplete, row 4 not numeric, row 7 is 5th
    assert bad == 1
    assert est.first_k_mean([f"103_Q135_{k}" for k in range(1, 5)]) == (None, 0)


@pytest.mark.parametrize("mode,male", [("paper", 0.25), ("fixed", 0.5)])
def test_human_tvs(data: Path, mode: str, male: float) -> None:
    ctx = Context(data)
    rows = human_rows(mode, data / "results", data, ctx)
    assert [(r.dataset, r.task, r.model) for r in rows] == [("nytimes", "task1", "human")]
    # truths: Democrat uniform, Republican [1,0,0,0], Male [0,0,.5,.5], Female [.25,.75,0,0]
    assert rows[0].tvs == pytest.approx((0.0, 0.0, male, 0.0))
    assert ctx.tally.total("skip", "no complete human estimate") == 4  # book 2, 4 groups
    assert ctx.tally.total("skip", "human survey export missing") == 5
    assert ctx.tally.total("skip", "non-numeric human estimate") == 1  # read once, by the Democrat block


def test_missing_folder_is_counted(tmp_path: Path) -> None:
    ctx = Context(tmp_path)
    assert human_rows("fixed", tmp_path, tmp_path, ctx) == []
    assert ctx.tally.total("skip", "human annotations not found") == 1


def test_fixed_human_cells_use_the_metric(data: Path) -> None:
    ctx = Context(data, metric=get_metric("wasserstein"))
    rows = human_rows("fixed", data / "results", data, ctx)
    # Male: estimate [0, 0, 1, 0] (renormalised) vs [0, 0, ½, ½]: CDF gap ½ on the third of 3 steps = 1/6
    assert rows[0].tvs == pytest.approx((0.0, 0.0, 1 / 6, 0.0))
