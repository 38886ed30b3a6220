"""Anthropic backend against a loopback fake server, through the official SDK."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from backend_calls import complete_fails, complete_one
from fakeserver_anthropic import FakeAnthropic

from distalign.backends import BackendOptions, TransientError, get_backend
from distalign.backends.anthropic import AnthropicBackend, capabilities
from distalign.engine import Executor, RetryPolicy
from distalign.engine.cache import ResponseCache
from distalign.parsers import parse_sequence, parse_verbalized
from distalign.types import Message, Request

FAKE_KEY = "sk-" + "ant-test-abcdefghijklmnopqrstuvwxyz0123"
MESSAGES = (Message("system", "You are a helpful assistant."), Message("user", "Simulate 30 answers."))


@pytest.fixture
def server() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as srv:
        yield srv  # type: ignore[misc]


def backend(srv: FakeAnthropic, model: str = "claude-3-opus-20240229", timeout: float = 5.0) -> AnthropicBackend:
    b = get_backend(f"anthropic/{model}", BackendOptions(timeout=timeout, extra=(("base_url", srv.url),)))
    assert isinstance(b, AnthropicBackend)
    return b


@pytest.mark.parametrize(
    ("model", "temperature", "together"),
    [
        ("claude-3-opus-20240229", True, True),
        ("claude-3-haiku-20240307", True, True),
        ("claude-3-5-sonnet-20241022", True, True),
        ("claude-sonnet-4-20250514", True, True),
        ("claude-opus-4-1-20250805", True, False),
        ("claude-sonnet-4-5-20250929", True, False),
        ("claude-haiku-4-5-20251001", True, False),
        ("claude-opus-4-6", True, False),
        ("claude-opus-4-7", False, False),
        ("claude-sonnet-5", False, False),
        ("claude-someday-9", False, False),
    ],
)
def test_anthropic_rule_table(model: str, temperature: bool, together: bool) -> None:
    caps = capabilities(model, BackendOptions())
    assert (caps.temperature, caps.temperature_with_top_p) == (temperature, together)
    assert not caps.logprobs and caps.max_top_logprobs == 0 and caps.batch_api and not caps.seed


def test_messages_request_shape_and_outputs(server: FakeAnthropic) -> None:
    c = complete_one(backend(server), Request(MESSAGES, max_tokens=64, temperature=1.0, stop=("\n", "END")))
    body = server.bodies[-1]
    assert body["system"] == "You are a helpful assistant." and [m["role"] for m in body["messages"]] == ["user"]
    assert body["stop_sequences"] == ["END"]  # whitespace-only stops are applied client-side
    assert "temperature" not in body  # the default is never sent (API 2026-10-21 rejects it)
    assert server.headers[-1]["anthropic-version"] != "2023-06-01"
    assert parse_sequence(c.text, "ABC").parse_ok and c.model_id == "claude-3-opus-20240229"
    verbal = complete_one(backend(server), Request((Message("user", "Give a JSON dictionary"),)))
    assert parse_verbalized(verbal.text, "ABC").dist.probs == pytest.approx((0.5, 0.3, 0.2))


def test_non_default_temperature_uses_legacy_api_version_or_fails(server: FakeAnthropic) -> None:
    complete_one(backend(server), Request(MESSAGES, temperature=0.5))
    assert server.bodies[-1]["temperature"] == 0.5 and server.headers[-1]["anthropic-version"] == "2023-06-01"
    err = complete_fails(backend(server, "claude-opus-4-7"), Request(MESSAGES, temperature=0.5))
    assert "temperature" in str(err) and server.calls == 1
    complete_one(backend(server, "claude-opus-4-7"), Request(MESSAGES, temperature=1.0))
    assert "temperature" not in server.bodies[-1]


def test_client_side_stop(server: FakeAnthropic) -> None:
    server.responder = lambda prompt, body: "B\nQuestion: more"
    c = complete_one(backend(server), Request(MESSAGES, stop=("\n",)))
    assert (c.text, c.finish_reason) == ("B", "stop_sequence")


def test_logprob_requests_are_refused_before_any_call(server: FakeAnthropic) -> None:
    assert "log-probabilities" in str(complete_fails(backend(server), Request(MESSAGES, top_logprobs=5)))
    assert server.calls == 0


@pytest.mark.parametrize("fault", ["429", "500", "529", "hang", "close", "malformed"])
def test_transient_faults(server: FakeAnthropic, fault: str) -> None:
    server.hang_s = 2.0
    server.fail_next(fault)
    err = complete_fails(backend(server, timeout=0.5), Request(MESSAGES))
    assert isinstance(err, TransientError)
    if fault == "429":
        assert err.retry_after == pytest.approx(0.05)


@pytest.mark.parametrize("fault", ["400", "401", "404"])
def test_permanent_faults(server: FakeAnthropic, fault: str) -> None:
    server.fail_next(fault)
    assert not isinstance(complete_fails(backend(server), Request(MESSAGES)), TransientError)


def test_empty_content_is_empty_text(server: FakeAnthropic) -> None:
    server.fail_next("empty")
    assert complete_one(backend(server), Request(MESSAGES)).text == ""


def test_api_key_never_in_errors(server: FakeAnthropic, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", FAKE_KEY)
    server.fail_next("401")
    b = backend(server)
    err = complete_fails(b, Request(MESSAGES))
    seen = server.headers[-1].get("x-api-key", "") + server.headers[-1].get("authorization", "")
    assert FAKE_KEY in seen  # it did reach the server, which echoed it back
    assert FAKE_KEY not in str(err) and "abcdefghijklmnop" not in repr(err) and FAKE_KEY not in b.cache_identity()


def test_missing_key_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_BASE_URL", raising=False)
    b = get_backend("anthropic_haiku")
    assert isinstance(b, AnthropicBackend)
    assert "ANTHROPIC_API_KEY" in str(complete_fails(b, Request(MESSAGES)))


def test_engine_retries_overload_then_caches(server: FakeAnthropic) -> None:
    server.fail_next("529", "429")
    b = backend(server)

    async def go() -> list[Any]:
        ex = Executor(b, ResponseCache(":memory:"), policy=RetryPolicy(base_delay=0.001))
        out = [await ex.run(Request(MESSAGES)), await ex.run(Request(MESSAGES))]
        await b.aclose()
        return out

    first, second = asyncio.run(go())
    assert first.attempts == 3 and second.cached and server.calls == 3
