"""Fixed-mode evaluation of a hand-edited results folder: every skip, failure and check counted per file.

One Democrat file of task 1 opens with two questions the data does not have, then holds a record with two values
for three shown options, two records whose ``options`` are malformed and one scorable record with a malformed
stored expected vector. The task-0 file opens with an unknown question, then holds a malformed record, a failed
parse and a record whose options were shown in another order. A released task-0 sequence file is re-parsed over
the Democrat dict's options. After generation the data loses its Male answers to question 3 (question 2 has none
already). Every count below is worked out from that layout; every tally entry names its result file.
``bench/mutation.py`` measures how many planted one-line bugs these tests catch.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from generate_standins import OPTIONS, counts, write_tiny_oqa
from scipy.spatial.distance import jensenshannon

import lm_steering
from distalign.evaluation import Evaluation, evaluate
from distalign.evaluation.base import Context
from distalign.evaluation.fixed import FixedSemantics
from distalign.evaluation.tally import CHECK, INFO, PARSE_FAILURE, SKIP
from distalign.names import OQA_WAVE
from distalign.results import ResultKey

MALFORMED_EXPECTED = "malformed stored expected vector (the data's truth is used)"
DIFFERENT_ORDER = "shown options differ from the group's options (scored on the union)"


def edit(results: Path, method: str, model: str, task: str, group: str, dem: str, change: Any) -> None:
    path = results / "opinionqa" / method / model / task / OQA_WAVE / group / f"{dem}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(change(json.loads(path.read_text()) if path.exists() else {})))


def task1(recs: dict) -> dict:
    recs["Q0_W1"]["avg_actual_results"] = {"A": 0.5, "B": 0.5}  # two values, three options shown
    recs["Q1_W1"]["options"] = "Agree, Disagree"
    recs["Q2_W1"]["options"] = [1, 2, 3]
    recs["Q3_W1"]["expected_results"] = {"A": "x", "B": 0.5, "C": 0.5}
    return {"NOPE1_W1": recs["Q3_W1"], "NOPE2_W1": recs["Q3_W1"], **recs}


def task0(recs: dict) -> dict:
    recs["Q1_W1"]["options"] = "Agree"
    recs["Q2_W1"].update(parse_ok=False, parse_error="garbled")
    recs["Q3_W1"]["options"] = list(reversed(recs["Q3_W1"]["options"]))  # shown in another order: scored by text
    return {"NOPE_W1": recs["Q0_W1"], **recs}


def run(tmp_path: Path, metric: str = "tv") -> Evaluation:
    data, results = tmp_path / "data", tmp_path / "results"
    write_tiny_oqa(data)
    argv = ["--no_progress", "--models", "fake/oracle", "--dataset", "opinionqa", "--task", "0", "1"]
    argv += ["--limit", "4", "--output_type", "model_logprobs", "--data_dir", str(data)]
    assert lm_steering.main([*argv, "--output_dir", str(results), "--no_cache"]) == 0
    sex = data / "opinions_qa/data/human_resp" / OQA_WAVE / "SEX_data.json"
    answers = json.loads(sex.read_text())
    answers["Q3_W1"]["Male"] = {}  # no Male respondents to question 3
    sex.write_text(json.dumps(answers))
    edit(results, "model_logprobs", "fake__oracle", "task1", "POLPARTY", "Democrat", task1)
    edit(results, "model_logprobs", "fake__oracle", "task0", "NONE", "Democrat", task0)
    released = {"Q0_W1": {"response": ["Answer: A A B C"]}}  # A ½, B ¼, C ¼ over Agree, Disagree, Refused
    edit(results, "sequence", "r", "task0", "NONE", "Democrat", lambda _: released)
    return evaluate(results, data, human=False, metric=metric)


def row(ev: Evaluation, model: str, task: str, group: str, dem: str) -> Any:
    (found,) = [r for r in ev.rows if (r.model, r.task, r.group, r.demographic) == (model, task, group, dem)]
    return found


def counted(ev: Evaluation, kind: str, model: str, task: str) -> Counter[str]:
    out: Counter[str] = Counter()
    for k, n in ev.tally.counts.items():
        if (k[0], k[3], k[4], k[6]) == (kind, model, task, "Democrat"):
            out[k[-1]] += n
    return out


def truth(q: int, dem: str) -> list[float]:
    c = counts(q, dem)
    return [c[o] / sum(c.values()) for o in sorted(OPTIONS)]


def test_every_skip_of_the_task1_file_is_counted(tmp_path: Path) -> None:
    ev = run(tmp_path)
    r = row(ev, "fake__oracle", "task1", "POLPARTY", "Democrat")
    assert r.qids == ("Q3_W1",) and (r.n_skipped, r.n_parse_fail) == (5, 0)  # 2 unknown + 1 mismatch + 2 malformed
    assert r.tvs == pytest.approx((0.0,), abs=1e-9)  # the oracle's own answer; the data's truth is used
    assert counted(ev, SKIP, "fake__oracle", "task1") == {
        "question not in the dataset": 2,
        "option count mismatch (2 values, 3 options shown)": 1,
        "malformed record": 2,
    }
    assert counted(ev, CHECK, "fake__oracle", "task1") == {MALFORMED_EXPECTED: 1}
    assert all(all(k[1:7]) for k in ev.tally.counts), "every entry names its result file"


def test_task0_counts_per_group_and_released_replies(tmp_path: Path) -> None:
    ev = run(tmp_path)
    dem = row(ev, "fake__oracle", "task0", "POLPARTY", "Democrat")
    assert dem.qids == ("Q0_W1", "Q2_W1", "Q3_W1") and (dem.n_parse_fail, dem.n_skipped) == (1, 0)
    male = row(ev, "fake__oracle", "task0", "SEX", "Male")
    assert male.qids == ("Q0_W1",) and (male.n_parse_fail, male.n_skipped) == (0, 2)  # Q2, Q3: no Male answers
    assert counted(ev, SKIP, "fake__oracle", "task0") == {
        "question not in the dataset": 1,
        "malformed record": 6,  # once for each of the six evaluated groups
        "no ground truth (SEX/Male has no respondents)": 2,
    }
    assert counted(ev, PARSE_FAILURE, "fake__oracle", "task0") == {"garbled": 5}  # Male never reaches Q2
    assert counted(ev, INFO, "fake__oracle", "task0")[DIFFERENT_ORDER] == 5  # Q3 in five groups (not Male)
    for group, name in (("POLPARTY", "Republican"), ("RACE", "White")):
        seq = row(ev, "r", "task0", group, name)
        q = truth(0, name)
        assert seq.tvs == pytest.approx((0.5 * (abs(0.5 - q[0]) + abs(0.25 - q[1]) + abs(0.25 - q[2])),))
    assert all(all(k[1:7]) for k in ev.tally.counts), "every entry names its result file"


def test_prediction_contract() -> None:
    sem = FixedSemantics(ctx=Context(Path(".")))
    seq = ResultKey("opinionqa", "sequence", "r", "task1", "G", "d")
    assert sem.prediction(seq, {"response": ["A A B"]}, 2, "LOC") == ([2 / 3, 1 / 3], "")
    logp = ResultKey("opinionqa", "model_logprobs", "r", "task1", "G", "d")
    assert sem.prediction(logp, {"avg_actual_results": None}, 2, "LOC") == (
        None,
        "stored vector is empty, all zero or not finite",
    )


def test_simulated_rows_use_the_run_metric(tmp_path: Path) -> None:
    ev = run(tmp_path, metric="jsd")
    (uniform,) = [r for r in ev.rows if (r.model, r.output_type, r.demographic) == ("simulated", "uniform", "Democrat")]
    expected = [jensenshannon(np.full(3, 1 / 3), truth(q, "Democrat"), base=2) for q in range(6)]
    assert uniform.tvs == pytest.approx(tuple(expected))
