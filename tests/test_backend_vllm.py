"""vLLM adapter logic with a fake ``vllm`` module injected into ``sys.modules`` (vLLM needs a GPU)."""

from __future__ import annotations

import math
import sys
import types
from dataclasses import dataclass, field
from typing import Any

import pytest
from backend_calls import complete_all
from test_backend_hf import tiny_tokenizer

from distalign.backends import BackendError, BackendOptions, get_backend
from distalign.backends._tokens import letter_token_ids
from distalign.backends.vllm import VLLMBackend
from distalign.parsers import parse_logprobs
from distalign.types import Constraint, Message, Request

MESSAGES = (Message("user", "Which one? A. yes B. no C. maybe"),)


def logprob_of(token_id: int) -> float:
    """The fake model's first-token log-prob of a token (not normalised; only sums matter)."""
    return -0.01 * token_id


@dataclass
class Logprob:
    logprob: float
    rank: int = 1
    decoded_token: str | None = None


@dataclass
class CompletionOutput:
    text: str
    token_ids: list[int]
    logprobs: list[dict[int, Logprob]] | None
    finish_reason: str = "stop"


@dataclass
class RequestOutput:
    outputs: list[CompletionOutput]
    prompt_logprobs: list[dict[int, Logprob] | None] | None = None


@dataclass
class SamplingParams:  # the fields vLLM has; ``logprob_token_ids`` only in newer releases
    max_tokens: int = 16
    temperature: float = 1.0
    seed: int | None = None
    stop: list[str] = field(default_factory=list)
    logprobs: int | None = None
    prompt_logprobs: int | None = None
    logprob_token_ids: list[int] | None = None


@dataclass
class OldSamplingParams:
    max_tokens: int = 16
    temperature: float = 1.0
    seed: int | None = None
    stop: list[str] = field(default_factory=list)
    logprobs: int | None = None
    prompt_logprobs: int | None = None


class FakeLLM:
    instances: list[FakeLLM] = []

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs
        self.calls: list[tuple[list[Any], list[Any]]] = []
        self.tokenizer = tiny_tokenizer()
        FakeLLM.instances.append(self)

    def get_tokenizer(self) -> Any:
        return self.tokenizer

    def generate(self, prompts: list[dict[str, list[int]]], sampling_params: list[Any], use_tqdm: bool) -> list[Any]:
        self.calls.append((prompts, sampling_params))
        return [self._one(p["prompt_token_ids"], sp) for p, sp in zip(prompts, sampling_params, strict=True)]

    def _one(self, ids: list[int], sp: Any) -> RequestOutput:
        if getattr(sp, "prompt_logprobs", None) is not None:
            plp: list[dict[int, Logprob] | None] = [None] + [
                {t: Logprob(-0.5 * (pos % 3))} for pos, t in enumerate(ids[1:], start=1)
            ]
            return RequestOutput([CompletionOutput("", [0], None)], plp)
        if getattr(sp, "logprob_token_ids", None):
            first = {t: Logprob(logprob_of(t)) for t in sp.logprob_token_ids}
        elif sp.logprobs:
            ranked = sorted(range(len(self.tokenizer)), key=logprob_of, reverse=True)[: sp.logprobs]
            first = {t: Logprob(logprob_of(t), decoded_token=self.tokenizer.decode([t])) for t in ranked}
        else:
            first = None
        text = f"seed={sp.seed} t={sp.temperature} stop={sp.stop}"
        return RequestOutput([CompletionOutput(text, [1, 2, 3], [first] if first else None, "length")])


@pytest.fixture
def fake_vllm(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    module = types.ModuleType("vllm")
    module.LLM = FakeLLM  # type: ignore[attr-defined]
    module.SamplingParams = SamplingParams  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "vllm", module)
    FakeLLM.instances.clear()
    return module


def make(options: BackendOptions | None = None) -> VLLMBackend:
    backend = get_backend("vllm/meta-llama/Llama-3.1-8B-Instruct", options or BackendOptions())
    assert isinstance(backend, VLLMBackend)
    return backend


def test_missing_vllm_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "vllm", None)
    with pytest.raises(BackendError, match=r"pip install 'distalign\[vllm\]'"):
        get_backend("vllm/some/model")


def test_engine_arguments_for_multi_gpu_and_multi_node(fake_vllm: types.ModuleType) -> None:
    make(
        BackendOptions(
            tensor_parallel_size=4,
            dtype="bfloat16",
            extra=(
                ("pipeline_parallel_size", "2"),
                ("distributed_executor_backend", "ray"),
                ("gpu_memory_utilization", "0.8"),
                ("enforce_eager", "true"),
            ),
        )
    )
    kwargs = FakeLLM.instances[-1].kwargs
    assert kwargs == {
        "model": "meta-llama/Llama-3.1-8B-Instruct",
        "tensor_parallel_size": 4,
        "max_logprobs": 100,
        "dtype": "bfloat16",
        "pipeline_parallel_size": 2,
        "distributed_executor_backend": "ray",
        "gpu_memory_utilization": 0.8,
        "enforce_eager": True,
    }
    with pytest.raises(ValueError, match="unknown backend option"):
        make(BackendOptions(extra=(("tensor_parallel", "2"),)))


