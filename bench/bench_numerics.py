"""What precision and batch neighbours do to the built-in model's answers (not a speed benchmark).

1. **bf16 vs float32 Log-p**: the same N persona prompts scored in both dtypes; per-question total variation
   between the two letter distributions (renormalised over the letters): median and max.
2. **batch neighbours**: N free-text requests (seeded, temperature 1, and greedy) decoded one at a time
   (``batch_size=1``) and continuously batched (``--batch_size``), in each dtype: the fraction of identical
   texts, and where they differ, the mean position of the first different character. A row's floating-point
   sums can depend on how many rows a matrix product holds, so a sampled token near a boundary can flip.

    python bench/bench_numerics.py [--n 32] [--gen 16] [--max_tokens 64] [--batch_size 8]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import statistics
from dataclasses import replace

from bench_prompts import free_text, persona_prompts

from distalign.backends import BackendOptions, get_backend
from distalign.types import Completion, Request

MODEL = "local/smollm2-135m-instruct"


async def answers(dtype: str, batch: int, requests: list[Request], one_by_one: bool) -> list[Completion]:
    backend = get_backend(MODEL, BackendOptions(batch_size=batch, dtype=dtype))
    if one_by_one:
        out = [await backend.complete(r) for r in requests]
    else:
        out = list(await asyncio.gather(*(backend.complete(r) for r in requests)))
    await backend.aclose()
    return out


def letter_dist(c: Completion) -> list[float]:
    probs = [math.exp(lp) for _, lp in c.top_logprobs]
    total = sum(probs)
    return [p / total for p in probs]


def tv(a: list[float], b: list[float]) -> float:
    return 0.5 * sum(abs(x - y) for x, y in zip(a, b, strict=True))


def first_difference(a: str, b: str) -> int:
    return next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))


async def precision(n: int, batch: int) -> None:
    requests = persona_prompts(n)
    f32 = await answers("float32", batch, requests, False)
    bf16 = await answers("bfloat16", batch, requests, False)
    tvs = [tv(letter_dist(a), letter_dist(b)) for a, b in zip(f32, bf16, strict=True)]
    print(
        f"Log-p bf16 vs float32, {n} prompts: per-question TV median {statistics.median(tvs):.4f}, max {max(tvs):.4f}"
    )


async def neighbours(gen: int, max_tokens: int, batch: int) -> None:
    sampled = free_text(gen, max_tokens)
    greedy = [replace(r, temperature=0.0) for r in sampled]
    for dtype in ("float32", "bfloat16"):
        for label, requests in (("sampled", sampled), ("greedy", greedy)):
            alone = await answers(dtype, 1, requests, True)
            together = await answers(dtype, batch, requests, False)
            same = [a.text == b.text for a, b in zip(alone, together, strict=True)]
            diffs = [first_difference(a.text, b.text) for a, b, s in zip(alone, together, same, strict=True) if not s]
            where = f", first difference at character {statistics.mean(diffs):.0f} on average" if diffs else ""
            print(f"{dtype:8} {label:7} batch {batch} vs one at a time: {sum(same)}/{len(same)} identical texts{where}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--n", type=int, default=32)
    parser.add_argument("--gen", type=int, default=16)
    parser.add_argument("--max_tokens", type=int, default=64)
    parser.add_argument("--batch_size", type=int, default=8)
    args = parser.parse_args()
    asyncio.run(precision(args.n, args.batch_size))
    asyncio.run(neighbours(args.gen, args.max_tokens, args.batch_size))


if __name__ == "__main__":
    main()
