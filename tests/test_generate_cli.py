"""Generation: request logs and secrets, the dry run and the batch pass.

The tests use the tiny OpinionQA-format data and the stand-ins of tests/generate_standins.py; the CLI tests, which
run ``lm_steering.py`` with the real prompts and methods, are in tests/test_lm_steering_cli.py.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from distalign.backends import BackendOptions
from distalign.backends.base import Backend
from distalign.engine.cache import ResponseCache
from distalign.engine.runlog import read_log
from distalign.generate import dry_run, format_dry_run, run
from distalign.redact import MASK
from distalign.results import read_results, scan
from distalign.types import Capabilities, Completion, Request
from tests.generate_standins import config, oqa_file, plugins, write_tiny_oqa


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
        return Completion(
            text=f"A (key {self.key})",
            top_logprobs=(("A", -0.1), ("B", -2.4)),
            model_id="leaky-1",
            fingerprint="fp_1",
            input_tokens=5,
            output_tokens=1,
        )


def test_log_records_and_no_secrets(tmp_path, data, monkeypatch):
    secret = "sk-" + "proj-THISISNOTAREALKEY0123456789"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    p = plugins(
        get_backend=lambda model, options: Leaky(secret), capabilities=lambda model, options: Leaky.capabilities
    )
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

    caps = {
        "fake/oracle": Capabilities(logprobs=True, max_top_logprobs=20),
        "gpt-4": Capabilities(priced=True),
        "openai/new-model": Capabilities(priced=True),
    }
    p = plugins(get_backend=no_backend, capabilities=lambda model, options: caps[model])
    cfg = config(
        tmp_path,
        data,
        models=("fake/oracle", "gpt-4", "openai/new-model"),
        output_types=("model_logprobs", "independent_samples"),
        n_samples=3,
    )
    rows = dry_run(cfg, p)
    assert [(r["model"], r["output_type"], r["requests"]) for r in rows] == [
        ("fake/oracle", "model_logprobs", 35),
        ("fake/oracle", "independent_samples", 105),
        ("gpt-4", "model_logprobs", 0),
        ("gpt-4", "independent_samples", 105),
        ("openai/new-model", "model_logprobs", 0),
        ("openai/new-model", "independent_samples", 105),
    ]
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