def test_exact_letter_logprobs_through_logprob_token_ids(fake_vllm: types.ModuleType) -> None:
    backend = make()
    assert backend.capabilities.exact_letter_probs and backend.capabilities.option_scores
    c = complete_all(backend, [Request(MESSAGES, max_tokens=1, letters=("A", "B", "C"), top_logprobs=20)])[0]
    ids = letter_token_ids(backend.tokenizer, "ABC")
    sent = FakeLLM.instances[-1].calls[0][1][0]
    assert sent.logprob_token_ids == sorted(i for v in ids.values() for i in v) and sent.logprobs is None
    for letter, logprob in c.top_logprobs:
        assert logprob == pytest.approx(math.log(sum(math.exp(logprob_of(i)) for i in ids[letter])))
    assert parse_logprobs(c.top_logprobs, "ABC").parse_ok


def test_older_vllm_falls_back_to_top_k(fake_vllm: types.ModuleType) -> None:
    fake_vllm.SamplingParams = OldSamplingParams  # type: ignore[attr-defined]
    backend = make()
    assert not backend.capabilities.exact_letter_probs
    c = complete_all(backend, [Request(MESSAGES, max_tokens=1, letters=("A", "B"), top_logprobs=20)])[0]
    assert FakeLLM.instances[-1].calls[0][1][0].logprobs == 20
    assert [t for t, _ in c.top_logprobs] == ["A", "B"]
    k = complete_all(make(), [Request(MESSAGES, max_tokens=1, top_logprobs=3)])[0]
    assert [lp for _, lp in k.top_logprobs] == pytest.approx([logprob_of(0), logprob_of(1), logprob_of(2)])


def test_option_likelihood_uses_prompt_logprobs(fake_vllm: types.ModuleType) -> None:
    backend = make()
    c = complete_all(backend, [Request(MESSAGES, continuations=("yes", "no way"))])[0]
    prompts = FakeLLM.instances[-1].calls[0][0]
    base = len(backend.encode(Request(MESSAGES)))
    for prompt, score in zip(prompts, c.continuation_logprobs, strict=True):
        ids = prompt["prompt_token_ids"]
        expected = [-0.5 * (pos % 3) for pos in range(base, len(ids))]
        assert score == pytest.approx(sum(expected) / len(expected))


def test_concurrent_requests_go_in_one_generate_call(fake_vllm: types.ModuleType) -> None:
    backend = make(BackendOptions(extra=(("gather_ms", "200"),)))
    requests = [
        Request(MESSAGES, max_tokens=30, temperature=0.7, seed=5, sample_index=i, stop=("\n",)) for i in range(5)
    ]
    out = complete_all(backend, requests)
    assert len(FakeLLM.instances[-1].calls) == 1
    assert [c.text for c in out] == [f"seed={5 + i} t=0.7 stop=['\\n']" for i in range(5)]
    assert all(c.output_tokens == 3 and c.finish_reason == "length" for c in out)


def test_engine_failures_reach_every_waiting_request(fake_vllm: types.ModuleType) -> None:
    backend = make()

    def broken(*args: Any, **kwargs: Any) -> list[Any]:
        raise RuntimeError("CUDA error: an illegal memory access")

    backend.llm.generate = broken  # type: ignore[method-assign]
    with pytest.raises(BackendError, match="illegal memory access"):
        complete_all(backend, [Request(MESSAGES), Request(MESSAGES, seed=1)])


@dataclass
class StructuredOutputsParams:  # vLLM >= 0.11
    json: Any = None
    regex: str | None = None


@dataclass
class GuidedDecodingParams:  # vLLM 0.6 - 0.10
    json: Any = None
    regex: str | None = None


@pytest.mark.parametrize("spelling", ["structured_outputs", "guided_decoding"])
def test_constraints_go_through_structured_output_parameters(fake_vllm: types.ModuleType, spelling: str) -> None:
    params = StructuredOutputsParams if spelling == "structured_outputs" else GuidedDecodingParams
    setattr(fake_vllm, params.__name__, params)
    fake_vllm.SamplingParams = dataclass(  # type: ignore[attr-defined]
        type("SP", (SamplingParams,), {"__annotations__": {spelling: Any}, spelling: None})
    )
    backend = make()
    assert backend.capabilities.constraints == ("json_schema", "regex")
    schema = '{"type": "object", "properties": {"A": {"type": "number"}}, "required": ["A"]}'
    requests = [
        Request(MESSAGES, constraint=Constraint("json_schema", schema)),
        Request(MESSAGES, constraint=Constraint("regex", "[AB]( [AB]){2}")),
    ]
    complete_all(backend, requests)
    sent = FakeLLM.instances[-1].calls[0][1]
    assert getattr(sent[0], spelling) == params(
        json={"type": "object", "properties": {"A": {"type": "number"}}, "required": ["A"]}
    )
    assert getattr(sent[1], spelling) == params(regex="[AB]( [AB]){2}")


def test_a_vllm_without_structured_outputs_declares_no_constraints(fake_vllm: types.ModuleType) -> None:
    assert make().capabilities.constraints == ()


def test_cache_identity_names_the_loaded_dtype(fake_vllm: types.ModuleType) -> None:
    assert make(BackendOptions(dtype="float32")).cache_identity().endswith("@float32")
    FakeLLM.llm_engine = types.SimpleNamespace(model_config=types.SimpleNamespace(dtype="torch.bfloat16"))  # type: ignore[attr-defined]
    try:
        assert make().cache_identity() == "vllm/meta-llama/Llama-3.1-8B-Instruct@bfloat16"
    finally:
        del FakeLLM.llm_engine  # type: ignore[attr-defined]
    assert make(BackendOptions(extra=(("dtype", "float16"),))).cache_identity().endswith("@float16")
