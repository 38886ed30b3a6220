"""Transformers backend on a tiny random Llama built in-process (no files, no hub)."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path
from typing import Any

import pytest
import torch
from backend_calls import complete_all
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from distalign.backends import BackendError, BackendOptions, get_backend
from distalign.backends._tokens import letter_token_ids, render_prompt
from distalign.backends.hf import HFBackend
from distalign.engine import Executor
from distalign.engine.cache import ResponseCache
from distalign.parsers import parse_logprobs, parse_option_scores
from distalign.types import Completion, Message, Request

TEXT = "Question: Which option fits best? A. yes B. no C. maybe D. never\nAnswer: A B C D\n" * 20
TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)


def tiny_tokenizer(template: str | None = TEMPLATE) -> PreTrainedTokenizerFast:
    tk = Tokenizer(models.BPE(unk_token=None))
    tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tk.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=300,
        special_tokens=["<|endoftext|>"],
        show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tk.train_from_iterator([TEXT, " A B C D", "A\nB\nC"], trainer=trainer)
    tok = PreTrainedTokenizerFast(
        tokenizer_object=tk, eos_token="<|endoftext|>", bos_token="<|endoftext|>", pad_token="<|endoftext|>"
    )
    tok.chat_template = template
    return tok


@pytest.fixture(scope="module")
def tiny() -> tuple[Any, Any]:
    tok = tiny_tokenizer()
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        tie_word_embeddings=True,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
    )
    return LlamaForCausalLM(config).eval(), tok


def prompt(i: int, extra: str = "") -> tuple[Message, ...]:
    return (
        Message("system", "You are a helpful assistant."),
        Message("user", f"Question {i}{' really' * (i % 4)}: which one?{extra} A. yes B. no C. maybe"),
    )


def one_by_one(backend: HFBackend, requests: list[Request]) -> list[Completion]:
    async def go() -> list[Completion]:
        try:
            return [await backend.complete(r) for r in requests]
        finally:
            await backend.aclose()

    return asyncio.run(go())


def full_logprobs(model: Any, tok: Any, messages: tuple[Message, ...]) -> torch.Tensor:
    text, _ = render_prompt(tok, messages)
    ids = torch.tensor([tok(text, add_special_tokens=False)["input_ids"]])
    with torch.inference_mode():
        return torch.log_softmax(model(input_ids=ids).logits[0, -1].float(), dim=-1)


def test_letter_probability_sums_every_tokenization(tiny: tuple[Any, Any]) -> None:
    model, tok = tiny
    ids = letter_token_ids(tok, "ABCD")
    assert tok.convert_tokens_to_ids("A") in ids["A"] and tok.convert_tokens_to_ids("\u0120A") in ids["A"]
    assert all(len(ids[L]) == 2 for L in "ABCD")  # "A" and " A" are both in the vocabulary
    c = complete_all(HFBackend("hf/tiny", model, tok), [Request(prompt(1), letters=("A", "B", "C", "D"))])[0]
    reference = full_logprobs(model, tok, prompt(1))
    assert [t for t, _ in c.top_logprobs] == ["A", "B", "C", "D"]
    for letter, logprob in c.top_logprobs:
        expected = math.log(sum(math.exp(float(reference[i])) for i in ids[letter]))
        assert logprob == pytest.approx(expected, abs=1e-5)
    parsed = parse_logprobs(c.top_logprobs, "ABCD")
    covered = sum(math.exp(lp) for _, lp in c.top_logprobs)
    assert parsed.parse_ok and dict(parsed.extra)["covered_mass"] == pytest.approx(covered, abs=1e-6)


def test_top_k_without_letters(tiny: tuple[Any, Any]) -> None:
    model, tok = tiny
    c = complete_all(HFBackend("hf/tiny", model, tok), [Request(prompt(2), top_logprobs=5)])[0]
    reference = full_logprobs(model, tok, prompt(2))
    values, idx = torch.topk(reference, 5)
    assert [t for t, _ in c.top_logprobs] == [tok.decode([int(i)]) for i in idx]
    assert [lp for _, lp in c.top_logprobs] == pytest.approx([float(v) for v in values], abs=1e-5)


@pytest.mark.parametrize("engine", ["lean", "transformers"])
@pytest.mark.parametrize("shared_prefix", [10**6, 4], ids=["padded", "shared-prefix"])
def test_batched_equals_unbatched(tiny: tuple[Any, Any], shared_prefix: int, engine: str) -> None:
    model, tok = tiny
    requests = [Request(prompt(i), letters=("A", "B", "C")) for i in range(7)]
    requests += [Request(prompt(i), continuations=("yes", "no way", "maybe so")) for i in range(3)]
    requests += [Request(prompt(i), max_tokens=6, temperature=0.0) for i in range(3)]
    requests += [Request(prompt(i), max_tokens=6, temperature=1.0, seed=3, sample_index=i) for i in range(3)]
    backend = HFBackend("hf/tiny", model, tok, batch_size=4, engine=engine)
    backend.min_shared_prefix = shared_prefix
    batched = complete_all(backend, requests)
    single = one_by_one(HFBackend("hf/tiny", model, tok, batch_size=1, engine="transformers"), requests)
    for b, s in zip(batched, single, strict=True):
        assert [t for t, _ in b.top_logprobs] == [t for t, _ in s.top_logprobs]
        assert [lp for _, lp in b.top_logprobs] == pytest.approx([lp for _, lp in s.top_logprobs], abs=1e-5)
        assert b.continuation_logprobs == pytest.approx(s.continuation_logprobs, abs=1e-5)
        assert b.text == s.text


def test_shared_prefix_is_computed_once_by_transformers(tiny: tuple[Any, Any]) -> None:
    model, tok = tiny
    backend = HFBackend("hf/tiny", model, tok, batch_size=4, gather_s=0.2, engine="transformers")
    backend.min_shared_prefix = 4
    shapes: list[tuple[int, int]] = []
    forward = model.forward
    model.forward = lambda *a, **k: (shapes.append(tuple(k["input_ids"].shape)), forward(*a, **k))[1]  # type: ignore
    try:
        complete_all(backend, [Request(prompt(i), letters=("A", "B")) for i in range(4)])
    finally:
        del model.forward
    assert len(shapes) == 2 and shapes[0][0] == 1 and shapes[0][1] >= 4 and shapes[1][0] == 4  # prefix, suffixes


def test_concurrent_requests_share_forward_passes(tiny: tuple[Any, Any]) -> None:
    model, tok = tiny
    backend = HFBackend("hf/tiny", model, tok, batch_size=4, gather_s=0.2, engine="transformers")
    backend.min_shared_prefix = 10**6
    calls: list[int] = []
    forward = model.forward
    model.forward = lambda *a, **k: (calls.append(k["input_ids"].shape[0]), forward(*a, **k))[1]  # type: ignore
    try:
        complete_all(backend, [Request(prompt(i), letters=("A", "B")) for i in range(8)])
    finally:
        del model.forward
    assert calls == [4, 4]


def test_option_likelihood_is_the_mean_token_log_likelihood(tiny: tuple[Any, Any]) -> None:
    model, tok = tiny
    options = ("yes", "no way", "maybe so")
    c = complete_all(HFBackend("hf/tiny", model, tok), [Request(prompt(0), continuations=options)])[0]
    text, _ = render_prompt(tok, prompt(0))
    base = tok(text, add_special_tokens=False)["input_ids"]
    for option, score in zip(options, c.continuation_logprobs, strict=True):
        opt = tok(option, add_special_tokens=False)["input_ids"]
        with torch.inference_mode():
            lp = torch.log_softmax(model(input_ids=torch.tensor([base + opt])).logits[0].float(), dim=-1)
        expected = sum(float(lp[len(base) - 1 + j, t]) for j, t in enumerate(opt)) / len(opt)
        assert score == pytest.approx(expected, abs=1e-5)
    assert parse_option_scores(c.continuation_logprobs, "ABC").parse_ok
    assert HFBackend("hf/tiny", model, tok).capabilities.option_scores


def test_generation_stops_at_stop_sequences_and_max_tokens(tiny: tuple[Any, Any]) -> None:
    model, tok = tiny
    free = complete_all(HFBackend("hf/tiny", model, tok), [Request(prompt(5), max_tokens=12, temperature=0.0)])[0]
    assert free.output_tokens == 12 and free.finish_reason == "length" and len(free.text) >= 4
    stop = free.text[2:4]
    cut = free.text.find(stop)
    stopped = complete_all(
        HFBackend("hf/tiny", model, tok), [Request(prompt(5), max_tokens=12, temperature=0.0, stop=(stop,))]
    )[0]
    assert stopped.text == free.text[:cut] and stopped.finish_reason == "stop"


def test_seeded_sampling_is_reproducible(tiny: tuple[Any, Any]) -> None:
    model, tok = tiny
    requests = [Request(prompt(1), max_tokens=8, temperature=1.0, seed=11, sample_index=i) for i in range(4)]
    shared = HFBackend("hf/tiny", model, tok, batch_size=4)
    shared.min_shared_prefix = 4  # identical prompts: prefilled once for the four samples
    first = complete_all(shared, requests)
    again = complete_all(HFBackend("hf/tiny", model, tok, batch_size=1), requests)
    assert [c.text for c in first] == [c.text for c in again]
    assert len({c.text for c in first}) > 1  # sample indexes draw different samples


def test_base_model_without_chat_template(tiny: tuple[Any, Any]) -> None:
    model, _ = tiny
    tok = tiny_tokenizer(template=None)
    backend = HFBackend("hf/tiny", model, tok)
    assert not backend.capabilities.chat_template
    assert render_prompt(tok, prompt(0))[0].startswith("You are a helpful assistant.\n\nQuestion 0")
    assert complete_all(backend, [Request(prompt(0), letters=("A",))])[0].top_logprobs[0][0] == "A"


def test_failures_reach_the_caller_as_backend_errors(tiny: tuple[Any, Any]) -> None:
    model, tok = tiny
    backend = HFBackend("hf/tiny", model, tok)

    def broken(jobs: list[Any]) -> list[Completion]:
        raise RuntimeError("CUDA out of memory")

    backend._score = broken  # type: ignore[method-assign]
    with pytest.raises(BackendError, match="lower --batch_size"):
        complete_all(backend, [Request(prompt(0), letters=("A",))])


def test_loads_from_a_saved_folder_through_the_registry(tiny: tuple[Any, Any], tmp_path: Path) -> None:
    model, tok = tiny
    model.save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    backend = get_backend(f"hf/{tmp_path}", BackendOptions(device="cpu", dtype="float32", batch_size=2))
    assert isinstance(backend, HFBackend) and backend.cache_identity() == f"hf/{tmp_path}@float32"
    request = Request(prompt(3), letters=("A", "B"))
    loaded = complete_all(backend, [request])[0]
    fresh = complete_all(HFBackend("hf/tiny", model, tok), [request])[0]
    assert [lp for _, lp in loaded.top_logprobs] == pytest.approx([lp for _, lp in fresh.top_logprobs], abs=1e-6)


def test_through_the_engine_executor(tiny: tuple[Any, Any]) -> None:
    model, tok = tiny
    backend = HFBackend("hf/tiny", model, tok, batch_size=4)
    requests = [Request(prompt(i), letters=("A", "B", "C")) for i in range(6)]

    async def go() -> list[Any]:
        ex = Executor(backend, ResponseCache(":memory:"), concurrency=8)
        out = await asyncio.gather(*(ex.run(r) for r in requests))
        again = await asyncio.gather(*(ex.run(r) for r in requests))
        await backend.aclose()
        return [*out, *again]

    outcomes = asyncio.run(go())
    assert all(o.ok for o in outcomes) and all(o.cached for o in outcomes[6:])


def test_a_prompt_the_template_rejects_fails_alone(tiny: tuple[Any, Any]) -> None:
    model, _ = tiny
    tok = tiny_tokenizer(
        "{{ raise_exception('no system messages') if messages[0]['role'] == 'system' else '' }}"
        "{% for m in messages %}{{ m['content'] }}{% endfor %}"
    )
    backend = HFBackend("hf/tiny", model, tok, batch_size=4)

    async def go() -> list[Any]:
        out = await asyncio.gather(
            backend.complete(Request(prompt(0), letters=("A",))),
            backend.complete(Request((Message("user", "hi"),), letters=("A",))),
            return_exceptions=True,
        )
        await backend.aclose()
        return list(out)

    bad, good = asyncio.run(go())
    assert isinstance(bad, BackendError) and "no system messages" in str(bad)
    assert isinstance(good, Completion) and good.top_logprobs[0][0] == "A"
