"""Corrupt or truncated data and result files: clear errors naming the file, nothing dropped silently.

Generation and evaluation stop with one line naming the file when a *data* file is unreadable, and generation
refuses to resume over a result file it cannot read (it never overwrites it). The evaluation counts every result
file or record it cannot score in ``eval_skips.csv`` (an unreadable file is skipped and named on stderr;
``--strict`` stops instead): for every steered result file, scored cells + counted skips = records in the file.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from generate_standins import write_tiny_oqa

from distalign.evaluation import evaluate
from distalign.evaluation.tally import CHECK, PARSE_FAILURE, SKIP
from distalign.results import scan

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
import lm_steering  # noqa: E402
import lm_steering_eval  # noqa: E402

POLPARTY = "opinions_qa/data/human_resp/Pew_American_Trends_Panel_disagreement_100/POLPARTY_data.json"
T1 = "opinionqa/model_logprobs/fake__oracle/task1/Pew_American_Trends_Panel_disagreement_100"


def generate(data: Path, results: Path, *extra: str) -> int:
    return lm_steering.main(
        [
            "--no_progress",
            "--models",
            "fake/oracle",
            "--dataset",
            "opinionqa",
            "--task",
            "0",
            "1",
            "--output_type",
            "model_logprobs",
            "--data_dir",
            str(data),
            "--results_dir",
            str(results),
            "--no_cache",
            *extra,
        ]
    )


@pytest.fixture
def run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[Path, Path]:
    data = tmp_path / "data"
    write_tiny_oqa(data)
    assert generate(data, tmp_path / "results") == 0
    capsys.readouterr()
    return data, tmp_path / "results"


def truncate(path: Path) -> bytes:
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    return raw[: len(raw) // 2]


# --- data files ------------------------------------------------------------------------------------------------------
def test_truncated_data_file_stops_generation_and_evaluation_naming_it(run, capsys) -> None:
    data, results = run
    truncate(data / POLPARTY)
    assert generate(data, results.parent / "again") == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {data / POLPARTY}: malformed JSON at line")
    assert (
        lm_steering_eval.main(
            [
                "--results_dir",
                str(results),
                "--data_dir",
                str(data),
                "--output_dir",
                str(results.parent / "eval"),
                "--no_human",
                "--quiet",
            ]
        )
        == 2
    )
    assert f"{data / POLPARTY}: malformed JSON" in capsys.readouterr().err
    assert not (results.parent / "eval").exists()


@pytest.mark.parametrize("value", ["'many'", "-3", "NaN", "[1]"])
def test_bad_count_in_a_data_file_names_file_and_key(tmp_path, capsys, value: str) -> None:
    data = tmp_path / "data"
    write_tiny_oqa(data)
    path = data / POLPARTY
    raw = json.loads(path.read_text())
    raw["Q1_W1"]["Democrat"]["Agree"] = "__VALUE__"
    path.write_text(json.dumps(raw).replace('"__VALUE__"', value.replace("'", '"')))
    assert generate(data, tmp_path / "results", "--limit", "2") == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path}['Q1_W1']['Democrat']: expected a non-negative number"), err


# --- result files: generation ----------------------------------------------------------------------------------------
def test_generation_refuses_to_resume_over_an_unreadable_result_file(run, capsys) -> None:
    data, results = run
    path = results / T1 / "POLPARTY/Democrat.json"
    cut = truncate(path)
    assert generate(data, results) == 2
    assert capsys.readouterr().err.startswith(f"error: {path}: malformed JSON")
    assert path.read_bytes() == cut  # left as it was, for the user to inspect


# --- result files: evaluation ---------------------------------------------------------------------------------------
def skip_counts(ev: Any) -> dict[tuple[str, str, str], int]:
    return {(k[5], k[6], k[-1]): n for k, n in ev.tally.counts.items() if k[0] in (SKIP, PARSE_FAILURE)}


def test_unreadable_result_file_is_counted_and_named(run, capsys, tmp_path) -> None:
    data, results = run
    path = results / T1 / "SEX/Female.json"
    truncate(path)
    ev = evaluate(results, data, human=False)
    assert skip_counts(ev)[("SEX", "Female", "unreadable result file")] == 1
    assert f"skipped unreadable result file: {path}: malformed JSON" in capsys.readouterr().err
    out = tmp_path / "eval"
    assert (
        lm_steering_eval.main(
            ["--results_dir", str(results), "--data_dir", str(data), "--output_dir", str(out), "--no_human", "--quiet"]
        )
        == 0
    )
    with open(out / "eval_skips.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert {
        "kind": "skip",
        "group": "SEX",
        "demographic": "Female",
        "reason": "unreadable result file",
        "count": "1",
    }.items() <= next(r for r in rows if r["reason"] == "unreadable result file").items()
    assert (
        lm_steering_eval.main(
            [
                "--results_dir",
                str(results),
                "--data_dir",
                str(data),
                "--output_dir",
                str(out),
                "--no_human",
                "--quiet",
                "--strict",
            ]
        )
        == 2
    )
    assert f"error: {path}: malformed JSON" in capsys.readouterr().err


CORRUPTIONS: dict[str, Any] = {
    "Q0_W1": lambda rec: {**rec, "avg_actual_results": {"A": "lots", "B": 0.5}},  # not a number: malformed
    "Q1_W1": lambda rec: {**rec, "options": "Agree, Disagree"},  # not a list: malformed
    "Q3_W1": lambda rec: {**rec, "avg_actual_results": {"A": float("nan"), "B": 1.0, "C": 0.0}},  # not finite
    "Q4_W1": lambda rec: {k: v for k, v in rec.items() if k != "avg_actual_results"},  # missing: a failure
    "Q5_W1": lambda rec: {**rec, "avg_actual_results": {"A": 0.0, "B": 0.0, "C": 0.0}},  # all zero: a failure
}


def test_malformed_records_are_each_counted(run) -> None:
    data, results = run
    path = results / T1 / "POLPARTY/Republican.json"
    recs = json.loads(path.read_text())
    for qid, corrupt in CORRUPTIONS.items():
        recs[qid] = corrupt(recs[qid])
    recs["NOT_A_QUESTION"] = recs["Q2_W1"]
    path.write_text(json.dumps(recs))  # NaN written as the non-standard token Python's json reads back
    ev = evaluate(results, data, human=False)
    counts = skip_counts(ev)
    assert counts[("POLPARTY", "Republican", "malformed record")] == 2
    assert counts[("POLPARTY", "Republican", "question not in the dataset")] == 1
    failures = sum(n for (g, d, _), n in counts.items() if (g, d) == ("POLPARTY", "Republican")) - 3
    assert failures == 3  # non-finite, missing, all-zero: counted parse failures (scored as uniform)
    row = next(r for r in ev.rows if (r.task, r.group, r.demographic) == ("task1", "POLPARTY", "Republican"))
    assert len(row.tvs) + row.n_skipped == len(recs) and row.n_parse_fail == 3


def test_every_record_of_every_file_is_scored_or_counted(run) -> None:
    data, results = run
    ev = evaluate(results, data, human=False)
    for key, path in scan(results):
        if key.task != "task1":
            continue
        row = next(
            r
            for r in ev.rows
            if (r.task, r.group, r.demographic, r.output_type)
            == (key.task, key.group, key.demographic, key.output_type)
        )
        assert len(row.tvs) + row.n_skipped == len(json.loads(path.read_text()))


def test_malformed_task0_expected_vector_is_counted_not_a_crash(run) -> None:
    data, results = run
    path = next(p for k, p in scan(results) if k.task == "task0")
    recs = json.loads(path.read_text())
    first = next(iter(recs))
    recs[first]["expected_results_POLPARTY_Democrat"] = {"A": "x"}
    path.write_text(json.dumps(recs))
    ev = evaluate(results, data, human=False)  # fixed mode scores against the data's truth: a check, not a skip
    checks = {k[-1]: n for k, n in ev.tally.counts.items() if k[0] == CHECK}
    assert checks["malformed stored expected vector (the data's truth is used)"] == 1
