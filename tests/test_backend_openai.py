"""OpenAI / OpenAI-compatible backend against a loopback fake server, through the official SDK."""

from __future__ import annotations

import asyncio
import json
import math
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from backend_calls import complete_fails, complete_one
from fakeserver_openai import FakeOpenAI
from generate_standins import write_tiny_oqa

from distalign.backends import BackendOptions, TransientError, get_backend
from distalign.backends.openai import OpenAIBackend, capabilities
from distalign.engine import Executor, RetryPolicy
from distalign.engine.cache import ResponseCache
from distalign.parsers import parse_logprobs, parse_sequence, parse_verbalized
from distalign.types import Message, Request

REPO = Path(__file__).resolve().parents[1]
FAKE_KEY = "sk-" + "test-abcdefghijklmnopqrstuvwxyz0123456789"
MESSAGES = (Message("system", "You are a helpful assistant."), Message("user", "Which one? Answer:"))


@pytest.fixture
def server() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as srv:
        yield srv  # type: ignore[misc]


def backend(srv: FakeOpenAI, model: str = "gpt-4o-2024-08-06", timeout: float = 5.0, **extra: str) -> OpenAIBackend:
    opts = BackendOptions(base_url=srv.url + "/v1", timeout=timeout, extra=tuple(extra.items()))
    b = get_backend(f"openai/{model}", opts)
    assert isinstance(b, OpenAIBackend)
    return b


# --- capabilities -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("model", "logprobs", "temperature", "json_output"),
    [
        ("gpt-4o-2024-08-06", True, True, True),
        ("gpt-4-0613", True, True, False),
        ("gpt-3.5-turbo-0125", True, True, True),
        ("o1-2024-12-17", False, False, True),
        ("o3-mini", False, False, True),
        ("o4-mini-2025-04-16", False, False, True),
        ("gpt-5", False, False, True),
        ("gpt-5.1-2025-11-13", False, False, True),
        ("gpt-5-chat-latest", True, True, True),
    ],
)
def test_openai_rule_table(model: str, logprobs: bool, temperature: bool, json_output: bool) -> None:
    caps = capabilities(model, BackendOptions())
    assert (caps.logprobs, caps.temperature, caps.json_output) == (logprobs, temperature, json_output)
    assert caps.batch_api and caps.max_top_logprobs == (20 if logprobs else 0)


def test_compatible_server_capabilities_come_from_options() -> None:
    opts = BackendOptions(
        base_url="http://localhost:8000/v1/", logprobs=False, extra=(("seed", "false"), ("batch_api", "true"))
    )
    b = get_backend("openai/meta-llama/Llama-3.1-8B-Instruct", opts)
    assert not b.capabilities.logprobs and not b.capabilities.seed and b.capabilities.batch_api
    assert b.cache_identity() == "openai/meta-llama/Llama-3.1-8B-Instruct@http://localhost:8000/v1"
    with pytest.raises(ValueError, match="unknown backend option"):
        get_backend("openai/x", BackendOptions(extra=(("bogus", "1"),)))


# --- success paths ------------------------------------------------------------------------------------------------
def test_logprobs_request_and_distribution(server: FakeOpenAI) -> None:
    request = Request(
        MESSAGES, max_tokens=2, temperature=1.0, top_logprobs=20, letters=("A", "B", "C"), seed=7, sample_index=2
    )
    c = complete_one(backend(server), request)
    body = server.bodies[-1]
    assert body["logprobs"] is True and body["top_logprobs"] == 20 and body["max_tokens"] == 2
    assert body["temperature"] == 1.0 and body["seed"] == 9 and body["messages"][0]["role"] == "system"
    assert c.fingerprint == "fp_fake" and c.model_id == "gpt-4o-2024-08-06" and c.output_tokens == 1
    parsed = parse_logprobs(c.top_logprobs, "ABC")
    assert parsed.parse_ok
    assert [round(p, 6) for p in parsed.dist.probs] == [round(x / 0.95, 6) for x in (0.6, 0.25, 0.1)]


