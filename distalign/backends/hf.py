"""In-process Hugging Face transformers backend: exact option probabilities, micro-batched (issue #5; SPEC §3.2).

``hf/<local dir or hub id>`` loads a causal LM with ``transformers`` and answers three kinds of request:

* **scoring** (``letters`` or ``top_logprobs``): one forward pass over the chat-templated prompt
  (``add_generation_prompt=True``); the log-softmax at the assistant's first token gives, for every
  option letter, the summed probability of *every* token that decodes to it (``"A"``, ``" A"``, ...),
  returned as ``top_logprobs`` for exactly ``request.letters`` (the top-k tokens otherwise). Exact over
  the whole vocabulary: ``capabilities.exact_letter_probs``.
* **option likelihood** (``continuations``): the per-token mean log-likelihood of each option text as
  the assistant's answer (small models answer letters at chance but rank option texts well).
* **generation** (free text): sampling at the request temperature (greedy at 0) with a per-request
  seeded ``torch.Generator`` (seed + sample index), stop sequences and ``max_tokens``.

Concurrent :meth:`HFBackend.complete` calls are micro-batched: they enter a queue that one worker thread
drains into left-padded batches of up to ``--batch_size`` rows (explicit position ids, so padding does not
change the numbers). CPU or CUDA; ``dtype=auto`` is bfloat16 on CUDA when supported and float32 on CPU.
"""

from __future__ import annotations

import inspect
import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import torch

from distalign.backends._batching import Job, MicroBatcher, TokenizerMixin, deliver
from distalign.backends._http import parse_extra
from distalign.backends._tokens import sample_seed
from distalign.backends.base import Backend, BackendError, BackendOptions
from distalign.types import Capabilities, Completion, Request

