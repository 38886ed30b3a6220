"""``express_distribution`` (V, verbalize): the model states the distribution as JSON.

Mirrors docs/original.md §3.3, §11.1.4, §11.2.

The prompt asks for a JSON object mapping each option letter to a whole percentage. The request itself is
an ordinary text request (no backend-specific JSON mode), so every backend runs it the same way. The reply
is read by :func:`distalign.parsers.parse_verbalized`, which never evaluates it: the first ``{...}`` block,
quoted or bare keys, percentages or fractions, renormalised, with missing letters and the raw total noted.
A reply without a usable object is a parse failure that keeps the raw text (never an all-zero vector).
"""

from __future__ import annotations

import json

import numpy as np

from distalign.expression.base import FreeTextMethod, people, truth_probs
from distalign.parsers import parse_verbalized
from distalign.prompts import percentages
from distalign.types import Audience, SurveyItem


class Verbalize(FreeTextMethod):
    """A verbalized percentage distribution."""

    output_type = "express_distribution"
    parser = staticmethod(parse_verbalized)
    answer_field = "a JSON object mapping each option letter to a percentage"

    def task_sentence(self, audience: Audience | None, target: str) -> str:
        """Estimate the group's distribution as a JSON object of whole percentages."""
        return (
            f"Estimate how {people(audience)} would answer {target}: reply with a JSON object that maps each "
            "option letter to the percentage of them who would choose that option. Use whole numbers that add "
            "up to 100, and write nothing else."
        )

    def example_answer(self, item: SurveyItem, rng: np.random.Generator) -> str:
        """The true distribution as JSON percentages (not sampled)."""
        truth_probs(item)  # raises for an item without a distribution
        assert item.truth is not None
        return json.dumps(dict(zip(item.letters, percentages(item.truth.probs), strict=True)))

    def expected_output_tokens(self, n_options: int) -> int:
        """About 8 tokens per ``"A": 25,`` pair, plus braces."""
        return 6 + 8 * n_options
