"""Generation: request logs and secrets, the dry run, the batch pass, and lm_steering.py end to end.

The first tests use the tiny OpinionQA-format data and the stand-ins of tests/generate_standins.py; the CLI tests
run ``lm_steering.py`` with the real prompts and methods.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from distalign.backends import BackendOptions, get_backend
from distalign.backends.base import Backend
from distalign.engine.cache import ResponseCache
from distalign.engine.runlog import read_log
from distalign.evaluation import evaluate
from distalign.generate import (
    dry_run,
    format_dry_run,
    run,
)
from distalign.redact import MASK
from distalign.results import read_results, scan
from distalign.types import Capabilities, Completion, Request
from tests.generate_standins import (
    REPO,
    config,
    oqa_file,
    plugins,
    write_tiny_oqa,
)


@pytest.fixture
def data(tmp_path) -> Path:
    write_tiny_oqa(tmp_path / "data")
    return tmp_path / "data"


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
