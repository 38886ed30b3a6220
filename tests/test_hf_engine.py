"""The in-process engine on the tiny random Llama: dtype choice, continuous batching, constrained decoding."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from typing import Any

import pytest
import torch
from backend_calls import complete_all
from test_backend_hf import one_by_one, prompt, tiny  # noqa: F401 - the module fixture
from transformers import LlamaConfig, LlamaForCausalLM

from distalign.backends import BackendError, BackendOptions, _hf_load, get_backend
from distalign.backends._hf_llama import unsupported
from distalign.backends.hf import HFBackend
from distalign.engine import Executor
from distalign.engine.cache import ResponseCache
from distalign.types import Completion, Constraint, Request

SCHEMA = {
    "type": "object",
    "properties": {
        "A": {"type": "integer", "minimum": 0, "maximum": 100},
        "B": {"type": "integer", "minimum": 0, "maximum": 100},
    },
    "required": ["A", "B"],
    "additionalProperties": False,
}
SEQUENCE = r"\[([A-C], ){4}[A-C]\]"


@pytest.mark.parametrize(
    ("flags", "expected"),
    [({"avx512f", "amx_bf16"}, torch.bfloat16), ({"avx512_bf16"}, torch.bfloat16), ({"avx512f"}, torch.float32)],
)
def test_auto_dtype_follows_the_cpu(monkeypatch: pytest.MonkeyPatch, flags: set[str], expected: torch.dtype) -> None:
    monkeypatch.setattr(_hf_load, "cpu_flags", lambda: flags)
    assert _hf_load.pick_dtype("auto", torch.device("cpu")) == expected
    assert _hf_load.pick_dtype("float32", torch.device("cpu")) == torch.float32  # an explicit choice wins
    with pytest.raises(ValueError, match="valid: auto, float32, bfloat16"):
        _hf_load.pick_dtype("float8", torch.device("cpu"))


def test_auto_dtype_on_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    for supported, expected in ((True, torch.bfloat16), (False, torch.float32)):
        monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda s=supported: s)
        assert _hf_load.pick_dtype("auto", torch.device("cuda")) == expected


def test_dtype_is_logged_overridable_and_part_of_the_cache_identity(
    tiny: tuple[Any, Any],  # noqa: F811
    tmp_path: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    model, tok = tiny
    model.save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    monkeypatch.setattr(_hf_load, "cpu_flags", lambda: {"amx_bf16"})
    with caplog.at_level(logging.WARNING):
        bf16 = get_backend(f"hf/{tmp_path}", BackendOptions(device="cpu"))
    assert bf16.cache_identity() == f"hf/{tmp_path}@bfloat16"
    assert "bfloat16 (auto: CPU with amx_bf16)" in caplog.text
    f32 = get_backend(f"hf/{tmp_path}", BackendOptions(device="cpu", extra=(("dtype", "float32"),)))
    assert f32.cache_identity() == f"hf/{tmp_path}@float32"
    request = Request(prompt(1), letters=("A", "B"))

    async def go() -> list[Any]:
        cache = ResponseCache(":memory:")
        first = await Executor(f32, cache).run(request)
        other = await Executor(bf16, cache).run(request)  # same request, other precision: never the cached answer
        again = await Executor(f32, cache).run(request)
        await f32.aclose()
        await bf16.aclose()
        return [first, other, again]

    first, other, again = asyncio.run(go())
    assert not first.cached and not other.cached and again.cached
    assert first.key != other.key and other.completion.top_logprobs != first.completion.top_logprobs


def greedy(i: int, max_tokens: int) -> Request:
    return Request(prompt(i), max_tokens=max_tokens, temperature=0.0)


def test_continuous_batching_gives_the_unbatched_texts_and_drops_finished_rows(tiny: tuple[Any, Any]) -> None:  # noqa: F811
    model, tok = tiny
    requests = [greedy(i, 2 + 5 * (i % 4)) for i in range(10)]  # replies of 2 to 17 tokens
    backend = HFBackend("hf/tiny", model, tok, batch_size=3)
    batched = complete_all(backend, requests)
    single = one_by_one(HFBackend("hf/tiny", model, tok, batch_size=1, engine="transformers"), requests)
    assert [c.text for c in batched] == [c.text for c in single]
    assert [c.output_tokens for c in batched] == [r.max_tokens for r in requests]
    total = sum(r.max_tokens for r in requests)
    assert backend.loop is not None and backend.loop.steps < total / 3 + 17  # a padded batch would run 3 x 17 steps


def test_a_request_sent_while_others_decode_joins_them(tiny: tuple[Any, Any]) -> None:  # noqa: F811
    model, tok = tiny
    backend = HFBackend("hf/tiny", model, tok, batch_size=4, gather_s=0.001)
    assert backend.loop is not None
    joined: list[int] = []
    run, queue = backend.loop.run, backend._batcher._jobs

    def more_after_the_late_request(take: Any, n: int) -> Any:
        deadline = time.monotonic() + 30
        while len(joined) == 1 and queue.empty() and time.monotonic() < deadline:  # hold step 1 until it is sent
            time.sleep(0.001)
        got = take(n)
        joined.append(len(got))
        return got

    backend.loop.run = lambda jobs, more, slots, **kw: run(
        jobs, lambda n: more_after_the_late_request(more, n), slots, **kw
    )  # type: ignore[method-assign]

    async def go() -> list[Completion]:
        first = asyncio.ensure_future(backend.complete(greedy(0, 30)))
        await asyncio.sleep(0.05)
        late = await backend.complete(greedy(1, 3))
        out = [await first, late]
        await backend.aclose()
        return out

    long, late = asyncio.run(go())
    assert long.output_tokens == 30 and late.output_tokens == 3 and joined[:2] == [0, 1]
    assert not long.latency_s < late.latency_s  # the late one finished inside the first one's run


def test_a_scoring_request_does_not_wait_for_the_decoding_to_end(tiny: tuple[Any, Any]) -> None:  # noqa: F811
    model, tok = tiny
    backend = HFBackend("hf/tiny", model, tok, batch_size=4, gather_s=0.001)
    assert backend.loop is not None
    finished: list[str] = []

    async def go() -> None:
        async def one(name: str, request: Request) -> None:
            await backend.complete(request)
            finished.append(name)

        long = asyncio.ensure_future(one("generation", greedy(0, 400)))
        while backend.loop.steps < 3:  # type: ignore[union-attr]
            await asyncio.sleep(0.005)
        await one("scoring", Request(prompt(1), letters=("A", "B")))
        await long
        await backend.aclose()

    asyncio.run(go())
    assert finished == ["scoring", "generation"]


def test_a_seeded_run_repeated_gives_the_same_bytes(tiny: tuple[Any, Any]) -> None:  # noqa: F811
    model, tok = tiny
    requests = [Request(prompt(i % 3), max_tokens=12, temperature=1.0, seed=7, sample_index=i) for i in range(9)]
    runs = [complete_all(HFBackend("hf/tiny", model, tok, batch_size=b), requests) for b in (4, 4, 2)]
    texts = [json.dumps([c.text for c in run]).encode() for run in runs]
    assert texts[0] == texts[1] == texts[2]
    assert len({c.text for c in runs[0]}) > 3


@pytest.mark.parametrize("engine", ["lean", "transformers"])
def test_constrained_replies_match_their_schema_or_pattern(tiny: tuple[Any, Any], engine: str) -> None:  # noqa: F811
    model, tok = tiny
    schema = Constraint("json_schema", json.dumps(SCHEMA))
    requests = [
        Request(
            prompt(i),
            max_tokens=60,
            temperature=1.0,
            seed=i,
            constraint=schema if i % 2 else Constraint("regex", SEQUENCE),
        )
        for i in range(8)
    ]
    out = complete_all(HFBackend("hf/tiny", model, tok, batch_size=3, engine=engine), requests)
    for request, c in zip(requests, out, strict=True):
        assert c.finish_reason == "stop" and c.output_tokens < 60, c  # the grammar completed, not the budget
        if request.constraint and request.constraint.kind == "regex":
            assert re.fullmatch(SEQUENCE, c.text), c.text
        else:
            value = json.loads(c.text)
            assert set(value) == {"A", "B"} and all(isinstance(v, int) for v in value.values())
    again = complete_all(HFBackend("hf/tiny", model, tok, batch_size=8, engine=engine), requests)
    assert [c.text for c in again] == [c.text for c in out]  # seeded sampling under a grammar: same texts


def test_an_invalid_constraint_fails_its_request_alone(tiny: tuple[Any, Any]) -> None:  # noqa: F811
    model, tok = tiny
    backend = HFBackend("hf/tiny", model, tok, batch_size=4)

    async def go() -> list[Any]:
        out = await asyncio.gather(
            backend.complete(Request(prompt(0), max_tokens=5, constraint=Constraint("regex", "[A-"))),
            backend.complete(Request(prompt(1), max_tokens=5, temperature=0.0)),
            return_exceptions=True,
        )
        await backend.aclose()
        return list(out)

    bad, good = asyncio.run(go())
    assert isinstance(bad, BackendError) and "invalid regex constraint" in str(bad)
    assert isinstance(good, Completion) and good.output_tokens == 5
    assert HFBackend("hf/tiny", model, tok).capabilities.constraints == ("json_schema", "regex")


def test_models_the_lean_engine_does_not_know_run_through_transformers(tiny: tuple[Any, Any]) -> None:  # noqa: F811
    _, tok = tiny
    config = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        mlp_bias=True,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
    )
    model = LlamaForCausalLM(config).eval()
    assert unsupported(model) == "biases outside the query/key/value projections"
    backend = HFBackend("hf/biased", model, tok)
    assert backend.fast is None and backend.loop is None
    assert complete_all(backend, [greedy(0, 4)])[0].output_tokens == 4
    with pytest.raises(BackendError, match="lean engine cannot run this model: biases"):
        HFBackend("hf/biased", model, tok, engine="lean")
    with pytest.raises(ValueError, match="valid: auto, lean, transformers"):
        HFBackend("hf/biased", model, tok, engine="fast")
