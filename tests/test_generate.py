"""Generation: grid planning, records, resume, n/a markers, failures (stand-in prompts and methods).

Most tests use a tiny OpinionQA-format data folder and stand-in prompt/method plug-ins
(tests/generate_standins.py), so they exercise the run engine alone; the end-to-end tests at the bottom
run ``lm_steering.py`` with the real prompts and methods.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from distalign.backends import BackendOptions, get_backend
from distalign.backends.base import BackendError
from distalign.datasets import load_dataset
from distalign.engine.runlog import read_log
from distalign.generate import (
    ResultFile,
    evaluated,
    plan_cells,
    run,
)
from distalign.results import read_results, scan
from distalign.types import Capabilities
from tests.generate_standins import (
    ALL_DEMS,
    config,
    oqa_file,
    plugins,
    result_bytes,
    tv,
    write_tiny_oqa,
)


@pytest.fixture
def data(tmp_path) -> Path:
    write_tiny_oqa(tmp_path / "data")
    return tmp_path / "data"


# --- planning -------------------------------------------------------------------------------------------
def test_evaluated_demographics(data):
    ds = load_dataset("opinionqa", data)
    assert evaluated(ds, None) == ALL_DEMS
    assert evaluated(ds, ("SEX", "POLPARTY")) == [
        ("SEX", "Male"),
        ("SEX", "Female"),
        ("POLPARTY", "Democrat"),
        ("POLPARTY", "Republican"),
    ]
    assert evaluated(ds, ("POLPARTY",), all_dems=True) == [
        ("POLPARTY", "Democrat"),
        ("POLPARTY", "Republican"),
        ("POLPARTY", "Independent"),
    ]
    assert evaluated(ds, ("Republican", "NONE")) == [("POLPARTY", "Republican")]
    assert evaluated(ds, ("NONE",)) == []
    with pytest.raises(ValueError, match="unknown demographic group 'AGE' for opinionqa; valid: POLPARTY, SEX, RACE"):
        evaluated(ds, ("AGE",))


def test_globalvalues_groups_are_positions(tmp_path):
    root = tmp_path / "gv"
    (root / "Global_Values/data").mkdir(parents=True)
    rec = {
        "MC_options": "['Yes', 'No']",
        "countries": ["France", "Chile", "Japan"],
        "France": [0.5, 0.5],
        "Chile": [0.2, 0.8],
        "Japan": [0.9, 0.1],
    }
    (root / "Global_Values/data/data.json").write_text(json.dumps({"Is it good?": rec}))
    ds = load_dataset("globalvalues", root)
    assert evaluated(ds, None) == [("globalvalues", "0"), ("globalvalues", "1"), ("globalvalues", "2")]
    assert evaluated(ds, ("2", "0")) == [("globalvalues", "2"), ("globalvalues", "0")]
    cfg = config(tmp_path, root, datasets=("globalvalues",), tasks=(0, 1), output_types=("express_distribution",))
    reports = run(cfg, plugins())
    assert "globalvalues has no task 0" in reports[0].summary()
    files = sorted(str(p.relative_to(cfg.results_dir)) for _, p in scan(cfg.results_dir))
    assert files == [f"globalvalues/express_distribution/fake__oracle/task1/globalvalues/{i}.json" for i in "012"]
    rec1 = read_results(cfg.results_dir / files[1])["Is it good?"]
    assert rec1["expected_results"] == {"A": 0.2, "B": 0.8} and rec1["options"] == ["Yes", "No"]


def test_task0_cell_and_expected_fields(tmp_path, data):
    cfg = config(tmp_path, data, tasks=(0,), groups=("SEX", "POLPARTY"))
    ds = load_dataset("opinionqa", data)
    (cell,) = plan_cells(ds, cfg, plugins(), "fake/oracle", "model_logprobs")
    assert (cell.key.group, cell.key.demographic, cell.group, cell.demographic) == ("NONE", "Democrat", "NONE", "NONE")
    run(cfg, plugins())
    recs = read_results(oqa_file(cfg, "model_logprobs", "task0", "NONE", "Democrat"))
    assert list(recs) == [f"Q{i}_W1" for i in range(6)]
    fields = [k for k in recs["Q0_W1"] if k.startswith("expected_results")]
    assert fields == [
        "expected_results_SEX_Male",
        "expected_results_SEX_Female",
        "expected_results_POLPARTY_Democrat",
        "expected_results_POLPARTY_Republican",
    ]
    assert "expected_results_SEX_Male" not in recs["Q2_W1"]  # no Male respondents for Q2
    truth = ds.item("Q1_W1", "SEX", "Female").truth
    assert recs["Q1_W1"]["expected_results_SEX_Female"] == truth.as_dict()
    assert recs["Q1_W1"]["options"] == ["Agree", "Disagree", "Refused"]


# --- running with the oracle ------------------------------------------------------------------------------
def test_oracle_records_order_skips_and_tv(tmp_path, data):
    cfg = config(tmp_path, data, output_types=("model_logprobs", "express_distribution", "sequence"))
    (report,) = run(cfg, plugins())
    assert report.skipped == {"no options shown for this demographic": 3}  # Q2 Male, per output type
    assert report.records == 3 * (6 * 6 - 1) and report.parse_failures == 0
    assert (report.stats.sent, report.stats.cached, report.stats.failed) == (105, 0, 0)
    ds = load_dataset("opinionqa", data)
    male = read_results(oqa_file(cfg, "sequence", "task1", "SEX", "Male"))
    assert list(male) == ["Q0_W1", "Q1_W1", "Q3_W1", "Q4_W1", "Q5_W1"]
    for ot, low, high in (("model_logprobs", 0, 1e-9), ("express_distribution", 0, 2e-3), ("sequence", 0.03, 0.25)):
        tvs = []
        for group, dem in ALL_DEMS:
            for qid, rec in read_results(oqa_file(cfg, ot, "task1", group, dem)).items():
                truth = ds.item(qid, group, dem).truth
                assert rec["expected_results"] == truth.as_dict() and rec["parse_ok"] is True
                tvs.append(tv(list(rec["avg_actual_results"].values()), truth.probs))
        assert low <= np.mean(tvs) <= high, (ot, np.mean(tvs))


def test_logprob_records_keep_the_sampled_letter(tmp_path, data):
    cfg = config(tmp_path, data)
    run(cfg, plugins())
    rec = read_results(oqa_file(cfg, "model_logprobs", "task1", "POLPARTY", "Democrat"))["Q0_W1"]
    top = max(rec["avg_actual_results"], key=rec["avg_actual_results"].get)
    assert rec["actual_results_sampled"] == {L: float(L == top) for L in "ABC"}


def test_garbage_gives_recorded_parse_failures(tmp_path, data):
    cfg = config(tmp_path, data, models=("fake/garbage",), output_types=("express_distribution", "sequence"))
    (report,) = run(cfg, plugins())
    assert report.records == report.parse_failures == 70 and report.stats.failed == 0
    rec = read_results(oqa_file(cfg, "sequence", "task1", "SEX", "Female", "fake__garbage"))["Q0_W1"]
    assert rec["parse_ok"] is False and rec["avg_actual_results"] is None and rec["parse_error"]
    assert rec["response"] == ["I'm sorry, I cannot answer that."]
    (again,) = run(cfg, plugins())  # a parse failure is a result: not asked again
    assert again.stats.sent == again.stats.cached == 0 and again.already_done == 70


def test_same_command_same_bytes_whatever_the_completion_order(tmp_path, data):
    outs = []
    for i, conc in enumerate((1, 7)):
        opts = BackendOptions(extra=(("jitter_ms", "5"),))
        cfg = config(
            tmp_path / str(i),
            data,
            output_types=("sequence", "independent_samples"),
            n_samples=4,
            concurrency=conc,
            backend_options=opts,
            flush_every=3,
        )
        run(cfg, plugins())
        outs.append(result_bytes(cfg.results_dir))
    assert outs[0] == outs[1] and len(outs[0]) == 12


def test_unsupported_pairs_write_na_markers(tmp_path, data):
    no_logprobs = plugins(capabilities=lambda model, options: Capabilities())
    cfg = config(tmp_path, data, output_types=("model_logprobs", "express_distribution"))
    (report,) = run(cfg, no_logprobs)
    marker = cfg.results_dir / "opinionqa/model_logprobs/fake__oracle/_na.json"
    assert json.loads(marker.read_text()) == {
        "status": "n/a",
        "reason": "the backend returns no log-probabilities",
        "model": "fake/oracle",
    }
    assert "n/a: opinionqa/model_logprobs: the backend returns no log-probabilities" in report.summary()
    assert not (cfg.results_dir / "opinionqa/model_logprobs/fake__oracle/task1").exists()
    run(cfg, plugins())
    assert not marker.exists() and oqa_file(cfg, "model_logprobs", "task1", "SEX", "Male").exists()


# --- failures, resume, cache -------------------------------------------------------------------------------
def test_failed_requests_leave_no_record_and_are_retried_next_run(tmp_path, data):
    failing = config(tmp_path, data, backend_options=BackendOptions(extra=(("fail_always", "1"),)))
    (report,) = run(failing, plugins())
    assert report.records == 0 and report.unit_failures == 35 and report.stats.failed == 35
    assert "35 questions failed (rerun to retry)\n  35 x BackendError: injected permanent failure" in report.summary()
    assert not list(scan(failing.results_dir))
    lines = list(read_log(failing.results_dir / "logs/fake__oracle.jsonl"))
    assert len(lines) == 35 and all(
        not x["ok"] and x["error"] == "BackendError: injected permanent failure" for x in lines
    )
    (ok,) = run(replace(failing, backend_options=BackendOptions()), plugins())
    assert ok.records == 35 and ok.stats.sent == 35


def test_a_backend_that_cannot_start_does_not_stop_the_other_models(tmp_path, data):
    def get(model, options):
        if model == "fake/garbage":
            raise BackendError("fake/garbage needs a package that is not installed: nothing")
        return get_backend(model, options)

    cfg = config(tmp_path, data, models=("fake/garbage", "fake/oracle"))
    broken, ok = run(cfg, plugins(get_backend=get))
    assert broken.summary() == "fake/garbage: not run: fake/garbage needs a package that is not installed: nothing"
    assert ok.records == 35


def test_transient_failures_of_some_samples_reuse_the_others(tmp_path, data):
    opts = BackendOptions(extra=(("fail_rate", "0.2"), ("seed", "1")))
    cfg = config(
        tmp_path, data, output_types=("independent_samples",), n_samples=5, max_retries=0, backend_options=opts
    )
    (first,) = run(cfg, plugins())
    assert first.unit_failures > 0 and first.stats.failed > 0
    assert first.records + first.unit_failures == 35
    (second,) = run(replace(cfg, backend_options=BackendOptions()), plugins())
    assert second.stats.sent == first.stats.failed  # only the failed samples are sent again
    assert second.records == first.unit_failures and second.stats.failed == 0
    clean = config(tmp_path / "clean", data, output_types=("independent_samples",), n_samples=5)
    run(clean, plugins())
    assert result_bytes(cfg.results_dir) == result_bytes(clean.results_dir)


def test_rerun_hits_the_cache_and_makes_no_backend_call(tmp_path, data):
    calls = tmp_path / "calls.jsonl"
    cfg = config(
        tmp_path,
        data,
        output_types=("model_logprobs", "sequence"),
        backend_options=BackendOptions(extra=(("call_log", str(calls)),)),
    )
    run(cfg, plugins())
    first = result_bytes(cfg.results_dir)
    n_calls = len(calls.read_text().splitlines())
    for _, path in scan(cfg.results_dir):
        path.unlink()
    (report,) = run(cfg, plugins())
    assert (report.stats.sent, report.stats.cached) == (0, 70)
    assert len(calls.read_text().splitlines()) == n_calls == 70
    assert result_bytes(cfg.results_dir) == first


def test_existing_records_are_kept_and_order_restored(tmp_path, data):
    cfg = config(tmp_path, data, groups=("SEX",))
    path = oqa_file(cfg, "model_logprobs", "task1", "SEX", "Female")
    run(cfg, plugins())
    made = read_results(path)["Q4_W1"]  # a record of this run's settings, kept by hand in another order
    kept = {**made, "avg_actual_results": {"A": 1.0, "B": 0.0, "C": 0.0}}
    path.write_text(json.dumps({"Q4_W1": kept, "OLD_KEY": {"response": []}}))
    oqa_file(cfg, "model_logprobs", "task1", "SEX", "Male").unlink()
    (report,) = run(cfg, plugins())
    recs = read_results(path)
    assert list(recs) == ["Q0_W1", "Q1_W1", "Q2_W1", "Q3_W1", "Q4_W1", "Q5_W1", "OLD_KEY"]
    assert recs["Q4_W1"] == kept and report.already_done == 1


def test_result_file_flushes_incrementally(tmp_path):
    path = tmp_path / "r.json"
    rf = ResultFile(path, ["a", "b", "c"], flush_every=2, flush_seconds=3600)
    assert rf.own()  # only the owner of a cell writes it
    rf.add("c", {"x": 3})
    assert not path.exists()
    rf.add("a", {"x": 1})
    assert list(json.loads(path.read_text())) == ["a", "c"]
    rf.add("b", {"x": 2})
    rf.close()
    assert list(json.loads(path.read_text())) == ["a", "b", "c"]
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]  # no temporary or lock files left
