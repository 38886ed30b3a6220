"""In-process vLLM backend (optional extra ``distalign[vllm]``, docs/original.md §3.2).

``vllm/<hub id or local dir>`` runs vLLM's offline :class:`vllm.LLM` in this process. Concurrent
:meth:`VLLMBackend.complete` calls are collected by a worker thread and sent as one ``LLM.generate`` call
over token-id prompts (the chat template is applied here, as in the transformers backend, so both give
the same prompts); vLLM schedules the batch itself (continuous batching, prefix caching).

* Log-probs: with a vLLM that has ``SamplingParams.logprob_token_ids``, the first token's log-probs of
  exactly the option-letter tokens (every tokenization, summed: ``exact_letter_probs``); otherwise the
  top ``max_logprobs`` alternatives, from which letters are summed.
* Option likelihood: ``prompt_logprobs`` over prompt + option text, averaged over the option's tokens.
* Constraints (JSON schema, regular expression): vLLM's structured-output sampling parameters —
  ``StructuredOutputsParams`` (``SamplingParams(structured_outputs=...)``) where the installed vLLM has it, else
  ``GuidedDecodingParams`` (``SamplingParams(guided_decoding=...)``); a vLLM with neither declares no constraints.
* Cache identity: the model and the dtype vLLM actually loaded (``auto`` resolved).
* Scale: ``--tensor_parallel_size N`` splits each layer over N GPUs of one node;
  ``--backend_arg pipeline_parallel_size=M`` splits the layers over M stages, and
  ``--backend_arg distributed_executor_backend=ray`` runs the stages on a Ray cluster (multi-node: start
  ``ray start --head`` on one node and ``ray start --address=<head>:6379`` on the others first).
  For data parallelism, run several ``vllm serve`` replicas behind a load balancer and use the
  OpenAI-compatible backend instead.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from typing import Any

from distalign.backends._batching import BatchedBackend, Job, MicroBatcher, deliver
from distalign.backends._http import parse_extra
from distalign.backends._tokens import sample_seed
from distalign.backends.base import Backend, BackendError, BackendOptions
from distalign.types import Capabilities, Completion, Constraint, Request

INSTALL = "pip install 'distalign[vllm]' (needs a CUDA GPU)"
GATHER_S = 0.02
DEFAULT_MAX_LOGPROBS = 100
ENGINE_KEYS = (
    "pipeline_parallel_size",
    "distributed_executor_backend",
    "max_model_len",
    "gpu_memory_utilization",
    "max_logprobs",
    "quantization",
    "enforce_eager",
    "trust_remote_code",
    "enable_prefix_caching",
    "seed",
    "dtype",
)
EXTRA_KEYS = (*ENGINE_KEYS, "gather_ms")
VLLM_CAPS = Capabilities(
    logprobs=True,
    max_top_logprobs=20,
    temperature=True,
    top_p=True,
    temperature_with_top_p=True,
    seed=True,
    json_output=False,
    n_samples=True,
    chat_template=True,
    batch_api=False,
    option_scores=True,
    exact_letter_probs=True,
    in_process=True,
    key_env=("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"),
    constraints=("json_schema", "regex"),
)
STRUCTURED = (("StructuredOutputsParams", "structured_outputs"), ("GuidedDecodingParams", "guided_decoding"))


def import_vllm() -> Any:
    """The ``vllm`` module, or a :class:`BackendError` saying how to install it."""
    try:
        import vllm
    except ImportError as e:
        raise BackendError(f"the vllm backend needs vLLM, which is not installed: {INSTALL}") from e
    return vllm


def has_token_id_logprobs(sampling_params: Any) -> bool:
    """Whether this vLLM's ``SamplingParams`` takes ``logprob_token_ids`` (log-probs of chosen token ids)."""
    fields = getattr(sampling_params, "__struct_fields__", None) or getattr(sampling_params, "__annotations__", {})
    return "logprob_token_ids" in fields


def structured_outputs(vllm: Any) -> tuple[Any, str] | None:
    """The structured-output parameter class of this vLLM and its ``SamplingParams`` field, if it has one."""
    where = [getattr(vllm, "sampling_params", None), vllm]
    for cls_name, field_name in STRUCTURED:
        for module in where:
            cls = getattr(module, cls_name, None)
            if cls is not None:
                return cls, field_name
    return None


