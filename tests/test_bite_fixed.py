"""Fixed-mode evaluation of a hand-made results folder: every score, failure, skip and check worked out by hand.

A seeded ``fake/oracle`` run (its records are exact: TV 0) is edited record by record, and "released-style" files
without ``parse_ok`` are written beside it; each edit has one expected effect on the rows and on the tally (the
truths come from the toy data's respondent counts, ``generate_standins.counts``). ``bench/mutation.py`` measures
how many planted one-line bugs these tests catch.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from generate_standins import OPTIONS, counts, write_tiny_oqa

import lm_steering
from distalign.evaluation import Evaluation, evaluate
from distalign.evaluation.base import Context
from distalign.evaluation.fixed import FixedSemantics
from distalign.evaluation.tally import CHECK, INFO, PARSE_FAILURE, SKIP
from distalign.files import DataError
from distalign.names import OQA_WAVE
from distalign.results import ResultKey


def truth(q: int, dem: str) -> list[float]:
    c = counts(q, dem)
    return [c[o] / sum(c.values()) for o in sorted(OPTIONS)]


def tv(p: list[float], q: list[float]) -> float:
    return 0.5 * sum(abs(a - b) for a, b in zip(p, q, strict=True))


def cell(results: Path, method: str, model: str, task: str, group: str, dem: str) -> Path:
    return results / "opinionqa" / method / model / task / OQA_WAVE / group / f"{dem}.json"


def edit(path: Path, change: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(change(json.loads(path.read_text()) if path.exists() else {})))


def _generate(data: Path, results: Path) -> None:
    write_tiny_oqa(data)
    argv = ["--no_progress", "--models", "fake/oracle", "--dataset", "opinionqa", "--task", "0", "1", "--limit", "4"]
    argv += ["--output_type", "model_logprobs", "--data_dir", str(data), "--output_dir", str(results), "--no_cache"]
    assert lm_steering.main(argv) == 0


def _democrat(recs: dict) -> dict:
    recs["Q1_W1"].update(parse_ok=False, parse_error="garbled")
    recs["Q2_W1"].update(parse_ok=False)
    recs["Q2_W1"].pop("parse_error", None)
    recs["Q3_W1"]["expected_results"] = dict(zip("ABC", reversed(truth(3, "Democrat")), strict=True))
    recs["NOPE_W1"] = recs["Q0_W1"]
    return recs


def _write_released(results: Path) -> None:
    released = {
        "sequence": {"Q0_W1": ["Answer: A A B"], "Q1_W1": ["nothing"], "Q2_W1": ["A"]},
        "express_distribution": {"Q0_W1": ["{'A': 50, 'B': 25, 'C': 25}"]},
    }
    for method, replies in released.items():
        recs = {q: {"response": r} for q, r in replies.items()}
        if "Q2_W1" in recs:
            recs["Q2_W1"]["options"] = "Agree, Disagree"  # not a list: a malformed record
        edit(cell(results, method, "r", "task1", "POLPARTY", "Republican"), lambda _, recs=recs: recs)
    logprobs = {
        "Q0_W1": {"avg_actual_results": {"A": 0, "B": 0, "C": 0}},
        "Q1_W1": {"avg_actual_results": {"A": 2, "B": 1, "C": 1}},
    }
    edit(cell(results, "model_logprobs", "r", "task1", "POLPARTY", "Republican"), lambda _: logprobs)


@pytest.fixture
def ev(tmp_path: Path) -> Evaluation:
    """Built for each test: a mutation-testing tool maps each test to the functions its own run calls."""
    data, results = tmp_path / "data", tmp_path / "results"
    _generate(data, results)
    edit(cell(results, "model_logprobs", "fake__oracle", "task1", "POLPARTY", "Democrat"), _democrat)
    edit(cell(results, "model_logprobs", "fake__oracle", "task1", "SEX", "Male"), lambda r: {**r, "Q2_W1": r["Q0_W1"]})
    _write_released(results)
    edit(cell(results, "model_logprobs", "fake__oracle", "task0", "NONE", "Democrat"), _reverse_q0_options)
    return evaluate(results, data, human=False)


def _reverse_q0_options(recs: dict) -> dict:
    rec = recs["Q0_W1"]
    rec["options"] = list(reversed(rec["options"]))  # shown as Refused, Disagree, Agree
    rec["avg_actual_results"] = {"A": 0.6, "B": 0.3, "C": 0.1}  # Refused 0.6, Disagree 0.3, Agree 0.1
    return recs


def by_reason(ev: Evaluation, *kinds: str) -> Counter[str]:
    out: Counter[str] = Counter()
    for key, n in ev.tally.counts.items():
        if key[0] in kinds:
            out[key[-1]] += n
    return out


def the_row(ev: Evaluation, model: str, method: str, task: str, group: str, dem: str) -> Any:
    (found,) = [
        r
        for r in ev.rows
        if (r.model, r.output_type, r.task, r.group, r.demographic) == (model, method, task, group, dem)
    ]
    return found


UNIFORM = [1 / 3] * 3


def test_own_records_failures_and_unknown_questions(ev: Evaluation) -> None:
    r = the_row(ev, "fake__oracle", "model_logprobs", "task1", "POLPARTY", "Democrat")
    assert r.qids == ("Q0_W1", "Q1_W1", "Q2_W1", "Q3_W1") and (r.n_parse_fail, r.n_skipped) == (2, 1)
    expected = [0.0, tv(UNIFORM, truth(1, "Democrat")), tv(UNIFORM, truth(2, "Democrat")), 0.0]
    assert list(r.tvs) == pytest.approx(expected, abs=1e-9)
    male = the_row(ev, "fake__oracle", "model_logprobs", "task1", "SEX", "Male")
    assert "Q2_W1" not in male.qids and male.n_skipped == 1 and len(male.qids) == 3


def test_released_records_are_parsed_again(ev: Evaluation) -> None:
    seq = the_row(ev, "r", "sequence", "task1", "POLPARTY", "Republican")
    assert seq.qids == ("Q0_W1", "Q1_W1") and (seq.n_parse_fail, seq.n_skipped) == (1, 1)
    assert list(seq.tvs) == pytest.approx(
        [tv([2 / 3, 1 / 3, 0.0], truth(0, "Republican")), tv(UNIFORM, truth(1, "Republican"))]
    )
    verbal = the_row(ev, "r", "express_distribution", "task1", "POLPARTY", "Republican")
    assert list(verbal.tvs) == pytest.approx([tv([0.5, 0.25, 0.25], truth(0, "Republican"))])
    logp = the_row(ev, "r", "model_logprobs", "task1", "POLPARTY", "Republican")
    assert list(logp.tvs) == pytest.approx(
        [tv(UNIFORM, truth(0, "Republican")), tv([0.5, 0.25, 0.25], truth(1, "Republican"))]
    )
    assert logp.n_parse_fail == 1


def test_task0_is_aligned_by_option_text(ev: Evaluation) -> None:
    for group, dem in (("POLPARTY", "Democrat"), ("SEX", "Female"), ("RACE", "White")):
        r = the_row(ev, "fake__oracle", "model_logprobs", "task0", group, dem)
        by_text = [0.1, 0.3, 0.6]  # Agree, Disagree, Refused: matched by text, never by position
        assert r.qids[0] == "Q0_W1" and r.tvs[0] == pytest.approx(tv(by_text, truth(0, dem)), abs=1e-9)
    assert by_reason(ev, INFO)["shown options differ from the group's options (scored on the union)"] == 6


def test_every_count_by_reason(ev: Evaluation) -> None:
    assert by_reason(ev, PARSE_FAILURE) == {
        "garbled": 1,
        "parse_ok is false": 1,
        "no answer letters in the response": 1,
        "stored vector is empty, all zero or not finite": 1,
    }
    skips = by_reason(ev, SKIP)
    assert skips["question not in the dataset"] == 1 and skips["malformed record"] == 1
    assert skips["no ground truth (SEX/Male has no respondents)"] == 2  # the Male file and task0's Male cell
    assert by_reason(ev, CHECK) == {"stored expected vector differs from the data": 1}
    compared = by_reason(ev, INFO)["stored expected vectors compared with the data"]
    assert compared == (6 * 4 - 1) + (6 * 4 - 1)  # task1's six files and task0's six cells; Male Q2 has no truth
    per_file = {(k[1], k[2], k[3], k[5], k[6], k[-1]): n for k, n in ev.tally.counts.items() if k[0] == CHECK}
    assert per_file == {
        (
            "opinionqa",
            "model_logprobs",
            "fake__oracle",
            "POLPARTY",
            "Democrat",
            "stored expected vector differs from the data",
        ): 1
    }


def test_prediction_errors_name_the_record() -> None:
    sem = FixedSemantics(Context(Path(".")))
    key = ResultKey("opinionqa", "model_logprobs", "m", "task1", "G", "d")
    with pytest.raises(DataError, match=r"^LOC: avg_actual_results\['A'\] is 'x', not a number$"):
        sem.prediction(key, {"avg_actual_results": {"A": "x"}}, 1, "LOC")
    assert sem.prediction(key, {"parse_ok": False}, 2, "LOC") == (None, "parse_ok is false")
    assert sem.prediction(key, {"parse_ok": True, "avg_actual_results": {"A": 1, "B": 3}}, 2, "LOC") == (
        [0.25, 0.75],
        "",
    )


def test_simulated_reference_rows(ev: Evaluation) -> None:
    sims = {(r.dataset, r.output_type, r.task, r.group, r.demographic) for r in ev.rows if r.model == "simulated"}
    kinds = {kind for _, kind, _, _, _ in sims}
    assert len(sims) == 6 * len(kinds) and len(kinds) >= 4
    assert {(d, t, g, dem) for d, _, t, g, dem in sims} == {
        ("opinionqa", "truth", g, dem)
        for g, dem in [("POLPARTY", "Democrat"), ("POLPARTY", "Republican"), ("SEX", "Male")]
        + [("SEX", "Female"), ("RACE", "Black"), ("RACE", "White")]
    }
    male = [r for r in ev.rows if r.model == "simulated" and r.demographic == "Male"]
    assert all(len(r.tvs) == 5 for r in male)  # six questions, one without Male respondents
