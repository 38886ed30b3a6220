"""Structured methods V-S and Seq-S: requests, constraint forms, parsing, the fake backends, records and leaderboards.

Run: ``.venv/bin/python -m pytest tests/test_structured.py``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from generate_standins import write_tiny_oqa

import lm_steering
from distalign.backends import BackendOptions, get_backend, model_capabilities
from distalign.backends.fake import constrained
from distalign.expression import get_method
from distalign.expression.base import MethodConfig
from distalign.expression.sequence_structured import answers_regex
from distalign.results import read_results, scan
from distalign.types import Capabilities, Completion, Constraint, Distribution, Message, SurveyItem

ITEM = SurveyItem("opinionqa", "Q1", "Rain?", ("No", "Maybe", "Yes"), "SEX", "Female", "Female")
ITEM = SurveyItem(**{**ITEM.__dict__, "truth": Distribution(("A", "B", "C"), (0.6, 0.1, 0.3))})
MSGS = (Message("system", "s"), Message("user", "u"))
CFG = MethodConfig(temperature=0.7, seed=3, max_tokens=16)
BOTH = Capabilities(seed=True, constraints=("json_schema", "regex"))
SCHEMA_ONLY = Capabilities(seed=True, constraints=("json_schema",))
V_S, SEQ_S = get_method("express_distribution_structured"), get_method("sequence_structured")


# --- requests and capabilities ----------------------------------------------------------------------------------
def test_v_s_sends_the_distribution_schema_without_stop_sequences() -> None:
    (req,) = V_S.requests(ITEM, MSGS, CFG, caps=SCHEMA_ONLY, task="task1")
    assert req.constraint is not None and req.constraint.kind == "json_schema" and req.stop == ()
    schema = json.loads(req.constraint.spec)
    assert schema["required"] == ["A", "B", "C"] and schema["additionalProperties"] is False
    assert set(schema["properties"]) == {"A", "B", "C"} and schema["properties"]["B"]["type"] == "number"
    assert req.max_tokens == 46 and (req.temperature, req.seed) == (0.7, 3)  # the format's budget beats 16
    assert dict(req.meta)["output_type"] == "express_distribution_structured"


def test_seq_s_prefers_a_regex_and_falls_back_to_the_json_schema() -> None:
    (regex,) = SEQ_S.requests(ITEM, MSGS, CFG, caps=BOTH)
    assert regex.constraint == Constraint("regex", "[ABC]( [ABC]){29}")
    assert re.fullmatch(regex.constraint.spec, " ".join("ABC" * 10)) and regex.max_tokens == 68
    (schema,) = SEQ_S.requests(ITEM, MSGS, CFG, caps=SCHEMA_ONLY)
    assert schema.constraint is not None and schema.constraint.kind == "json_schema"
    answers = json.loads(schema.constraint.spec)["properties"]["answers"]
    assert answers == {
        "type": "array",
        "items": {"type": "string", "enum": ["A", "B", "C"]},
        "minItems": 30,
        "maxItems": 30,
    }


def test_unsupported_without_a_usable_constraint_form() -> None:
    free = Capabilities(seed=True)
    assert V_S.unsupported(free) == "the backend enforces no JSON schema while decoding (structured outputs)"
    assert SEQ_S.unsupported(free) == (
        "the backend enforces no regular expression or JSON schema while decoding (structured outputs)"
    )
    assert V_S.unsupported(Capabilities(constraints=("regex",))) is not None
    assert SEQ_S.unsupported(Capabilities(constraints=("regex",))) is None
    with pytest.raises(ValueError, match="enforces no JSON schema"):
        V_S.requests(ITEM, MSGS, CFG, caps=free)


def test_structured_parsing_matches_the_free_twins() -> None:
    v = V_S.parse(ITEM, [Completion(text='{"A": 60, "B": 10, "C": 30}')])
    assert v.dist is not None and v.dist.probs == (0.6, 0.1, 0.3)
    assert not V_S.parse(ITEM, [Completion(text='{"A": 0, "B": 0, "C": 0}')]).parse_ok  # schema-valid, unusable
    text = " ".join("A" * 15 + "C" * 12 + "B" * 3)
    seq = SEQ_S.parse(ITEM, [Completion(text=text)])
    as_json = SEQ_S.parse(ITEM, [Completion(text=json.dumps({"answers": list(text.replace(" ", ""))}))])
    assert seq.dist == as_json.dist and seq.dist is not None and seq.dist.probs == (0.5, 0.1, 0.4)
    assert as_json.response.startswith('{"answers"') and seq.reason == as_json.reason == ""


# --- fake backends ------------------------------------------------------------------------------------------------
def test_fakes_answer_in_the_constrained_format() -> None:
    import numpy as np

    rng = np.random.default_rng(0)
    regex = constrained(Constraint("regex", answers_regex("AB")), [0.5, 0.5], rng)
    assert re.fullmatch(answers_regex("AB"), regex)
    form = json.loads(constrained(Constraint("json_schema", '{"properties":{"answers":{}}}'), [0.0, 1.0], rng))
    assert form == {"answers": ["B"] * 30}
    assert json.loads(constrained(Constraint("json_schema", "{}"), [0.25, 0.75], rng)) == {"A": 25.0, "B": 75.0}
    assert model_capabilities("fake/oracle").constraints == ("json_schema", "regex")
    only = BackendOptions(extra=(("constraints", "json_schema"),))
    assert get_backend("fake/uniform", only).capabilities.constraints == ("json_schema",)


def run(tmp_path: Path, *extra: str) -> int:
    data = tmp_path / "data"
    if not data.exists():
        write_tiny_oqa(data)
    argv = ["--dataset", "opinionqa", "--task", "1", "--data_dir", str(data), "--output_dir", str(tmp_path / "res")]
    return lm_steering.main([*argv, "--no_progress", "--limit", "2", *extra])


def test_generation_records_the_constraint_form(tmp_path: Path) -> None:
    types = ["--output_type", "express_distribution_structured", "sequence_structured"]
    assert run(tmp_path, "--models", "fake/oracle", "fake/garbage", *types) == 0
    assert run(tmp_path, "--models", "fake/uniform", "--output_type", "sequence_structured") == 0
    assert run(tmp_path, "--models", "fake/oracle", *types, "--backend_arg", "constraints=json_schema") == 0
    forms = {}
    for key, path in scan(tmp_path / "res"):
        for rec in read_results(path).values():
            forms.setdefault((key.model, key.output_type), set()).add((rec["constraint"], rec["parse_ok"]))
    assert forms[("fake__oracle", "sequence_structured")] == {("regex", True)}  # the first run wrote these
    assert forms[("fake__oracle", "express_distribution_structured")] == {("json_schema", True)}
    assert forms[("fake__garbage", "express_distribution_structured")] == {("json_schema", False)}  # all zeros
    assert forms[("fake__garbage", "sequence_structured")] == {("regex", True)}


def test_schema_only_backend_uses_the_json_form(tmp_path: Path) -> None:
    assert (
        run(
            tmp_path,
            "--models",
            "fake/oracle",
            "--output_type",
            "sequence_structured",
            "--backend_arg",
            "constraints=json_schema",
        )
        == 0
    )
    recs = [r for _, p in scan(tmp_path / "res") for r in read_results(p).values()]
    assert recs and all(r["constraint"] == "json_schema" and r["response"][0].startswith('{"answers"') for r in recs)
    assert (
        run(
            tmp_path,
            "--models",
            "fake/uniform",
            "--output_type",
            "sequence_structured",
            "--backend_arg",
            "constraints=",
        )
        == 0
    )
    marker = json.loads((tmp_path / "res/opinionqa/sequence_structured/fake__uniform/_na.json").read_text())
    assert "enforces no regular expression or JSON schema" in marker["reason"]


BUILTIN = "local/smollm2-135m-instruct"


@pytest.mark.slow
@pytest.mark.data
@pytest.mark.skipif(
    not model_capabilities(BUILTIN).constraints, reason="the built-in model's backend declares no constraint form yet"
)
def test_builtin_model_structured_replies_parse(tmp_path: Path) -> None:
    """The acceptance run: the built-in model, NYT persona, V-S and Seq-S on 2 questions, 0 parse failures."""
    out = tmp_path / "res"
    repo = Path(lm_steering.__file__).resolve().parent
    argv = ["--models", BUILTIN, "--dataset", "nytimes", "--task", "1", "--limit", "2", "--no_progress"]
    types = ["--output_type", "express_distribution_structured", "sequence_structured"]
    assert lm_steering.main([*argv, *types, "--data_dir", str(repo), "--output_dir", str(out)]) == 0
    recs = [(key.output_type, r) for key, path in scan(out) for r in read_results(path).values()]
    assert len(recs) == 16 and all(r["parse_ok"] for _, r in recs)
    assert {(t, r["constraint"]) for t, r in recs} == {
        ("express_distribution_structured", "json_schema"),
        ("sequence_structured", "regex"),
    }
