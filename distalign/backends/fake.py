"""Fake backends for tests, demos and benchmarks: deterministic, instant, no network.

* ``fake/uniform``: a uniform distribution over the shown letters, in each method's format.
* ``fake/oracle``: the steered group's true distribution, read from ``request.meta["truth"]`` (a JSON
  list of probabilities over A, B, ...): log-probs = log(truth) as first-token alternatives;
  verbalize = a JSON dict of percentages; sequence = 30 letters drawn from the truth; single answer =
  one letter drawn from it; option scores = log(truth). Without a truth it answers uniformly.
* ``fake/garbage``: malformed output in every format (parse failures, never crashes).

Draws use a numpy Generator seeded from the request itself (its cache key), so the same request
always gets the same answer. The format is taken from ``meta["output_type"]`` (set by the run
engine), else guessed from the request. Options in ``BackendOptions.extra`` (``--backend_arg``) inject
latency and failures:

* ``latency_ms``: sleep this long per call;
* ``jitter_ms``: plus up to this long, drawn per request (completions then finish out of order);
* ``fail_rate``: probability that a call raises a :class:`TransientError` (seeded by ``seed``);
* ``fail_first``: every request fails transiently on its first N calls;
* ``fail_always``: ``1`` makes every call fail permanently (:class:`BackendError`);
* ``retry_after``: the ``Retry-After`` seconds carried by injected transient errors;
* ``call_log``: a file that gets one JSON line per call (request key, qid, sample index);
* ``batch_api``: ``1`` declares a batch API (the batch pass is then exercised with this backend);
* ``constraints``: the constraint kinds declared, comma-separated (default ``json_schema,regex``; empty: none).

A request with a :class:`~distalign.types.Constraint` is answered in the constrained format, as a backend that
enforces it would: a JSON object with the schema's letters (percentages, numbers), ``{"answers": [...]}``, or the
regular expression's space-separated letters; ``fake/garbage`` then answers a well-formed but useless reply (every
percentage 0; a constant answer list).

>>> import asyncio
>>> from distalign.types import Message, Request
>>> r = Request((Message("user", "Yes or no?"),), top_logprobs=20, meta=(("truth", "[0.25, 0.75]"),))
>>> top = asyncio.run(make_backend("oracle", BackendOptions()).complete(r)).top_logprobs
>>> [(token, round(math.exp(logprob), 6)) for token, logprob in top]
[('B', 0.75), ('A', 0.25)]
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import re
from collections import Counter
from pathlib import Path

import numpy as np

from distalign.backends.base import Backend, BackendError, BackendOptions, TransientError
from distalign.engine.cache import request_key
from distalign.parsers import SEQUENCE_LENGTH
from distalign.types import CONSTRAINT_KINDS, LETTERS, Capabilities, Completion, Constraint, Request

KINDS = ("uniform", "oracle", "garbage")
FORMATS = ("express_distribution", "sequence", "independent_samples", "model_logprobs", "option_likelihood")
CAPABILITIES = Capabilities(logprobs=True, max_top_logprobs=20, seed=True, json_output=True, option_scores=True)
_OPTION_LINE = re.compile(r"^\s*'?([A-Z])'?[.)]\s", re.MULTILINE)


def capabilities(model: str, options: BackendOptions) -> Capabilities:
    """What a fake model supports, without building it (used by ``--dry_run``)."""
    if model not in KINDS:
        raise ValueError(f"unknown fake model {model!r}; valid: {', '.join(f'fake/{k}' for k in KINDS)}")
    extra = dict(options.extra)
    batch = extra.get("batch_api", "0") == "1"
    kinds = tuple(k for k in extra.get("constraints", ",".join(CONSTRAINT_KINDS)).split(",") if k)
    return Capabilities(**{**CAPABILITIES.__dict__, "batch_api": batch, "constraints": kinds})


def make_backend(model: str, options: BackendOptions) -> FakeBackend:
    """The registry factory: ``fake/uniform``, ``fake/oracle`` or ``fake/garbage``."""
    return FakeBackend(model, options)


class FakeBackend(Backend):
    """One of the fake models (see the module docstring)."""

    def __init__(self, model: str, options: BackendOptions) -> None:
        self.capabilities = capabilities(model, options)
        self.kind = model
        self.name = f"fake/{model}"
        extra = dict(options.extra)
        self.latency = float(extra.get("latency_ms", 0)) / 1000
        self.jitter = float(extra.get("jitter_ms", 0)) / 1000
        self.fail_rate = float(extra.get("fail_rate", 0))
        self.fail_first = int(extra.get("fail_first", 0))
        self.fail_always = extra.get("fail_always", "0") == "1"
        self.retry_after = float(extra["retry_after"]) if "retry_after" in extra else None
        self.call_log = Path(extra["call_log"]) if "call_log" in extra else None
        self._rng = random.Random(int(extra.get("seed", 0)))
        self._calls: Counter[str] = Counter()

    async def complete(self, request: Request) -> Completion:
        """Answer ``request`` after the injected latency, or raise an injected failure."""
        key = request_key(self.name, request)
        self._calls[key] += 1
        self._log_call(key, request)
        if self.latency or self.jitter:
            await asyncio.sleep(self.latency + self.jitter * (int(key[-8:], 16) / 0xFFFFFFFF))
        if self.fail_always:
            raise BackendError("injected permanent failure")
        if self._calls[key] <= self.fail_first or (self.fail_rate and self._rng.random() < self.fail_rate):
            raise TransientError("injected transient failure (HTTP 503)", retry_after=self.retry_after)
        completion = answer(self.kind, request, int(key[:15], 16))
        prompt_chars = sum(len(m.content) for m in request.messages)
        return Completion(
            **{
                **completion.__dict__,
                "model_id": self.name,
                "input_tokens": math.ceil(prompt_chars / 4),
                "output_tokens": max(1, math.ceil(len(completion.text) / 4)),
            }
        )

    def _log_call(self, key: str, request: Request) -> None:
        if self.call_log is None:
            return
        meta = dict(request.meta)
        line = json.dumps({"key": key, "qid": meta.get("qid", ""), "sample_index": request.sample_index})
        with open(self.call_log, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")


def answer(kind: str, request: Request, seed: int) -> Completion:
    """The fake answer of ``kind`` to ``request`` (draws from a Generator seeded by ``seed``)."""
    if kind == "garbage":
        return garbage(request)
    probs = _truth(request) if kind == "oracle" else None
    if probs is None:
        k = len(_letters(request)) or 2
        probs = [1.0 / k] * k
    return in_format(request, probs, np.random.default_rng(seed))


def in_format(request: Request, probs: list[float], rng: np.random.Generator) -> Completion:
    """A completion expressing ``probs`` (over A, B, ...) in the format ``request`` asks for."""
    letters = LETTERS[: len(probs)]
    if request.continuations:
        return Completion(continuation_logprobs=tuple(math.log(max(p, 1e-12)) for p in probs))
    if request.constraint is not None:
        return Completion(text=constrained(request.constraint, probs, rng), finish_reason="stop")
    if request.top_logprobs:
        top = sorted(((L, math.log(p)) for L, p in zip(letters, probs, strict=True) if p > 0), key=lambda t: -t[1])
        return Completion(text=top[0][0], top_logprobs=tuple(top[: request.top_logprobs]), finish_reason="length")
    fmt = _format(request)
    if fmt == "express_distribution":
        return Completion(text=json.dumps({L: f"{100 * p:.1f}%" for L, p in zip(letters, probs, strict=True)}))
    weights = np.asarray(probs, dtype=float) / sum(probs)
    if fmt == "sequence":
        return Completion(text=" ".join(rng.choice(list(letters), size=SEQUENCE_LENGTH, p=weights)))
    return Completion(text=str(rng.choice(list(letters), p=weights)))


def constrained(constraint: Constraint, probs: list[float], rng: np.random.Generator) -> str:
    """A reply matching ``constraint`` that expresses ``probs`` (over A, B, ...).

    >>> constrained(Constraint("regex", "[AB]( [AB]){29}"), [1.0, 0.0], np.random.default_rng(0))[:7]
    'A A A A'
    """
    letters = list(LETTERS[: len(probs)])
    as_json = constraint.kind == "json_schema"
    if as_json and "answers" not in json.loads(constraint.spec).get("properties", {}):  # V-S: a percentage each
        return json.dumps({L: round(100 * p, 1) for L, p in zip(letters, probs, strict=True)})
    if sum(probs) > 0:
        answers = [str(a) for a in rng.choice(letters, size=SEQUENCE_LENGTH, p=np.asarray(probs) / sum(probs))]
    else:
        answers = letters[:1] * SEQUENCE_LENGTH
    return json.dumps({"answers": answers}) if as_json else " ".join(answers)


def garbage(request: Request) -> Completion:
    """Malformed output in every format: no letters, an unbalanced dict, wrong-length scores.

    Under a constraint the reply is well-formed but useless: zero percentages, or one letter repeated.
    """
    if request.constraint is not None:
        k = len(_letters(request)) or 2
        return Completion(text=constrained(request.constraint, [0.0] * k, np.random.default_rng(0)))
    if request.continuations:
        return Completion(continuation_logprobs=())
    if request.top_logprobs:
        return Completion(text="Sure", top_logprobs=(("Sure", -0.1), ("I", -2.5), ("As", -3.0)))
    if _format(request) == "express_distribution":
        return Completion(text="{'A': lots, 'B': hardly any")
    return Completion(text="I'm sorry, I cannot answer that.")


def _truth(request: Request) -> list[float] | None:
    raw = dict(request.meta).get("truth")
    if not raw:
        return None
    values = json.loads(raw)
    if not isinstance(values, list) or not values or sum(values) <= 0:
        return None
    return [float(v) for v in values]


def _letters(request: Request) -> tuple[str, ...]:
    """Option letters: from ``meta["letters"]``, ``request.letters``, or the option lines of the prompt."""
    meta = dict(request.meta)
    if meta.get("letters"):
        return tuple(meta["letters"])
    if request.letters:
        return request.letters
    found = dict.fromkeys(_OPTION_LINE.findall(request.messages[-1].content if request.messages else ""))
    return tuple(found)


def _format(request: Request) -> str:
    """The answer format a text request asks for: a known ``meta["output_type"]``, else a guess from the prompt.

    A method the fake does not know (one added later) is answered in the format its prompt asks for: a JSON
    object, 30 letters, or one letter.
    """
    meta = dict(request.meta)
    if meta.get("output_type") in FORMATS:
        return meta["output_type"]
    prompt = " ".join(m.content for m in request.messages).lower()
    if "dictionary" in prompt or "json" in prompt:
        return "express_distribution"
    if str(SEQUENCE_LENGTH) in prompt and request.max_tokens > 8:
        return "sequence"
    return "independent_samples"
