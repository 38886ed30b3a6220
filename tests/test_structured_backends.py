"""Structured outputs through the HTTP backends (official SDKs against loopback fakes) and the run's exit codes.

OpenAI: ``response_format`` json_schema (strict), llama-cpp-python's ``json_object`` spelling and the regex extension
fields of vLLM, SGLang and llama.cpp (GBNF, translated from the regex); Anthropic: ``output_config`` or a forced
tool call. Exit codes of ``lm_steering.py``: 1 a model could not start (missing key, nothing listening), 3 some
requests failed, 4 all failed.

Run: ``.venv/bin/python -m pytest tests/test_structured_backends.py``.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from backend_calls import complete_fails, complete_one
from fakeserver_anthropic import FakeAnthropic
from fakeserver_openai import FakeOpenAI
from generate_standins import write_tiny_oqa

import lm_steering
from distalign.backends import BackendOptions, get_backend, model_capabilities
from distalign.backends._gbnf import regex_to_gbnf
from distalign.expression import get_method
from distalign.expression.base import MethodConfig
from distalign.types import Capabilities, Constraint, Message, Request, SurveyItem

MESSAGES = (Message("user", "Which one? Answer:"),)
ITEM = SurveyItem("opinionqa", "Q", "Q", ("x", "y", "z"), "SEX", "Male", "Male")
V_S = get_method("express_distribution_structured").requests(ITEM, MESSAGES, MethodConfig(), caps=None)[0]
SEQ_RX = get_method("sequence_structured").requests(ITEM, MESSAGES, MethodConfig(), caps=None)[0]


@pytest.fixture
def openai_server() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as srv:
        srv.responder = lambda prompt, body: '{"A": 20, "B": 30, "C": 50}'
        yield srv  # type: ignore[misc]


def compat(srv: FakeOpenAI, **extra: str) -> object:
    return get_backend("openai/served", BackendOptions(base_url=srv.url + "/v1", extra=tuple(extra.items())))


def test_openai_models_declare_json_schemas_where_they_have_them() -> None:
    assert model_capabilities("openai/gpt-4o-2024-08-06").constraints == ("json_schema",)
    assert model_capabilities("openai/o3-mini").constraints == ("json_schema",)
    for old in ("gpt-4", "gpt-3.5-turbo-0125", "openai/gpt-4-turbo-2024-04-09", "openai/gpt-4o-2024-05-13"):
        assert model_capabilities(old).constraints == ()
    assert get_method("express_distribution_structured").unsupported(model_capabilities("gpt-4")) is not None


def test_strict_json_schema_on_openai_compatible_servers(openai_server: FakeOpenAI) -> None:
    c = complete_one(compat(openai_server), V_S)  # type: ignore[arg-type]
    fmt = openai_server.bodies[-1]["response_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["strict"] is True
    assert fmt["json_schema"]["schema"] == json.loads(V_S.constraint.spec)  # type: ignore[union-attr]
    assert "stop" not in openai_server.bodies[-1] and c.text == '{"A": 20, "B": 30, "C": 50}'


def test_llama_cpp_python_spelling(openai_server: FakeOpenAI) -> None:
    complete_one(compat(openai_server, json_schema_format="json_object"), V_S)  # type: ignore[arg-type]
    fmt = openai_server.bodies[-1]["response_format"]
    assert fmt == {"type": "json_object", "schema": json.loads(V_S.constraint.spec)}  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("field", "sent"),
    [
        ("structured_outputs", {"structured_outputs": {"regex": "[ABC]( [ABC]){29}"}}),
        ("guided_regex", {"guided_regex": "[ABC]( [ABC]){29}"}),
        ("regex", {"regex": "[ABC]( [ABC]){29}"}),
        ("grammar", {"grammar": 'root ::= [ABC] (" " [ABC]){29}\n'}),
    ],
)
def test_regex_extension_fields(openai_server: FakeOpenAI, field: str, sent: dict) -> None:
    backend = compat(openai_server, regex_field=field)
    assert backend.capabilities.constraints == ("json_schema", "regex")  # type: ignore[attr-defined]
    complete_one(backend, SEQ_RX)  # type: ignore[arg-type]
    body = openai_server.bodies[-1]
    assert {k: body[k] for k in sent} == sent and "response_format" not in body


def test_undeclared_forms_and_bad_options_are_clear_errors(openai_server: FakeOpenAI) -> None:
    err = complete_fails(compat(openai_server), SEQ_RX)  # type: ignore[arg-type]
    assert "enforces no regex" in str(err) and openai_server.calls == 0
    with pytest.raises(ValueError, match="regex_field='xgrammar': expected one of structured_outputs"):
        compat(openai_server, regex_field="xgrammar")
    none = compat(openai_server, json_schema_format="none")
    assert none.capabilities.constraints == ()  # type: ignore[attr-defined]


# --- Anthropic ------------------------------------------------------------------------------------------------------
@pytest.fixture
def anthropic_server() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as srv:
        srv.responder = lambda prompt, body: '{"A": 20, "B": 30, "C": 50}'
        yield srv  # type: ignore[misc]


def claude(srv: FakeAnthropic, model: str, **extra: str) -> object:
    options = BackendOptions(extra=(("base_url", srv.url), *extra.items()))
    return get_backend(f"anthropic/{model}", options)


def test_anthropic_structured_outputs_where_the_model_has_them(anthropic_server: FakeAnthropic) -> None:
    c = complete_one(claude(anthropic_server, "claude-haiku-4-5"), V_S)  # type: ignore[arg-type]
    body = anthropic_server.bodies[-1]
    fmt = body["output_config"]["format"]
    assert fmt["type"] == "json_schema" and fmt["schema"]["required"] == ["A", "B", "C"] and "tools" not in body
    assert c.text == '{"A": 20, "B": 30, "C": 50}'


def test_anthropic_forced_tool_call_for_older_models(anthropic_server: FakeAnthropic) -> None:
    c = complete_one(claude(anthropic_server, "claude-3-haiku-20240307"), V_S)  # type: ignore[arg-type]
    body = anthropic_server.bodies[-1]
    assert body["tool_choice"] == {"type": "tool", "name": "reply"} and "output_config" not in body
    assert body["tools"][0]["input_schema"] == json.loads(V_S.constraint.spec)  # type: ignore[union-attr]
    assert json.loads(c.text) == {"A": 20, "B": 30, "C": 50}  # the tool's input is the reply
    assert model_capabilities("anthropic/claude-2.1").constraints == ()
    forced = claude(anthropic_server, "claude-haiku-4-5", structured="tool")
    complete_one(forced, Request(MESSAGES, constraint=Constraint("json_schema", "{}")))  # type: ignore[arg-type]
    assert "tools" in anthropic_server.bodies[-1]


# --- regex -> GBNF --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("regex", "gbnf"),
    [
        ("[ABC]( [ABC]){29}", '[ABC] (" " [ABC]){29}'),
        ("^ab|c$", '"ab" | "c"'),
        (r"(?:x\.y)+?z*", r'("x.y")+ "z"*'),
        (r"[^\]a-c-]{2,}", r"[^\x5Da-c\x2D]{2,}"),
        (r'\d{1,3}%"\\', r'[0-9]{1,3} "%\x22\x5C"'),
        ("(a|)b?", '("a" | "") "b"?'),
    ],
)
def test_regex_to_gbnf(regex: str, gbnf: str) -> None:
    assert regex_to_gbnf(regex) == f"root ::= {gbnf}\n"


@pytest.mark.parametrize("bad", ["(ab", "a)", "(?=a)b", r"\1", "a{x}", "*a", "[ab", "a^b"])
def test_untranslatable_regexes_raise_instead_of_crashing_the_server(bad: str) -> None:
    with pytest.raises(ValueError, match="cannot translate"):
        regex_to_gbnf(bad)


# --- exit codes and the dead-server check ---------------------------------------------------------------------------
def run(tmp_path: Path, *extra: str) -> int:
    if not (tmp_path / "data").exists():
        write_tiny_oqa(tmp_path / "data")
    argv = ["--dataset", "opinionqa", "--task", "1", "--limit", "2", "--no_progress", "--max_retries", "0"]
    return lm_steering.main([*argv, "--data_dir", str(tmp_path / "data"), "--output_dir", str(tmp_path / "r"), *extra])


def test_every_request_failing_is_exit_4(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(tmp_path, "--models", "fake/oracle", "--backend_arg", "fail_always=1") == 4
    err = capsys.readouterr().err
    assert re.match(r"error: all \d+ requests sent failed \(rerun to retry them\); first: BackendError: injected", err)


def test_missing_key_is_exit_1_before_any_request(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    assert run(tmp_path, "--models", "openai/gpt-4o-2024-08-06", "fake/oracle") == 1
    out = capsys.readouterr()
    assert "error: 1 of 2 models could not start; first: openai/gpt-4o-2024-08-06 needs OPENAI_API_KEY" in out.err
    assert (
        "fake/oracle: requests: 36 sent" in out.out
        and not (tmp_path / "r/logs/openai__gpt-4o-2024-08-06.jsonl").exists()
    )


def test_dead_base_url_fails_fast_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    start = time.perf_counter()
    assert run(tmp_path, "--models", "openai/served", "--base_url", "http://127.0.0.1:9/v1") == 1
    elapsed, err = time.perf_counter() - start, capsys.readouterr().err
    assert elapsed < 10 and err.count("\n") == 1 and "Traceback" not in err
    assert (
        "nothing listens at http://127.0.0.1:9/v1 (connection refused); start the server or correct --base_url" in err
    )


def test_capabilities_of_compatible_servers_need_no_server() -> None:
    caps = model_capabilities("openai/x", BackendOptions(base_url="http://127.0.0.1:9/v1"))
    assert isinstance(caps, Capabilities) and caps.constraints == ("json_schema",)
