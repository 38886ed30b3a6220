"""Tensor helpers of the Hugging Face backend: padding, shared prefixes, seeded sampling.

Pure functions over token rows and log-probabilities (docs/original.md §3.2). Sampling is seeded per request
(seed + sample index), so a request draws the same text alone or in a batch.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch

from distalign.backends._tokens import sample_seed
from distalign.types import Request


def seeded_generator(request: Request) -> torch.Generator:
    """A CPU generator seeded by the request's seed and sample index."""
    return torch.Generator().manual_seed(sample_seed(request.seed, request.sample_index))


def sample(logits: torch.Tensor, temperature: float | None, generator: torch.Generator) -> int:
    """A token id from logits or log-probabilities: greedy at temperature 0, else drawn at ``temperature``.

    ``None`` means temperature 1. The draw uses ``generator`` (a CPU generator: ``logits`` must be on the CPU).
    """
    t = 1.0 if temperature is None else temperature
    if t <= 0:
        return int(torch.argmax(logits))
    probs = torch.softmax(logits / t, dim=-1)
    return int(torch.multinomial(probs, 1, generator=generator))


def logsumexp(logprobs: torch.Tensor, ids: Sequence[int]) -> float:
    """Log of the summed probability of the token ``ids`` (``-inf`` for none)."""
    return float(torch.logsumexp(logprobs[list(ids)], dim=0)) if ids else -math.inf


def left_pad(rows: Sequence[Sequence[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Token ids and attention mask of rows padded on the left to one width."""
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        ids[i, width - len(row) :] = torch.tensor(row, dtype=torch.long)
        mask[i, width - len(row) :] = 1
    return ids, mask


def common_prefix(rows: Sequence[Sequence[int]]) -> int:
    """Length of the longest common prefix of token rows.

    >>> common_prefix([[1, 2, 3], [1, 2, 4], [1, 2]])
    2
    """
    first, n = rows[0], min(len(r) for r in rows)
    for i in range(n):
        if any(r[i] != first[i] for r in rows):
            return i
    return n


def prefix_clusters(rows: Sequence[Sequence[int]], threshold: int) -> tuple[list[list[int]], list[int]]:
    """Indices of rows grouped by a shared prefix of at least ``threshold`` tokens, and the ungrouped rest.

    >>> prefix_clusters([[1, 2, 3], [9, 9], [1, 2, 4], [5]], threshold=2)
    ([[0, 2]], [3, 1])
    """
    order = sorted(range(len(rows)), key=lambda i: list(rows[i]))
    groups, current = [], [order[0]]
    for a, b in zip(order, order[1:], strict=False):
        if common_prefix([rows[a], rows[b]]) >= threshold:
            current.append(b)
        else:
            groups.append(current)
            current = [b]
    groups.append(current)
    return [g for g in groups if len(g) > 1], [i for g in groups if len(g) == 1 for i in g]


def cache_of(output: Any) -> Any:
    """The KV cache of a model output (``cache`` in transformers 5, ``past_key_values`` before)."""
    cache = getattr(output, "cache", None)
    return cache if cache is not None else output.past_key_values
