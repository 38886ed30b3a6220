"""Local scoring throughput of the built-in model: batched vs unbatched, plus peak memory.

Runs the built-in ``local/smollm2-135m-instruct`` (offline) on N persona-style multiple-choice prompts
of about 500 tokens (the length of the paper's few-shot prompts) with ``model_logprobs`` requests, once
with ``batch_size=1`` (requests one after another) and once with concurrent requests micro-batched by
the backend (``--batch_size``; prompts of one group share their instructions and examples, whose tokens
the backend then computes once per batch). Prints prompts/s, the ratio, and the process's peak RSS.

    python bench/bench_local.py [--n 32] [--batch_size 8] [--dtype float32]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import time

from distalign.backends import BackendOptions, get_backend
from distalign.backends.hf import HFBackend
from distalign.types import Message, Request

EXAMPLES = [
    (
        "How satisfied are you with the public transportation options where you live?",
        ["Very satisfied", "Somewhat satisfied", "Not too satisfied", "Not at all satisfied", "Refused"],
        "B",
    ),
    ("How often, if ever, do you get news from podcasts?", ["Often", "Sometimes", "Rarely", "Never", "Refused"], "D"),
    (
        "Would you favor or oppose a four-day work week for most full-time jobs in your area?",
        ["Favor", "Oppose", "Refused"],
        "A",
    ),
    (
        "How much, if at all, do you trust the weather forecasts of your local TV stations?",
        ["A great deal", "A fair amount", "Not too much", "Not at all", "Refused"],
        "B",
    ),
    (
        "Compared with ten years ago, are people in your community more or less likely to volunteer their time?",
        ["More likely", "Less likely", "About as likely", "Refused"],
        "B",
    ),
]
GROUPS = ["Democrat", "Republican", "Male", "Female", "Black", "White", "Asian", "Hispanic"]
TOPICS = [
    "public libraries",
    "local newspapers",
    "city parks",
    "online banking",
    "electric cars",
    "remote work",
    "community colleges",
    "public radio",
]


def block(question: str, options: list[str], answer: str = "") -> str:
    lines = [f"Question: {question}"] + [f"{chr(65 + i)}. {o}" for i, o in enumerate(options)]
    return "\n".join(lines + [f"Answer: {answer}".rstrip()])


def prompts(n: int) -> list[Request]:
    shots = "\n\n---\n\n".join(block(*e) for e in EXAMPLES)
    out = []
    for i in range(n):
        group, topic = GROUPS[(i // len(TOPICS)) % len(GROUPS)], TOPICS[i % len(TOPICS)]  # group-major, as a run
        question = block(
            f"How much do you trust {topic} to give you accurate information?",
            ["A great deal", "A fair amount", "Not too much", "Not at all", "Refused"],
        )
        text = (
            f'Answer as a randomly chosen member of the group "{group}" would: reply with one letter.\n\n'
            f"Examples of the format (other questions, other groups):\n\n{shots}\n\n---\n\n"
            f'Now answer for members of the group "{group}" (question {i}).\n\n{question}'
        )
        out.append(
            Request(
                (Message("system", "You are a helpful, careful assistant."), Message("user", text)),
                max_tokens=1,
                top_logprobs=20,
                letters=("A", "B", "C", "D", "E"),
            )
        )
    return out


async def unbatched(backend: HFBackend, requests: list[Request]) -> tuple[float, float]:
    start, cpu = time.perf_counter(), time.process_time()
    for r in requests:
        await backend.complete(r)
    return time.perf_counter() - start, time.process_time() - cpu


async def batched(backend: HFBackend, requests: list[Request]) -> tuple[float, float]:
    start, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(backend.complete(r) for r in requests))
    return time.perf_counter() - start, time.process_time() - cpu


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def main(n: int, batch_size: int, dtype: str) -> None:
    start = time.perf_counter()
    backend = get_backend("local/smollm2-135m-instruct", BackendOptions(batch_size=batch_size, dtype=dtype))
    assert isinstance(backend, HFBackend)
    print(f"model load: {time.perf_counter() - start:.1f} s  ({backend.cache_identity()}, device {backend.device})")
    requests = prompts(n)
    tokens = sum(len(backend.encode(r)) for r in requests) / n
    await backend.complete(requests[0])  # warm-up (letter token table, first-call allocations)
    backend.batch_size = 1
    t_single, c_single = await unbatched(backend, requests)
    backend.batch_size = batch_size
    t_batch, c_batch = await batched(backend, requests)
    await backend.aclose()
    print(f"{n} prompts of ~{tokens:.0f} tokens, model_logprobs (exact letter probabilities)")
    print(f"unbatched (batch_size=1): {n / t_single:6.2f} prompts/s  ({t_single:.1f} s wall, {c_single:.1f} s CPU)")
    print(
        f"batched   (batch_size={batch_size}): {n / t_batch:6.2f} prompts/s  ({t_batch:.1f} s wall, "
        f"{c_batch:.1f} s CPU)"
    )
    print(
        f"ratio batched/unbatched: {t_single / t_batch:.2f}x wall, {c_single / c_batch:.2f}x CPU "
        "(CPU time is the steadier figure on a shared machine)"
    )
    print(f"peak RSS: {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=32)
    parser.add_argument("--batch_size", type=int, default=8)
    parser.add_argument("--dtype", default="auto", choices=["auto", "float32", "bfloat16"])
    args = parser.parse_args()
    asyncio.run(main(args.n, args.batch_size, args.dtype))