def constraint_kwargs(structured: tuple[Any, str] | None, constraint: Constraint) -> dict[str, Any]:
    """The ``SamplingParams`` keyword that carries ``constraint``.

    >>> class P:
    ...     def __init__(self, **kw): self.kw = kw
    >>> constraint_kwargs((P, "guided_decoding"), Constraint("regex", "[AB]"))["guided_decoding"].kw
    {'regex': '[AB]'}
    """
    if structured is None:
        raise BackendError("this vLLM has no structured-output sampling parameters; upgrade vLLM")
    cls, field_name = structured
    value = json.loads(constraint.spec) if constraint.kind == "json_schema" else constraint.spec
    return {field_name: cls(**{"json" if constraint.kind == "json_schema" else "regex": value})}


def capabilities(model: str, options: BackendOptions) -> Capabilities:
    """What ``vllm/<model>`` supports, without loading it."""
    return VLLM_CAPS


def _convert(key: str, value: str) -> Any:
    if key in ("pipeline_parallel_size", "max_model_len", "max_logprobs", "seed"):
        return int(value)
    if key == "gpu_memory_utilization":
        return float(value)
    if key in ("enforce_eager", "trust_remote_code", "enable_prefix_caching"):
        return value.lower() in ("1", "true", "yes")
    return value


def engine_args(model: str, options: BackendOptions) -> dict[str, Any]:
    """Keyword arguments of ``vllm.LLM`` from the backend options.

    >>> engine_args("m", BackendOptions(tensor_parallel_size=4, dtype="bfloat16",
    ...             extra=(("distributed_executor_backend", "ray"), ("pipeline_parallel_size", "2"))))
    {'model': 'm', 'tensor_parallel_size': 4, 'max_logprobs': 100, 'dtype': 'bfloat16', \
'distributed_executor_backend': 'ray', 'pipeline_parallel_size': 2}
    """
    extra = parse_extra(options.extra, EXTRA_KEYS)
    args: dict[str, Any] = {
        "model": model,
        "tensor_parallel_size": options.tensor_parallel_size,
        "max_logprobs": DEFAULT_MAX_LOGPROBS,
    }
    if options.dtype != "auto":
        args["dtype"] = options.dtype
    args.update({k: _convert(k, v) for k, v in extra.items() if k in ENGINE_KEYS})
    return args