MAX_TOP_LOGPROBS = 100
GATHER_S = 0.02  # the worker runs a batch once it is full or no request has arrived for this long
MIN_SHARED_PREFIX = 64  # tokens rows must share before their common prefix is computed once for all of them
EXTRA_KEYS = ("device_map", "trust_remote_code", "quantize", "gather_ms")
HF_CAPS = Capabilities(logprobs=True, max_top_logprobs=MAX_TOP_LOGPROBS, temperature=True, top_p=False,
                       temperature_with_top_p=False, seed=True, json_output=False, n_samples=False,
                       chat_template=True, batch_api=False, option_scores=True, exact_letter_probs=True)
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def pick_device(device: str) -> torch.device:
    """``auto`` -> CUDA when available, else CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def pick_dtype(dtype: str, device: torch.device) -> torch.dtype:
    """``auto`` -> bfloat16 on CUDA with bf16 support, float32 otherwise."""
    if dtype == "auto":
        cuda_bf16 = device.type == "cuda" and torch.cuda.is_bf16_supported()
        return torch.bfloat16 if cuda_bf16 else torch.float32
    if dtype not in DTYPES:
        raise ValueError(f"unknown dtype {dtype!r}; valid: auto, {', '.join(DTYPES)}")
    return DTYPES[dtype]


def capabilities(model: str, options: BackendOptions) -> Capabilities:
    """What ``hf/<model>`` supports, without loading it (chat template assumed)."""
    return HF_CAPS


def _kind(request: Request) -> str:
    if request.continuations:
        return "options"
    if request.letters or request.top_logprobs:
        return "score"
    return "generate"


class HFBackend(TokenizerMixin, Backend):
    """A loaded transformers model and tokenizer behind the :class:`Backend` interface.

    Args:
        name: ``provider/model`` name.
        model: a causal LM (already on its device, in eval mode).
        tokenizer: its tokenizer.
        batch_size: rows per forward pass.
        identity: cache identity (defaults to ``name@dtype``).
    """

    def __init__(self, name: str, model: Any, tokenizer: Any, batch_size: int = 8, identity: str | None = None,
                 gather_s: float = GATHER_S) -> None:
        self.name, self.model, self.tokenizer = name, model, tokenizer
        self.batch_size = max(1, batch_size)
        self.min_shared_prefix = MIN_SHARED_PREFIX
        self.device = next(model.parameters()).device
        self._identity = identity or f"{name}@{str(next(model.parameters()).dtype).removeprefix('torch.')}"
        self.capabilities = Capabilities(**{**HF_CAPS.__dict__,
                                            "chat_template": bool(getattr(tokenizer, "chat_template", None))})
        self.pad_id = _pad_id(tokenizer)
        self.eos_ids = _eos_ids(model, tokenizer)
        self._cache_kw = "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"
        self._batcher = MicroBatcher(name, self._run, self.batch_size, gather_s)

    def cache_identity(self) -> str:
        """Model name and dtype (bf16 and fp32 answers differ in the last digits)."""
        return self._identity

    # --- async front: the micro-batcher's queue and worker thread ----------------------------------------------
    async def complete(self, request: Request) -> Completion:
        """Queue the request; it runs in a batch with its concurrent neighbours."""
        return await self._batcher.submit(request)

    async def aclose(self) -> None:
        """Stop the worker thread (after the queued requests)."""
        await self._batcher.close()

    def _run(self, jobs: list[Job]) -> None:
        ready = []
        for job in jobs:
            try:
                job.ids = self.encode(job.request)
                ready.append(job)
            except Exception as exc:  # noqa: BLE001 - e.g. a chat template that rejects the messages
                deliver([job], [_as_backend_error(exc, self.name)], time.perf_counter())
        runners: dict[str, Callable[[list[Job]], list[Completion]]] = {
            "score": self._score, "options": self._options, "generate": self._generate}
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

    # --- forward passes ----------------------------------------------------------------------------------------
    def _forward(self, rows: Sequence[Sequence[int]], keep: int, use_cache: bool = False) -> Any:
        """Left-padded forward pass keeping the logits of the last ``keep`` positions."""
        ids, mask = _left_pad(rows, self.pad_id)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        with torch.inference_mode():
            return self.model(input_ids=ids.to(self.device), attention_mask=mask.to(self.device),
                              position_ids=positions.to(self.device), logits_to_keep=keep, use_cache=use_cache)

    def tail_logits(self, rows: Sequence[Sequence[int]], keep: int) -> torch.Tensor:
        """Logits at the last ``keep`` positions of each row, ``[rows, keep, vocab]``.

        Rows that share a long token prefix (a run's instructions and few-shot examples for one group)
        have it computed once per cluster; the other rows go through one left-padded pass.
        """
        clusters, rest = _prefix_clusters(rows, self.min_shared_prefix)
        parts: dict[int, torch.Tensor] = {}
        for cluster in clusters:
            sub = [rows[i] for i in cluster]
            shared = min(_common_prefix(sub), min(len(r) for r in sub) - keep)
            if shared < self.min_shared_prefix:
                rest.extend(cluster)
                continue
            parts.update(zip(cluster, self._tail_with_prefix(sub, keep, shared), strict=True))
        if rest:
            padded = self._forward([rows[i] for i in rest], keep=keep).logits
            parts.update(zip(rest, padded, strict=True))
        return torch.stack([parts[i] for i in range(len(rows))])

    def _tail_with_prefix(self, rows: Sequence[Sequence[int]], keep: int, shared: int) -> torch.Tensor:
        """Tail logits through :meth:`_prefix_pass`."""
        return self._prefix_pass(rows, keep, shared)[0]

    def _prefix_pass(self, rows: Sequence[Sequence[int]], keep: int,
                     shared: int) -> tuple[torch.Tensor, Any, torch.Tensor, torch.Tensor]:
        """The shared prefix once (its KV cache repeated per row), then the right-padded suffixes.

        Returns the logits at each row's last ``keep`` real positions, the KV cache, the attention mask
        and each row's suffix length.
        """
        suffixes = [list(r[shared:]) for r in rows]
        width = max(len(x) for x in suffixes)
        ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), shared + width), dtype=torch.long)
        mask[:, :shared] = 1
        for i, x in enumerate(suffixes):
            ids[i, : len(x)] = torch.tensor(x, dtype=torch.long)
            mask[i, shared: shared + len(x)] = 1
        wanted = sorted({p for x in suffixes for p in range(len(x) - keep, len(x))})
        positions = torch.arange(shared, shared + width).expand(len(rows), width)
        with torch.inference_mode():
            prefix = torch.tensor([list(rows[0][:shared])], dtype=torch.long, device=self.device)
            cache = _cache_of(self.model(input_ids=prefix, use_cache=True, logits_to_keep=1))
            cache.batch_repeat_interleave(len(rows))
            out = self.model(input_ids=ids.to(self.device), attention_mask=mask.to(self.device),
                             position_ids=positions.to(self.device), use_cache=True,
                             logits_to_keep=torch.tensor(wanted, device=self.device), **{self._cache_kw: cache})
        at = {p: k for k, p in enumerate(wanted)}
        picks = [torch.tensor([at[p] for p in range(len(x) - keep, len(x))], device=out.logits.device)
                 for x in suffixes]
        logits = torch.stack([out.logits[i, picks[i]] for i in range(len(rows))])
        return logits, _cache_of(out), mask, torch.tensor([len(x) for x in suffixes])

    def _score(self, jobs: list[Job]) -> list[Completion]:
        logits = self.tail_logits([j.ids for j in jobs], keep=1)
        logprobs = torch.log_softmax(logits[:, -1, :].float(), dim=-1).cpu()
        return [self._score_one(job, lp) for job, lp in zip(jobs, logprobs, strict=True)]

    def _score_one(self, job: Job, logprobs: torch.Tensor) -> Completion:
        request = job.request
        if request.letters:
            top = tuple((letter, _logsumexp(logprobs, self.letter_ids.get(letter, ()))) for letter in request.letters)
        else:
            values, idx = torch.topk(logprobs, min(request.top_logprobs, MAX_TOP_LOGPROBS))
            top = tuple((self.tokenizer.decode([int(i)]), float(v)) for v, i in zip(values, idx, strict=True))
        token = _sample(logprobs, request.temperature, _generator(request))
        return Completion(text=self.tokenizer.decode([token], skip_special_tokens=True), top_logprobs=top,
                          model_id=self.name, input_tokens=len(job.ids), output_tokens=1, finish_reason="length")

    def _options(self, jobs: list[Job]) -> list[Completion]:
        rows, spans = [], []
        for job in jobs:
            for text in job.request.continuations:
                option = list(self.tokenizer(text, add_special_tokens=False)["input_ids"]) or [self.pad_id]
                rows.append(job.ids + option)
                spans.append(option)
        scores = [score for start in range(0, len(rows), self.batch_size)
                  for score in self._option_scores(rows[start:start + self.batch_size],
                                                   spans[start:start + self.batch_size])]
        out, at = [], 0
        for job in jobs:
            n = len(job.request.continuations)
            out.append(Completion(continuation_logprobs=tuple(scores[at:at + n]), model_id=self.name,
                                  input_tokens=len(job.ids), finish_reason="scored"))
            at += n
        return out

    def _option_scores(self, rows: list[list[int]], options: list[list[int]]) -> list[float]:
        keep = max(len(o) for o in options) + 1
        logprobs = torch.log_softmax(self.tail_logits(rows, keep=keep).float(), dim=-1).cpu()
        scores = []
        for i, option in enumerate(options):
            n = len(option)
            at = logprobs[i, keep - n - 1: keep - 1, :]
            scores.append(float(at.gather(1, torch.tensor(option).unsqueeze(1)).mean()))
        return scores

    def _generate(self, jobs: list[Job]) -> list[Completion]:
        logits, cache, mask, positions = self._prefill([j.ids for j in jobs])
        state = _Generation(jobs, self.eos_ids, mask, positions)
        for _ in range(state.budget):
            logprobs = torch.log_softmax(logits.float(), dim=-1).cpu()
            if state.step(logprobs, self.tokenizer):
                break
            out = self._step(state, cache)
            logits, cache = out.logits[:, -1, :], _cache_of(out)
        return state.completions(self.name)

    def _prefill(self, rows: Sequence[Sequence[int]]) -> tuple[torch.Tensor, Any, torch.Tensor, torch.Tensor]:
        """Last-position logits, KV cache, attention mask and last position ids of the prompts."""
        shared = min(_common_prefix(rows), min(len(r) for r in rows) - 1)
        if len(rows) > 1 and shared >= self.min_shared_prefix:
            logits, cache, mask, lengths = self._prefix_pass(rows, 1, shared)
            return logits[:, -1, :], cache, mask, (shared + lengths - 1).unsqueeze(1)
        out = self._forward(rows, keep=1, use_cache=True)
        mask = _left_pad(rows, self.pad_id)[1]
        return out.logits[:, -1, :], _cache_of(out), mask, mask.sum(-1, keepdim=True) - 1

    def _step(self, state: _Generation, past: Any) -> Any:
        state.mask = torch.cat([state.mask, torch.ones((len(state.jobs), 1), dtype=torch.long)], dim=1)
        state.positions = state.positions + 1
        last = torch.tensor([[t[-1] if t else self.pad_id] for t in state.tokens], dtype=torch.long)
        with torch.inference_mode():
            return self.model(input_ids=last.to(self.device), attention_mask=state.mask.to(self.device),
                              position_ids=state.positions.to(self.device), use_cache=True, logits_to_keep=1,
                              **{self._cache_kw: past})


class _Generation:
    """Per-row state of a batched sampling loop."""

    def __init__(self, jobs: list[Job], eos_ids: set[int], mask: torch.Tensor, positions: torch.Tensor) -> None:
        self.jobs, self.eos_ids = jobs, eos_ids
        self.mask, self.positions = mask, positions
        self.tokens: list[list[int]] = [[] for _ in jobs]
        self.texts = [""] * len(jobs)
        self.reasons = [""] * len(jobs)
        self.generators = [_generator(j.request) for j in jobs]
        self.budget = max(j.request.max_tokens for j in jobs)

    def step(self, logprobs: torch.Tensor, tokenizer: Any) -> bool:
        """Sample one token per unfinished row; ``True`` when every row is finished."""
        for i, job in enumerate(self.jobs):
            if self.reasons[i]:
                continue
            token = _sample(logprobs[i], job.request.temperature, self.generators[i])
            if token in self.eos_ids:
                self.reasons[i] = "stop"
                continue
            self.tokens[i].append(token)
            self._check(i, tokenizer.decode(self.tokens[i], skip_special_tokens=True))
        return all(self.reasons)

    def _check(self, i: int, text: str) -> None:
        request = self.jobs[i].request
        cut = min((at for s in request.stop if s and (at := text.find(s)) >= 0), default=-1)
        if cut >= 0:
            text, self.reasons[i] = text[:cut], "stop"
        elif len(self.tokens[i]) >= request.max_tokens:
            self.reasons[i] = "length"
        self.texts[i] = text

    def completions(self, name: str) -> list[Completion]:
        return [Completion(text=self.texts[i], model_id=name, input_tokens=len(job.ids),
                           output_tokens=len(self.tokens[i]), finish_reason=self.reasons[i] or "length")
                for i, job in enumerate(self.jobs)]


def _generator(request: Request) -> torch.Generator:
    return torch.Generator().manual_seed(sample_seed(request.seed, request.sample_index))


def _sample(logprobs: torch.Tensor, temperature: float | None, generator: torch.Generator) -> int:
    """A token id: greedy at temperature 0, else drawn at ``temperature`` (``None``: 1)."""
    t = 1.0 if temperature is None else temperature
    if t <= 0:
        return int(torch.argmax(logprobs))
    probs = torch.softmax(logprobs / t, dim=-1)
    return int(torch.multinomial(probs, 1, generator=generator))


def _logsumexp(logprobs: torch.Tensor, ids: Sequence[int]) -> float:
    return float(torch.logsumexp(logprobs[list(ids)], dim=0)) if ids else -math.inf


def _left_pad(rows: Sequence[Sequence[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Token ids and attention mask of rows padded on the left to one width."""
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        ids[i, width - len(row):] = torch.tensor(row, dtype=torch.long)
        mask[i, width - len(row):] = 1
    return ids, mask


def _common_prefix(rows: Sequence[Sequence[int]]) -> int:
    """Length of the longest common prefix of token rows.

    >>> _common_prefix([[1, 2, 3], [1, 2, 4], [1, 2]])
    2
    """
    first, n = rows[0], min(len(r) for r in rows)
    for i in range(n):
        if any(r[i] != first[i] for r in rows):
            return i
    return n


def _prefix_clusters(rows: Sequence[Sequence[int]], threshold: int) -> tuple[list[list[int]], list[int]]:
    """Indices of rows grouped by a shared prefix of at least ``threshold`` tokens, and the ungrouped rest.

    >>> _prefix_clusters([[1, 2, 3], [9, 9], [1, 2, 4], [5]], threshold=2)
    ([[0, 2]], [3, 1])
    """
    order = sorted(range(len(rows)), key=lambda i: list(rows[i]))
    groups, current = [], [order[0]]
    for a, b in zip(order, order[1:], strict=False):
        if _common_prefix([rows[a], rows[b]]) >= threshold:
            current.append(b)
        else:
            groups.append(current)
            current = [b]
    groups.append(current)
    return [g for g in groups if len(g) > 1], [i for g in groups if len(g) == 1 for i in g]


def _cache_of(output: Any) -> Any:
    """The KV cache of a model output (``cache`` in transformers 5, ``past_key_values`` before)."""
    cache = getattr(output, "cache", None)
    return cache if cache is not None else output.past_key_values


def _as_backend_error(exc: BaseException, name: str) -> BackendError:
    hint = " (lower --batch_size)" if "out of memory" in str(exc).lower() else ""
    return BackendError(f"{name}: {type(exc).__name__}: {exc}{hint}")


def _pad_id(tokenizer: Any) -> int:
    for candidate in (tokenizer.pad_token_id, tokenizer.eos_token_id, 0):
        if candidate is not None:
            return int(candidate)
    return 0


def _eos_ids(model: Any, tokenizer: Any) -> set[int]:
    ids: set[int] = set()
    for value in (tokenizer.eos_token_id, getattr(getattr(model, "generation_config", None), "eos_token_id", None)):
        if isinstance(value, int):
            ids.add(value)
        elif isinstance(value, list | tuple):
            ids.update(int(v) for v in value)
    return ids


# --- loading -----------------------------------------------------------------------------------------------
def load_model(path: str, options: BackendOptions, **kwargs: Any) -> tuple[Any, Any]:
    """Tokenizer and model from a local folder or hub id, on the chosen device and dtype, in eval mode."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    extra = parse_extra(options.extra, EXTRA_KEYS)
    device = pick_device(options.device)
    dtype = pick_dtype(options.dtype, device)
    trust = extra.get("trust_remote_code", "false").lower() == "true"
    tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=trust, **kwargs)
    load: dict[str, Any] = {"dtype": dtype, "trust_remote_code": trust, **kwargs}
    if "device_map" in extra:
        load["device_map"] = extra["device_map"]
    if "quantize" in extra:
        load["quantization_config"] = _quantization(extra["quantize"], dtype)
    model: Any = AutoModelForCausalLM.from_pretrained(path, **load)
    if "device_map" not in extra and "quantize" not in extra:
        model = model.to(device)
    return model.eval(), tokenizer


def _quantization(kind: str, dtype: torch.dtype) -> Any:
    from transformers import BitsAndBytesConfig  # needs bitsandbytes (CUDA)

    if kind not in ("4bit", "8bit"):
        raise ValueError(f"quantize={kind!r}; valid: 4bit, 8bit")
    if kind == "8bit":
        return BitsAndBytesConfig(load_in_8bit=True)
    return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_compute_dtype=dtype)


def make_backend(model: str, options: BackendOptions) -> Backend:
    """Registry factory for ``hf/<local dir or hub id>``."""
    extra = parse_extra(options.extra, EXTRA_KEYS)
    loaded, tokenizer = load_model(model, options)
    gather = float(extra.get("gather_ms", GATHER_S * 1000)) / 1000
    return HFBackend(f"hf/{model}", loaded, tokenizer, batch_size=options.batch_size, gather_s=gather)