def test_logprobs_taken_after_a_leading_answer_prefix(server: FakeOpenAI) -> None:
    server.responder = lambda prompt, body: "Answer: B"
    server.top = [(" B", math.log(0.9)), (" A", math.log(0.1))]
    c = complete_one(backend(server), Request(MESSAGES, top_logprobs=5, letters=("A", "B")))
    assert c.text == "Answer: B" and c.top_logprobs[0][0] == " B"


def test_verbalize_and_sequence_replies_parse(server: FakeOpenAI) -> None:
    verbal = complete_one(backend(server), Request((Message("user", "Reply with a JSON dictionary"),)))
    assert parse_verbalized(verbal.text, "ABC").dist.probs == pytest.approx((0.5, 0.3, 0.2))
    seq = complete_one(backend(server), Request((Message("user", "Simulate 30 answers"),), stop=("\n",)))
    assert parse_sequence(seq.text, "ABC").parse_ok and server.bodies[-1]["stop"] == ["\n"]


def test_reasoning_model_body_and_client_side_stop(server: FakeOpenAI) -> None:
    server.responder = lambda prompt, body: "B\nQuestion: more"
    reasoning = backend(server, "o3-mini", reasoning="true")
    c = complete_one(reasoning, Request(MESSAGES, max_tokens=5, stop=("\n",), seed=1))
    body = server.bodies[-1]
    assert body["max_completion_tokens"] == 5 + 2048
    assert not {"max_tokens", "temperature", "stop", "seed", "logprobs"} & set(body)
    assert c.text == "B" and c.finish_reason == "stop"
    reasoning = backend(server, "o3-mini", reasoning="true")
    assert "temperature" in str(complete_fails(reasoning, Request(MESSAGES, temperature=0.2)))
    reasoning = backend(server, "o3-mini", reasoning="true")
    assert "log-probabilities" in str(complete_fails(reasoning, Request(MESSAGES, top_logprobs=5)))


def test_missing_logprobs_from_a_compatible_server_is_an_error_not_zeros(server: FakeOpenAI) -> None:
    server.logprobs = False
    err = complete_fails(backend(server), Request(MESSAGES, top_logprobs=0, letters=("A", "B")))
    assert "logprobs=false" in str(err) and not isinstance(err, TransientError)


# --- error classification -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("fault", ["429", "500", "503", "hang", "close", "malformed", "empty"])
def test_transient_faults(server: FakeOpenAI, fault: str) -> None:
    server.hang_s = 2.0
    server.fail_next(fault)
    err = complete_fails(backend(server, timeout=0.5), Request(MESSAGES))
    assert isinstance(err, TransientError)
    if fault == "429":
        assert err.retry_after == pytest.approx(0.05)


@pytest.mark.parametrize("fault", ["400", "401", "404"])
def test_permanent_faults(server: FakeOpenAI, fault: str) -> None:
    server.fail_next(fault)
    err = complete_fails(backend(server), Request(MESSAGES))
    assert not isinstance(err, TransientError) and f"HTTP {fault}" in str(err)


def test_api_key_never_in_errors_identity_or_completions(server: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_KEY)
    server.fail_next("401")
    b = backend(server)
    err = complete_fails(b, Request(MESSAGES))
    assert server.headers[-1]["authorization"] == f"Bearer {FAKE_KEY}"  # the key did reach the server
    c = complete_one(b, Request(MESSAGES, top_logprobs=3))
    for text in (str(err), repr(err), b.cache_identity(), repr(c), json.dumps(b.request_body(Request(MESSAGES)))):
        assert FAKE_KEY not in text and "abcdefghijklmnop" not in text


