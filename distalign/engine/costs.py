"""Token estimates and a small price table, for ``--dry_run`` and the closing summary of a run.

Tokens are estimated cheaply as characters / 4 (no tokenizer dependency); billed usage reported
by the backends replaces the estimate in the summary of a real run, and each expression method says how many
tokens it expects a reply to take. Prices are list prices in US dollars per million tokens (input, output) as
published by the providers; they change, so treat the figures as estimates. A model whose backend declares it
unpriced (:attr:`~distalign.types.Capabilities.priced`: local, in-process and fake models) costs $0; a priced
model missing from the table shows "cost unknown" rather than a guess.

>>> estimate_tokens("What is the capital of France?")
8
>>> cost("openai/gpt-4o-mini-2024-07-18", 1_000_000, 0)
0.15
>>> cost("fake/oracle", 10, 10, priced=False), cost("openai/some-new-model", 10, 10)
(0.0, None)
>>> format_cost(None), format_cost(0.0123)
('cost unknown', '$0.01')
"""

from __future__ import annotations

import math

from distalign.names import resolve_model

# USD per 1M tokens (input, output); longest matching prefix wins (dated snapshots match their family).
PRICES: dict[str, tuple[float, float]] = {
    # the paper's models
    "openai/gpt-3.5-turbo-0125": (0.50, 1.50),
    "openai/gpt-4-0613": (30.0, 60.0),
    "anthropic/claude-3-haiku-20240307": (0.25, 1.25),
    "anthropic/claude-3-opus-20240229": (15.0, 75.0),
    # a few current models
    "openai/gpt-4o": (2.50, 10.0),
    "openai/gpt-4o-mini": (0.15, 0.60),
    "openai/gpt-4.1": (2.0, 8.0),
    "openai/gpt-4.1-mini": (0.40, 1.60),
    "openai/gpt-4.1-nano": (0.10, 0.40),
    "anthropic/claude-3-5-haiku": (0.80, 4.0),
    "anthropic/claude-3-5-sonnet": (3.0, 15.0),
    "anthropic/claude-3-7-sonnet": (3.0, 15.0),
    "anthropic/claude-sonnet-4": (3.0, 15.0),
    "anthropic/claude-opus-4": (15.0, 75.0),
}


def estimate_tokens(text: str) -> int:
    """A cheap token estimate: one token per four characters, rounded up."""
    return math.ceil(len(text) / 4)


def price(model: str, priced: bool = True) -> tuple[float, float] | None:
    """(input, output) USD per 1M tokens of a model; ``(0, 0)`` when unpriced; ``None`` if unknown.

    >>> price("gpt-4"), price("local/smollm2-135m-instruct", priced=False)
    ((30.0, 60.0), (0.0, 0.0))
    """
    if not priced:
        return (0.0, 0.0)
    full = resolve_model(model)
    matches = [k for k in PRICES if full == k or full.startswith(k + "-")]
    return PRICES[max(matches, key=len)] if matches else None


def cost(model: str, input_tokens: int, output_tokens: int, priced: bool = True) -> float | None:
    """Estimated USD cost of a token count (``None`` when the model's price is unknown)."""
    p = price(model, priced)
    if p is None:
        return None
    return round((input_tokens * p[0] + output_tokens * p[1]) / 1e6, 6)


def format_cost(usd: float | None) -> str:
    """``$1.23``, or ``cost unknown``."""
    return "cost unknown" if usd is None else f"${usd:,.2f}"