class VLLMBackend(BatchedBackend):
    """A ``vllm.LLM`` behind the :class:`Backend` interface."""

    def __init__(self, model: str, options: BackendOptions) -> None:
        vllm = import_vllm()
        self.name = f"vllm/{model}"
        self._vllm = vllm
        args = engine_args(model, options)
        self.llm = vllm.LLM(**args)
        self.tokenizer = self.llm.get_tokenizer()
        self.token_ids = has_token_id_logprobs(vllm.SamplingParams)
        self.structured = structured_outputs(vllm)
        self.max_logprobs = int(args["max_logprobs"])
        self.capabilities = Capabilities(
            **{
                **VLLM_CAPS.__dict__,
                "exact_letter_probs": self.token_ids,
                "max_top_logprobs": min(20, self.max_logprobs),
                "chat_template": bool(getattr(self.tokenizer, "chat_template", None)),
                "constraints": VLLM_CAPS.constraints if self.structured else (),
            }
        )
        self._identity = f"{self.name}@{loaded_dtype(self.llm, args.get('dtype', 'auto'))}"
        gather_s = float(dict(options.extra).get("gather_ms", GATHER_S * 1000)) / 1000
        self._batcher = MicroBatcher(self.name, self._run, None, gather_s)  # vLLM schedules any batch size

    def _run(self, jobs: list[Job]) -> None:
        start = time.perf_counter()
        try:
            results: list[Completion | BaseException] = list(self.run_batch([j.request for j in jobs]))
        except Exception as exc:  # noqa: BLE001 - delivered to every waiting request
            results = [BackendError(f"{self.name}: {type(exc).__name__}: {exc}")] * len(jobs)
        deliver(jobs, results, start)

    # --- one vLLM call for a batch of requests ---------------------------------------------------------------
    def run_batch(self, requests: Sequence[Request]) -> list[Completion]:
        """Answer ``requests`` with a single ``LLM.generate`` call (option texts become extra prompts)."""
        prompts: list[dict[str, list[int]]] = []
        params: list[Any] = []
        owners: list[tuple[int, int]] = []  # (request index, option index or -1)
        encoded = [self.encode(r) for r in requests]
        for i, (request, ids) in enumerate(zip(requests, encoded, strict=True)):
            if request.continuations:
                for k, text in enumerate(request.continuations):
                    option = list(self.tokenizer(text, add_special_tokens=False)["input_ids"])
                    prompts.append({"prompt_token_ids": ids + option})
                    params.append(self._vllm.SamplingParams(max_tokens=1, temperature=0.0, prompt_logprobs=0))
                    owners.append((i, k))
            else:
                prompts.append({"prompt_token_ids": ids})
                params.append(self.sampling_params(request))
                owners.append((i, -1))
        outputs = self.llm.generate(prompts, sampling_params=params, use_tqdm=False)
        return self._collect(requests, encoded, prompts, outputs, owners)

    def sampling_params(self, request: Request) -> Any:
        """``SamplingParams`` of a scoring or generation request."""
        t = 1.0 if request.temperature is None else request.temperature
        kw: dict[str, Any] = {
            "max_tokens": request.max_tokens,
            "temperature": t,
            "seed": sample_seed(request.seed, request.sample_index),
        }
        if request.stop:
            kw["stop"] = list(request.stop)
        if request.constraint is not None:
            kw.update(constraint_kwargs(self.structured, request.constraint))
        if request.letters and self.token_ids:
            kw["logprob_token_ids"] = sorted({i for L in request.letters for i in self.letter_ids.get(L, ())})
        elif request.letters or request.top_logprobs:
            kw["logprobs"] = min(self.max_logprobs, max(request.top_logprobs, 20 if request.letters else 0))
        return self._vllm.SamplingParams(**kw)

    def _collect(
        self,
        requests: Sequence[Request],
        encoded: list[list[int]],
        prompts: list[dict[str, list[int]]],
        outputs: Sequence[Any],
        owners: list[tuple[int, int]],
    ) -> list[Completion]:
        scores: dict[int, list[float]] = {}
        plain: dict[int, Any] = {}
        for (i, k), prompt, out in zip(owners, prompts, outputs, strict=True):
            if k < 0:
                plain[i] = out
            else:
                scores.setdefault(i, []).append(_option_score(out, prompt["prompt_token_ids"], len(encoded[i])))
        return [self._completion(r, encoded[i], plain.get(i), scores.get(i, [])) for i, r in enumerate(requests)]

    def _completion(self, request: Request, ids: list[int], out: Any, scores: list[float]) -> Completion:
        if request.continuations:
            return Completion(
                continuation_logprobs=tuple(scores), model_id=self.name, input_tokens=len(ids), finish_reason="scored"
            )
        gen = out.outputs[0]
        top: tuple[tuple[str, float], ...] = ()
        if request.letters or request.top_logprobs:
            first = dict(gen.logprobs[0]) if gen.logprobs else {}
            top = self._letters_top(first, request.letters) if request.letters else self._top_k(first, request)
        return Completion(
            text=gen.text,
            top_logprobs=top,
            model_id=self.name,
            input_tokens=len(ids),
            output_tokens=len(gen.token_ids),
            finish_reason=str(gen.finish_reason or ""),
        )

    def _letters_top(self, first: dict[int, Any], letters: Sequence[str]) -> tuple[tuple[str, float], ...]:
        """Per letter, log of the summed probability of its tokens among those vLLM returned."""
        out = []
        for letter in letters:
            mass = sum(math.exp(first[i].logprob) for i in self.letter_ids.get(letter, ()) if i in first)
            out.append((letter, math.log(mass) if mass > 0 else -math.inf))
        return tuple(out)

    def _top_k(self, first: dict[int, Any], request: Request) -> tuple[tuple[str, float], ...]:
        ranked = sorted(first.items(), key=lambda kv: -kv[1].logprob)[: request.top_logprobs]
        return tuple(
            (
                lp.decoded_token if getattr(lp, "decoded_token", None) is not None else self.tokenizer.decode([tid]),
                float(lp.logprob),
            )
            for tid, lp in ranked
        )


def loaded_dtype(llm: Any, asked: str) -> str:
    """The dtype vLLM loaded the weights in (``asked`` when the engine does not say)."""
    config = getattr(getattr(llm, "llm_engine", None), "model_config", None)
    dtype = getattr(config, "dtype", None)
    return str(dtype).removeprefix("torch.") if dtype is not None else asked


def _option_score(out: Any, prompt: list[int], start: int) -> float:
    """Mean log-likelihood of the prompt tokens from ``start`` on (the option text)."""
    values = [float(out.prompt_logprobs[pos][prompt[pos]].logprob) for pos in range(start, len(prompt))]
    return sum(values) / len(values) if values else -math.inf


def make_backend(model: str, options: BackendOptions) -> Backend:
    """Registry factory for ``vllm/<model>``."""
    return VLLMBackend(model, options)
