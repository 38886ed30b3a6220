"""Structured outputs over HTTP: which constraint forms a provider or server enforces, and how a request asks for them.

* **OpenAI** (api.openai.com): ``response_format`` ``json_schema`` (strict) on every model that has it (all but
  gpt-3.5, gpt-4/gpt-4-turbo, gpt-4o-2024-05-13, o1-mini/o1-preview and chatgpt-4o); no regular expressions.
* **OpenAI-compatible servers** (``--base_url``): JSON schemas through ``response_format``, spelled as
  ``--backend_arg json_schema_format=`` says: ``json_schema`` (the default; OpenAI's spelling, which vLLM, SGLang,
  Ollama and llama.cpp's C++ ``llama-server`` accept), ``json_object`` (``{"type": "json_object", "schema": ...}``,
  llama-cpp-python's server, which answers ``json_schema`` with HTTP 500) or ``none``. Regular expressions only
  where ``--backend_arg regex_field=`` names the server's extension field: ``structured_outputs`` (vLLM >= 0.10.2:
  ``{"structured_outputs": {"regex": ...}}``), ``guided_regex`` (vLLM before 0.12), ``regex`` (SGLang) or
  ``grammar`` (llama.cpp: the regex is translated to GBNF by :mod:`distalign.backends._gbnf`).
* **Anthropic**: ``output_config.format`` (``json_schema``) on the models with structured outputs (Sonnet 4.5+,
  Opus 4.1+, Haiku 4.5+ and every later generation); the older Claude 3 and 4 models get a forced tool call whose
  input schema is the constraint's schema, and the tool's input is the reply. ``--backend_arg structured=native``,
  ``tool`` or ``none`` overrides the rule. Regular expressions: none.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from distalign.backends._gbnf import regex_to_gbnf
from distalign.backends.base import BackendError
from distalign.types import Constraint

JSON_SCHEMA_FORMATS = ("json_schema", "json_object", "none")
REGEX_FIELDS = ("structured_outputs", "guided_regex", "regex", "grammar")  # extension fields: sent as extra_body
OPENAI_NO_SCHEMA = r"gpt-3\.5|gpt-4(?![o.\d])|gpt-4o-2024-05-13|o1-(mini|preview)|chatgpt-4o|davinci|babbage"
ANTHROPIC_NATIVE = (
    r"claude-(opus-4-[1-9]|sonnet-4-[5-9]|haiku-4-[5-9])(?!\d)|claude-(opus|sonnet|haiku)-([5-9]|\d\d)"
    r"|claude-(fable|mythos)"
)
ANTHROPIC_FORMS = ("native", "tool", "none")
SCHEMA_NAME = "reply"  # the json_schema's name (OpenAI) and the forced tool's name (Anthropic)


def _choice(extra: Mapping[str, str], key: str, valid: tuple[str, ...], default: str) -> str:
    value = extra.get(key, default)
    if value not in valid:
        raise ValueError(f"backend option {key}={value!r}: expected one of {', '.join(valid)}")
    return value


def openai_constraints(model: str, compatible: bool, extra: Mapping[str, str]) -> tuple[str, ...]:
    """The constraint kinds an OpenAI model or an OpenAI-compatible server enforces.

    >>> openai_constraints("gpt-4o-2024-08-06", False, {}), openai_constraints("gpt-4-0613", False, {})
    (('json_schema',), ())
    >>> openai_constraints("smollm2", True, {"json_schema_format": "json_object", "regex_field": "grammar"})
    ('json_schema', 'regex')
    """
    if not compatible:
        return () if re.match(OPENAI_NO_SCHEMA, model) else ("json_schema",)
    schemas = _choice(extra, "json_schema_format", JSON_SCHEMA_FORMATS, "json_schema") != "none"
    kinds = ["json_schema"] if schemas else []
    if "regex_field" in extra:
        _choice(extra, "regex_field", REGEX_FIELDS, "")
        kinds.append("regex")
    return tuple(kinds)


def openai_fields(constraint: Constraint, extra: Mapping[str, str], label: str) -> dict[str, Any]:
    """The chat-completion body fields that ask for ``constraint`` (extension fields included).

    >>> openai_fields(Constraint("regex", "[AB]"), {"regex_field": "structured_outputs"}, "x")
    {'structured_outputs': {'regex': '[AB]'}}
    >>> openai_fields(Constraint("json_schema", '{"type":"object"}'), {"json_schema_format": "json_object"}, "x")
    {'response_format': {'type': 'json_object', 'schema': {'type': 'object'}}}
    """
    if constraint.kind == "json_schema":
        schema = json.loads(constraint.spec)
        if _choice(extra, "json_schema_format", JSON_SCHEMA_FORMATS, "json_schema") == "json_object":
            return {"response_format": {"type": "json_object", "schema": schema}}
        return {
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": SCHEMA_NAME, "strict": True, "schema": schema},
            }
        }
    field = extra.get("regex_field", "")
    if constraint.kind != "regex" or field not in REGEX_FIELDS:
        raise BackendError(f"{label} enforces no {constraint.kind} (see --backend_arg regex_field=...)")
    if field == "structured_outputs":
        return {"structured_outputs": {"regex": constraint.spec}}
    return {field: regex_to_gbnf(constraint.spec) if field == "grammar" else constraint.spec}


def anthropic_form(model: str, extra: Mapping[str, str]) -> str:
    """How a Claude model is asked for a JSON schema: ``native`` (``output_config``), ``tool`` or ``none``.

    >>> anthropic_form("claude-sonnet-4-5", {}), anthropic_form("claude-3-haiku-20240307", {})
    ('native', 'tool')
    >>> anthropic_form("claude-2.1", {})
    'none'
    """
    default = "native" if re.match(ANTHROPIC_NATIVE, model) else "tool"
    if re.match(r"claude-(instant|2)", model):
        default = "none"  # no tool use before Claude 3
    return _choice(extra, "structured", ANTHROPIC_FORMS, default)


def anthropic_params(
    constraint: Constraint, form: str, label: str, schema_fix: Callable[[dict[str, Any]], dict[str, Any]]
) -> dict[str, Any]:
    """Messages API parameters asking for ``constraint`` (``schema_fix``: the SDK's schema transform, native)."""
    if constraint.kind != "json_schema" or form == "none":
        raise BackendError(f"{label} enforces no {constraint.kind}")
    schema = json.loads(constraint.spec)
    if form == "native":
        return {"output_config": {"format": {"type": "json_schema", "schema": schema_fix(schema)}}}
    tool = {"name": SCHEMA_NAME, "description": "Give your reply.", "input_schema": schema}
    return {"tools": [tool], "tool_choice": {"type": "tool", "name": SCHEMA_NAME}}
