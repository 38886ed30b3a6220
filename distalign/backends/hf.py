"""In-process Hugging Face transformers backend: exact option probabilities, micro-batched (docs/original.md §3.2).

``hf/<local dir or hub id>`` loads a causal LM with ``transformers`` and answers three kinds of request:

* **scoring** (``letters`` or ``top_logprobs``): one forward pass over the chat-templated prompt
  (``add_generation_prompt=True``); the log-softmax at the assistant's first token gives, for every
  option letter, the summed probability of *every* token that decodes to it (``"A"``, ``" A"``, ...),
  returned as ``top_logprobs`` for exactly ``request.letters`` (the top-k tokens otherwise). Exact over
  the whole vocabulary: ``capabilities.exact_letter_probs``.
* **option likelihood** (``continuations``): the per-token mean log-likelihood of each option text as
  the assistant's answer (small models answer letters at chance but rank option texts well).
* **generation** (free text): sampling at the request temperature (greedy at 0) with a per-request
  seeded ``torch.Generator`` (seed + sample index), stop sequences and ``max_tokens``; a request with a
  :class:`~distalign.types.Constraint` (JSON schema or regular expression) is decoded under it with llguidance
  and stops when the grammar is complete.

Concurrent :meth:`HFBackend.complete` calls are micro-batched: they enter a queue that one worker thread
drains into batches of up to ``--batch_size`` rows. Llama-family models run on the lean engine
(:mod:`distalign.backends._hf_llama`): shared prompt prefixes computed once and remembered across batches, and
generation continuously batched (:mod:`distalign.backends._hf_decode`: a finished row leaves, a waiting request
takes its place). Other architectures (or ``--backend_arg engine=transformers``) run through the transformers
forward, left-padded with explicit position ids (:mod:`distalign.backends._hf_forward`), a generation batch
running until its longest reply. CPU or CUDA; ``dtype=auto`` is bfloat16 where the hardware computes it fast,
float32 elsewhere (:mod:`distalign.backends._hf_load`). This module is the backend, its capabilities and its
registry factory.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable
from typing import Any

import torch

from distalign.backends._batching import BatchedBackend, Job, MicroBatcher, deliver
from distalign.backends._hf_compute import logsumexp, sample, seeded_generator
from distalign.backends._hf_constrain import Grammars
from distalign.backends._hf_decode import DecodeLoop
from distalign.backends._hf_fast import FastPrefill
from distalign.backends._hf_forward import HFForward
from distalign.backends._hf_llama import FastLM, unsupported
from distalign.backends._hf_load import DTYPES, EXTRA_KEYS, eos_ids, load_model, pad_id, pick_device, pick_dtype
from distalign.backends._http import parse_extra
from distalign.backends.base import Backend, BackendError, BackendOptions
from distalign.types import Capabilities, Completion, Request

__all__ = [
    "DTYPES",
    "EXTRA_KEYS",
    "GATHER_S",
    "HF_CAPS",
    "MAX_TOP_LOGPROBS",
    "MIN_SHARED_PREFIX",
    "HFBackend",
    "capabilities",
    "load_model",
    "make_backend",
    "pick_device",
    "pick_dtype",
]

MAX_TOP_LOGPROBS = 100
GATHER_S = 0.02  # the worker runs a batch once it is full or no request has arrived for this long
MIN_SHARED_PREFIX = 64  # tokens rows must share before their common prefix is computed once for all of them
HF_CAPS = Capabilities(
    logprobs=True,
    max_top_logprobs=MAX_TOP_LOGPROBS,
    temperature=True,
    top_p=False,
    temperature_with_top_p=False,
    seed=True,
    json_output=False,
    n_samples=False,
    chat_template=True,
    batch_api=False,
    option_scores=True,
    exact_letter_probs=True,
    in_process=True,
    key_env=("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"),
    constraints=("json_schema", "regex"),
)
ENGINES = ("auto", "lean", "transformers")


def capabilities(model: str, options: BackendOptions) -> Capabilities:
    """What ``hf/<model>`` supports, without loading it (chat template assumed)."""
    return HF_CAPS


def _kind(request: Request) -> str:
    if request.continuations:
        return "options"
    if request.letters or request.top_logprobs:
        return "score"
    return "generate"


class HFBackend(HFForward, BatchedBackend):
    """A loaded transformers model and tokenizer behind the :class:`Backend` interface.

    Args:
        name: ``provider/model`` name.
        model: a causal LM (already on its device, in eval mode).
        tokenizer: its tokenizer.
        batch_size: rows per forward pass (and rows decoding together).
        identity: cache identity (defaults to ``name@dtype``).
        gather_s: how long the micro-batcher waits for one more request.
        engine: ``auto`` (the lean engine where the architecture allows), ``lean`` or ``transformers``.
    """

    def __init__(
        self,
        name: str,
        model: Any,
        tokenizer: Any,
        batch_size: int = 8,
        identity: str | None = None,
        gather_s: float = GATHER_S,
        engine: str = "auto",
    ) -> None:
        self.name, self.model, self.tokenizer = name, model, tokenizer
        self.batch_size = max(1, batch_size)
        self.device = next(model.parameters()).device
        self._identity = identity or f"{name}@{str(next(model.parameters()).dtype).removeprefix('torch.')}"
        self.capabilities = Capabilities(
            **{**HF_CAPS.__dict__, "chat_template": bool(getattr(tokenizer, "chat_template", None))}
        )
        self.pad_id = pad_id(tokenizer)
        self.eos_ids = eos_ids(model, tokenizer)
        self._cache_kw = "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"
        self._batcher = MicroBatcher(name, self._run, self.batch_size, gather_s)
        self.fast, self.loop = self._lean(engine)
        self.min_shared_prefix = MIN_SHARED_PREFIX
        self._grammars: Grammars | None = None

    def _lean(self, engine: str) -> tuple[FastPrefill | None, DecodeLoop | None]:
        """The lean engine's prompt passes and decoding loop, when ``engine`` and the architecture allow."""
        if engine not in ENGINES:
            raise ValueError(f"engine={engine!r}; valid: {', '.join(ENGINES)}")
        why = unsupported(self.model) if engine != "transformers" else "engine=transformers"
        if why and engine == "lean":
            raise BackendError(f"{self.name}: the lean engine cannot run this model: {why}")
        if why:
            return None, None
        fast = FastPrefill(FastLM(self.model), MIN_SHARED_PREFIX)
        return fast, DecodeLoop(self.name, fast, self.tokenizer, self.eos_ids, self.grammars)

    @property
    def min_shared_prefix(self) -> int:
        """Tokens rows must share before their common prefix is computed once for all of them."""
        return self._min_shared

    @min_shared_prefix.setter
    def min_shared_prefix(self, value: int) -> None:
        self._min_shared = value
        if self.fast is not None:
            self.fast.min_shared = value

    def grammars(self) -> Grammars:
        """The llguidance matchers' factory over this tokenizer (built on the first constrained request)."""
        if self._grammars is None:
            vocab = int(self.model.get_output_embeddings().weight.shape[0])
            self._grammars = Grammars(self.tokenizer, vocab, sorted(self.eos_ids))
        return self._grammars

    def tail_logits(self, rows: Any, keep: int) -> torch.Tensor:
        """Logits at the last ``keep`` positions of each row (lean engine when there is one)."""
        if self.fast is not None:
            return self.fast.tail_logits(rows, keep)
        return super().tail_logits(rows, keep)

    def _ready(self, jobs: list[Job]) -> list[Job]:
        """The jobs whose prompts encode (ids filled in); the others are answered with the error."""
        ready = []
        for job in jobs:
            try:
                job.ids = self.encode(job.request)
                ready.append(job)
            except Exception as exc:  # noqa: BLE001 - e.g. a chat template that rejects the messages
                deliver([job], [_as_backend_error(exc, self.name)], time.perf_counter())
        return ready

    def _run(self, jobs: list[Job]) -> None:
        ready = self._ready(jobs)
        generate = [j for j in ready if _wants_generation(j)]
        self._answer([j for j in ready if not _wants_generation(j)])
        if generate and self.loop is not None:
            self.loop.run(generate, self._more_generation, self.batch_size, between=self._scoring_meanwhile)
        elif generate:
            self._answer(generate)

    def _more_generation(self, n: int) -> list[Job]:
        return self._ready(self._batcher.take(_wants_generation, n))

    def _scoring_meanwhile(self) -> None:
        """Scoring requests queued while free text decodes run between two decoding steps (no starving)."""
        self._answer(self._ready(self._batcher.take(lambda j: not _wants_generation(j), self.batch_size)))

    def _answer(self, ready: list[Job]) -> None:
        """Run and answer encoded jobs, one runner per kind of request."""
        runners: dict[str, Callable[[list[Job]], list[Completion | BaseException]]] = {
            "score": self._score,
            "options": self._options,
            "generate": self._generate,
        }
        for kind, runner in runners.items():
            group = [j for j in ready if _kind(j.request) == kind]
            if not group:
                continue
            start = time.perf_counter()
            try:
                results: list[Completion | BaseException] = list(runner(group))
            except Exception as exc:  # noqa: BLE001 - delivered to each waiting request, never lost
                results = [_as_backend_error(exc, self.name)] * len(group)
            deliver(group, results, start)

    def _score(self, jobs: list[Job]) -> list[Completion | BaseException]:
        logits = self.tail_logits([j.ids for j in jobs], keep=1)
        logprobs = torch.log_softmax(logits[:, -1, :].float(), dim=-1).cpu()
        return [self._score_one(job, lp) for job, lp in zip(jobs, logprobs, strict=True)]

    def _score_one(self, job: Job, logprobs: torch.Tensor) -> Completion:
        request = job.request
        if request.letters:
            top = tuple((letter, logsumexp(logprobs, self.letter_ids.get(letter, ()))) for letter in request.letters)
        else:
            values, idx = torch.topk(logprobs, min(request.top_logprobs, MAX_TOP_LOGPROBS))
            top = tuple((self.tokenizer.decode([int(i)]), float(v)) for v, i in zip(values, idx, strict=True))
        token = sample(logprobs, request.temperature, seeded_generator(request))
        return Completion(
            text=self.tokenizer.decode([token], skip_special_tokens=True),
            top_logprobs=top,
            model_id=self.name,
            input_tokens=len(job.ids),
            output_tokens=1,
            finish_reason="length",
        )

    def _options(self, jobs: list[Job]) -> list[Completion | BaseException]:
        rows, spans = [], []
        for job in jobs:
            for text in job.request.continuations:
                option = list(self.tokenizer(text, add_special_tokens=False)["input_ids"]) or [self.pad_id]
                rows.append(job.ids + option)
                spans.append(option)
        scores = [
            score
            for start in range(0, len(rows), self.batch_size)
            for score in self._option_scores(
                rows[start : start + self.batch_size], spans[start : start + self.batch_size]
            )
        ]
        out: list[Completion | BaseException] = []
        at = 0
        for job in jobs:
            n = len(job.request.continuations)
            out.append(
                Completion(
                    continuation_logprobs=tuple(scores[at : at + n]),
                    model_id=self.name,
                    input_tokens=len(job.ids),
                    finish_reason="scored",
                )
            )
            at += n
        return out

    def _option_scores(self, rows: list[list[int]], options: list[list[int]]) -> list[float]:
        keep = max(len(o) for o in options) + 1
        logprobs = torch.log_softmax(self.tail_logits(rows, keep=keep).float(), dim=-1).cpu()
        scores = []
        for i, option in enumerate(options):
            n = len(option)
            at = logprobs[i, keep - n - 1 : keep - 1, :]
            scores.append(float(at.gather(1, torch.tensor(option).unsqueeze(1)).mean()))
        return scores


def _wants_generation(job: Job) -> bool:
    return _kind(job.request) == "generate"


def _as_backend_error(exc: BaseException, name: str) -> BackendError:
    hint = " (lower --batch_size)" if "out of memory" in str(exc).lower() else ""
    return BackendError(f"{name}: {type(exc).__name__}: {exc}{hint}")


def make_backend(model: str, options: BackendOptions) -> Backend:
    """Registry factory for ``hf/<local dir or hub id>``."""
    extra = parse_extra(options.extra, EXTRA_KEYS)
    loaded, tokenizer = load_model(model, options)
    gather = float(extra.get("gather_ms", GATHER_S * 1000)) / 1000
    engine = extra.get("engine", "auto")
    return HFBackend(f"hf/{model}", loaded, tokenizer, batch_size=options.batch_size, gather_s=gather, engine=engine)