def test_key_resolution(server: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    assert "OPENAI_API_KEY" in str(complete_fails(get_backend("openai/gpt-4o"), Request(MESSAGES)))  # type: ignore[arg-type]
    complete_one(backend(server), Request(MESSAGES))
    assert server.headers[-1]["authorization"] == "Bearer EMPTY"
    monkeypatch.setenv("OPENAI_BASE_URL", server.url + "/v1")
    monkeypatch.setenv("MY_KEY", "sk-" + "other-123456789012")
    b = get_backend("openai/gpt-4o", BackendOptions(extra=(("api_key_env", "MY_KEY"),)))
    complete_one(b, Request(MESSAGES))  # type: ignore[arg-type]
    assert server.headers[-1]["authorization"] == "Bearer sk-other-123456789012"


# --- with the run engine: retries and cache, counted at the server -------------------------------------------------
def test_engine_retries_transient_faults_and_caches(server: FakeOpenAI) -> None:
    server.fail_next("429", "500", "close")
    b = backend(server)
    cache = ResponseCache(":memory:")
    request = Request(MESSAGES, top_logprobs=20, letters=("A", "B", "C"))

    async def go() -> list[Any]:
        ex = Executor(b, cache, policy=RetryPolicy(max_retries=5, base_delay=0.001))
        first = await ex.run(request)
        second = await ex.run(request)
        await b.aclose()
        return [first, second]

    first, second = asyncio.run(go())
    assert first.ok and first.attempts == 4 and server.calls == 4
    assert second.cached and server.calls == 4
    assert parse_logprobs(second.completion.top_logprobs, "ABC").parse_ok


def test_engine_does_not_retry_permanent_errors(server: FakeOpenAI) -> None:
    server.fail_next("400")
    b = backend(server)

    async def go() -> Any:
        out = await Executor(b, ResponseCache(":memory:"), policy=RetryPolicy(base_delay=0.001)).run(Request(MESSAGES))
        await b.aclose()
        return out

    outcome = asyncio.run(go())
    assert not outcome.ok and outcome.attempts == 1 and server.calls == 1 and "HTTP 400" in outcome.error


# --- end to end through the CLI: retries counted at the server, cache, no key anywhere ----------------------------
def lm_steering(server: FakeOpenAI, tmp_path: Path, env: dict[str, str], task: str) -> subprocess.CompletedProcess[str]:
    """``lm_steering.py`` on two questions of the tiny OpinionQA under ``tmp_path/data``, against ``server``."""
    args = [
        "--no_progress",
        "--models",
        "openai/gpt-4o-2024-08-06",
        "--base_url",
        server.url + "/v1",
        "--dataset",
        "opinionqa",
        "--task",
        task,
        "--output_type",
        "model_logprobs",
        "--limit",
        "2",
        "--data_dir",
        str(tmp_path / "data"),
        "--results_dir",
        str(tmp_path / "results"),
        "--max_retries",
        "3",
    ]
    return subprocess.run(
        [sys.executable, str(REPO / "lm_steering.py"), *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=tmp_path,
    )


def test_cli_end_to_end_retries_cache_and_no_key_anywhere(server: FakeOpenAI, tmp_path: Path) -> None:
    write_tiny_oqa(tmp_path / "data")
    env = {**os.environ, "OPENAI_API_KEY": FAKE_KEY}
    env.pop("OPENAI_BASE_URL", None)

    def cli(task: str) -> subprocess.CompletedProcess[str]:
        return lm_steering(server, tmp_path, env, task)

    server.fail_next("429", "500", "close")
    first = cli("1")
    assert first.returncode == 0, first.stderr
    n = len(server.bodies)  # requests answered
    assert n == 12 and server.calls == n + 3  # three transient faults, each retried once by the engine
    second = cli("1")
    assert second.returncode == 0 and server.calls == n + 3  # everything from the results / cache
    server.fail_next("401", "401")  # the server echoes the key in its error message
    third = cli("0")
    outputs = "".join(p.stdout + p.stderr for p in (first, second, third))
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert "HTTP 401" in outputs and any(b"HTTP 401" in p.read_bytes() for p in files if p.suffix == ".jsonl")
    assert FAKE_KEY not in outputs and all(FAKE_KEY.encode() not in p.read_bytes() for p in files)
