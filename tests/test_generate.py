"""Generation: grid planning, records, resume, n/a markers, failures, logs, dry run, batch pass.

Most tests use a tiny OpinionQA-format data folder and stand-in prompt/method plug-ins
(tests/generate_standins.py), so they exercise the run engine alone; the end-to-end tests at the bottom
run ``lm_steering.py`` with the real prompts and methods.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from distalign.backends import BackendOptions, get_backend
from distalign.backends.base import Backend, BackendError
from distalign.datasets import load_dataset
from distalign.engine.cache import ResponseCache
from distalign.engine.runlog import read_log
from distalign.evaluation import evaluate
from distalign.generate import (
    ResultFile,
    RunConfig,
    dry_run,
    evaluated,
    format_dry_run,
    plan_cells,
    run,
)
from distalign.redact import MASK
from distalign.results import read_results, scan
from distalign.types import Capabilities, Completion, Request
from tests.generate_standins import plugins, write_tiny_oqa

REPO = Path(__file__).resolve().parents[1]
ALL_DEMS = [("POLPARTY", "Democrat"), ("POLPARTY", "Republican"), ("SEX", "Male"), ("SEX", "Female"),
            ("RACE", "Black"), ("RACE", "White")]


@pytest.fixture
def data(tmp_path) -> Path:
    write_tiny_oqa(tmp_path / "data")
    return tmp_path / "data"


def config(tmp_path: Path, data: Path, **kw) -> RunConfig:
    base = dict(datasets=("opinionqa",), tasks=(1,), models=("fake/oracle",), output_types=("model_logprobs",),
                results_dir=tmp_path / "results", data_dir=data, prompts_dir=REPO / "inputs",
                cache_path=tmp_path / "cache.sqlite", progress=False)
    base.update(kw)
    return RunConfig(**base)


def oqa_file(cfg: RunConfig, ot: str, task: str, group: str, dem: str, model: str = "fake__oracle") -> Path:
    return (cfg.results_dir / "opinionqa" / ot / model / task / "Pew_American_Trends_Panel_disagreement_100" / group
            / f"{dem}.json")


def result_bytes(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for _, p in scan(root)}


def tv(a, b) -> float:
    return 0.5 * float(np.abs(np.asarray(a) - np.asarray(b)).sum())


# --- planning -------------------------------------------------------------------------------------------
def test_evaluated_demographics(data):
    ds = load_dataset("opinionqa", data)
    assert evaluated(ds, None) == ALL_DEMS
    assert evaluated(ds, ("SEX", "POLPARTY")) == [("SEX", "Male"), ("SEX", "Female"), ("POLPARTY", "Democrat"),
                                                  ("POLPARTY", "Republican")]
    assert evaluated(ds, ("POLPARTY",), all_dems=True) == [("POLPARTY", "Democrat"), ("POLPARTY", "Republican"),
                                                          ("POLPARTY", "Independent")]
    assert evaluated(ds, ("Republican", "NONE")) == [("POLPARTY", "Republican")]
    assert evaluated(ds, ("NONE",)) == []
    with pytest.raises(ValueError, match="unknown demographic group 'AGE' for opinionqa; valid: POLPARTY, SEX, RACE"):
        evaluated(ds, ("AGE",))


def test_globalvalues_groups_are_positions(tmp_path):
    root = tmp_path / "gv"
    (root / "Global_Values/data").mkdir(parents=True)
    rec = {"MC_options": "['Yes', 'No']", "countries": ["France", "Chile", "Japan"], "France": [0.5, 0.5],
           "Chile": [0.2, 0.8], "Japan": [0.9, 0.1]}
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
    assert fields == ["expected_results_SEX_Male", "expected_results_SEX_Female", "expected_results_POLPARTY_Democrat",
                      "expected_results_POLPARTY_Republican"]
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
        cfg = config(tmp_path / str(i), data, output_types=("sequence", "independent_samples"), n_samples=4,
                     concurrency=conc, backend_options=opts, flush_every=3)
        run(cfg, plugins())
        outs.append(result_bytes(cfg.results_dir))
    assert outs[0] == outs[1] and len(outs[0]) == 12


def test_unsupported_pairs_write_na_markers(tmp_path, data):
    no_logprobs = plugins(capabilities=lambda model, options: Capabilities())
    cfg = config(tmp_path, data, output_types=("model_logprobs", "express_distribution"))
    (report,) = run(cfg, no_logprobs)
    marker = cfg.results_dir / "opinionqa/model_logprobs/fake__oracle/_na.json"
    assert json.loads(marker.read_text()) == {"status": "n/a", "reason": "the backend returns no log-probabilities",
                                              "model": "fake/oracle"}
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
    assert len(lines) == 35 and all(not x["ok"] and x["error"] == "BackendError: injected permanent failure"
                                    for x in lines)
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
    cfg = config(tmp_path, data, output_types=("independent_samples",), n_samples=5, max_retries=0,
                 backend_options=opts)
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
    cfg = config(tmp_path, data, output_types=("model_logprobs", "sequence"),
                 backend_options=BackendOptions(extra=(("call_log", str(calls)),)))
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
    path.parent.mkdir(parents=True)
    released = {"avg_actual_results": {"A": 1.0, "B": 0.0, "C": 0.0}, "response": ["A"]}
    path.write_text(json.dumps({"Q4_W1": released, "OLD_KEY": {"response": []}}))
    (report,) = run(cfg, plugins())
    recs = read_results(path)
    assert list(recs) == ["Q0_W1", "Q1_W1", "Q2_W1", "Q3_W1", "Q4_W1", "Q5_W1", "OLD_KEY"]
    assert recs["Q4_W1"] == released and report.already_done == 1


def test_result_file_flushes_incrementally(tmp_path):
    path = tmp_path / "r.json"
    rf = ResultFile(path, ["a", "b", "c"], flush_every=2, flush_seconds=3600)
    rf.add("c", {"x": 3})
    assert not path.exists()
    rf.add("a", {"x": 1})
    assert list(json.loads(path.read_text())) == ["a", "c"]
    rf.add("b", {"x": 2})
    rf.flush()
    assert list(json.loads(path.read_text())) == ["a", "b", "c"]
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]  # no temporary files left


# --- logs, secrets ----------------------------------------------------------------------------------------
class Leaky(Backend):
    """Echoes the API key from the environment, as a misbehaving proxy might."""

    name = "test/leaky"
    capabilities = Capabilities(logprobs=True, max_top_logprobs=5)

    def __init__(self, key: str) -> None:
        self.key = key

    async def complete(self, request: Request) -> Completion:
        return Completion(text=f"A (key {self.key})", top_logprobs=(("A", -0.1), ("B", -2.4)), model_id="leaky-1",
                          fingerprint="fp_1", input_tokens=5, output_tokens=1)


def test_log_records_and_no_secrets(tmp_path, data, monkeypatch):
    secret = "sk-" "proj-THISISNOTAREALKEY0123456789"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    p = plugins(get_backend=lambda model, options: Leaky(secret),
                capabilities=lambda model, options: Leaky.capabilities)
    cfg = config(tmp_path, data, models=("test/leaky",), groups=("SEX",), limit=2)
    run(cfg, p)
    log = cfg.results_dir / "logs/test__leaky.jsonl"
    lines = list(read_log(log))
    assert len(lines) == 4
    first = lines[0]
    assert first["qid"] == "Q0_W1" and first["output_type"] == "model_logprobs" and first["task"] == "task1"
    assert first["messages"][1]["content"].startswith("[model_logprobs task1]")
    assert first["top_logprobs"] == [["A", -0.1], ["B", -2.4]] and first["model_id"] == "leaky-1"
    assert first["parse_ok"] is True and set(first["distribution"]) == {"A", "B", "C"}
    assert first["cached"] is False and first["ok"] is True and "truth" not in first
    results = [p for _, p in scan(cfg.results_dir)]
    assert results and MASK in read_results(results[0])["Q0_W1"]["response"][0]
    for path in [log, cfg.cache_path, *results]:
        assert b"THISISNOTAREALKEY" not in path.read_bytes()
    assert MASK in first["response"]


# --- dry run, batch API -----------------------------------------------------------------------------------
def test_dry_run_counts_without_building_backends(tmp_path, data, capsys):
    def no_backend(model, options):
        raise AssertionError("dry run must not build a backend")

    caps = {"fake/oracle": Capabilities(logprobs=True, max_top_logprobs=20), "gpt-4": Capabilities(priced=True),
            "openai/new-model": Capabilities(priced=True)}
    p = plugins(get_backend=no_backend, capabilities=lambda model, options: caps[model])
    cfg = config(tmp_path, data, models=("fake/oracle", "gpt-4", "openai/new-model"),
                 output_types=("model_logprobs", "independent_samples"), n_samples=3)
    rows = dry_run(cfg, p)
    assert [(r["model"], r["output_type"], r["requests"]) for r in rows] == [
        ("fake/oracle", "model_logprobs", 35), ("fake/oracle", "independent_samples", 105),
        ("gpt-4", "model_logprobs", 0), ("gpt-4", "independent_samples", 105),
        ("openai/new-model", "model_logprobs", 0), ("openai/new-model", "independent_samples", 105)]
    assert rows[0]["cost"] == 0.0 and rows[3]["cost"] > 0 and rows[5]["cost"] is None
    assert rows[2]["n/a"] == "the backend returns no log-probabilities"
    text = format_dry_run(rows)
    assert "n/a: the backend returns no log-probabilities" in text and "cost unknown" in text
    assert text.splitlines()[-1].startswith("total: 350 requests") and "nothing was sent" in text
    assert not cfg.results_dir.exists() and not cfg.cache_path.exists()


def test_batch_api_pass_fills_the_cache_first(tmp_path, data, monkeypatch):
    seen: list[int] = []

    async def run_batches(backend, requests, cache, state_dir):
        seen.append(len(requests))
        assert state_dir == tmp_path / "results/.batch/fake__oracle"
        for r in requests:
            cache.put(cache.key(backend.cache_identity(), r), await backend.complete(r))

    monkeypatch.setattr("distalign.generate.runner.run_batches", run_batches)
    opts = BackendOptions(extra=(("batch_api", "1"),))
    cfg = config(tmp_path, data, batch_api=True, backend_options=opts, groups=("SEX",))
    (report,) = run(cfg, plugins())
    assert seen == [11] and report.stats.sent == 0 and report.stats.cached == 11 and report.records == 11


def test_batch_api_errors_are_clear(tmp_path, data):
    cfg = config(tmp_path, data, batch_api=True, backend_options=BackendOptions(extra=(("batch_api", "1"),)))
    with pytest.raises(ValueError, match="fake/oracle has no batch API"):
        run(replace(cfg, backend_options=BackendOptions()), plugins())
    with pytest.raises(ValueError, match="needs the response cache"):
        run(replace(cfg, cache_path=None), plugins())


def test_ficticious_group_file_names(tmp_path, data):
    cfg = config(tmp_path, data, groups=("POLPARTY",), ficticious_group=True)
    run(cfg, plugins())
    folder = oqa_file(cfg, "model_logprobs", "task1", "POLPARTY", "x").parent
    assert sorted(p.name for p in folder.iterdir()) == ["Baz.json", "Foo.json"]


def test_cache_is_shared_across_result_dirs(tmp_path, data):
    cache = tmp_path / "shared.sqlite"
    run(config(tmp_path / "a", data, cache_path=cache), plugins())
    (report,) = run(config(tmp_path / "b", data, cache_path=cache), plugins())
    assert report.stats.sent == 0 and report.stats.cached == 35
    c = ResponseCache(cache)
    assert len(c) == 35
    c.close()


# --- the CLI with the real prompts and methods ------------------------------------------------------------
def cli(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / "lm_steering.py"), "--no_progress", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def test_cli_oracle_end_to_end_tv(tmp_path, data):
    out = cli("--dataset", "opinionqa", "--task", "0", "1", "--models", "fake/oracle", "--output_type",
              "model_logprobs", "express_distribution", "sequence", "--data_dir", str(data), "--results_dir",
              str(tmp_path / "results"), "--limit", "5")
    assert out.returncode == 0, out.stderr
    summary = out.stdout.splitlines()[0]
    assert summary.startswith("fake/oracle: requests: 102 sent, 0 cached, 0 failed; tokens: ")
    assert "($0.00); records: 102 written, 0 parse failures, 0 already done; skipped: 3" in summary
    means: dict[str, list[float]] = {}
    for row in evaluate(tmp_path / "results", data, "fixed", human=False).rows:  # the evaluation stage
        if row.model == "fake__oracle" and row.task == "task1":
            means.setdefault(row.output_type, []).extend(row.tvs)
    assert [len(v) for v in means.values()] == [29, 29, 29]
    assert np.mean(means["model_logprobs"]) < 1e-9
    assert np.mean(means["express_distribution"]) < 2e-3  # percent rounding
    assert 0.05 < np.mean(means["sequence"]) < 0.16  # the floor of 30 samples
    again = cli("--dataset", "opinionqa", "--task", "0", "1", "--models", "fake/oracle", "--output_type",
                "model_logprobs", "express_distribution", "sequence", "--data_dir", str(data), "--results_dir",
                str(tmp_path / "results"), "--limit", "5")
    assert "requests: 0 sent, 0 cached, 0 failed" in again.stdout and "102 already done" in again.stdout


def test_cli_errors_are_one_clear_line(tmp_path, data):
    out = cli("--models", "nope/x", "--data_dir", str(data), "--results_dir", str(tmp_path), "--limit", "1")
    assert out.returncode == 2 and out.stderr.startswith("error: unknown provider 'nope'")
    out = cli("--models", "fake/oracle", "--backend_arg", "oops", "--data_dir", str(data))
    assert out.returncode == 2 and "--backend_arg expects KEY=VALUE, got 'oops'" in out.stderr
    (tmp_path / "bad.sqlite").write_text("not sqlite" * 50)
    out = cli("--models", "fake/oracle", "--data_dir", str(data), "--cache_path", str(tmp_path / "bad.sqlite"),
              "--results_dir", str(tmp_path / "r"))
    assert out.returncode == 2 and "is not a database" in out.stderr and "Traceback" not in out.stderr


def test_cli_dry_run_output(tmp_path, data):
    out = cli("--dataset", "opinionqa", "--task", "1", "3", "--models", "fake/oracle", "gpt-4", "anthropic_opus",
              "--output_type", "model_logprobs", "express_distribution", "--data_dir", str(data), "--results_dir",
              str(tmp_path / "r"), "--limit", "4", "--dry_run")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].split() == ["model", "output_type", "requests", "input", "tok", "output", "tok", "cost"]
    assert any(line.startswith("anthropic_opus") and "n/a:" in line for line in lines)
    assert lines[-1].startswith("total: ") and not (tmp_path / "r").exists()


def test_backend_options_from_the_cli():
    sys.path.insert(0, str(REPO))
    try:
        import lm_steering
    finally:
        sys.path.pop(0)
    args = lm_steering.parse_args(["--models", "fake/oracle", "--backend_arg", "latency_ms=5", "--backend_arg",
                                   "a=b=c", "--base_url", "http://localhost:8000/v1", "--device", "cpu",
                                   "--results_dir", "out", "--dataset", "nytimes", "opinionqa", "nytimes"])
    cfg = lm_steering.config(args)
    assert cfg.backend_options.extra == (("latency_ms", "5"), ("a", "b=c"))
    assert cfg.backend_options.base_url == "http://localhost:8000/v1" and cfg.backend_options.device == "cpu"
    assert cfg.cache_path == Path("out/.cache/responses.sqlite") and cfg.datasets == ("nytimes", "opinionqa")
    assert cfg.output_types == ("express_distribution", "sequence", "model_logprobs") and cfg.tasks == (1,)
    assert lm_steering.config(lm_steering.parse_args(["--models", "x/y", "--no_cache"])).cache_path is None


def test_fake_backend_is_registered():
    assert asyncio.run(get_backend("fake/uniform").complete(Request(()))).text in "AB"


DATA = REPO / "opinions_qa" / "data" / "human_resp"


@pytest.mark.data
@pytest.mark.skipif(not DATA.exists(), reason="benchmark data not fetched (python -m distalign.data fetch)")
def test_oracle_through_generation_and_lm_steering_eval_on_the_real_data(tmp_path):
    out = cli("--dataset", "opinionqa", "nytimes", "globalvalues", "--task", "1", "3", "--models", "fake/oracle",
              "--output_type", "model_logprobs", "express_distribution", "sequence", "--results_dir",
              str(tmp_path / "results"), "--limit", "3")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("fake/oracle: requests: 234 sent, 0 cached, 0 failed")
    ev = subprocess.run([sys.executable, str(REPO / "lm_steering_eval.py"), "--results_dir", str(tmp_path / "results"),
                         "--data_dir", str(REPO), "--output_dir", str(tmp_path / "eval"), "--n_bootstrap", "20",
                         "--quiet"], capture_output=True, text=True, timeout=300)
    assert ev.returncode == 0, ev.stderr
    import pandas as pd

    rows = pd.read_csv(tmp_path / "eval" / "eval_disagreement_bootstrapping.csv")
    tvs = rows[rows["Model"] == "fake__oracle"].groupby("Output Type")["TV"].mean()
    assert tvs["model_logprobs"] < 1e-9 and tvs["express_distribution"] < 2e-3
    assert 0.05 < tvs["sequence"] < 0.16
