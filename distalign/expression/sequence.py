"""``sequence`` (Seq): 30 simulated answers in one reply, counted.

Mirrors docs/original.md §3.1, §11.1.5, §11.2; the paper's method.

One request at the run's temperature; the reply is read by :func:`distalign.parsers.parse_sequence`: only
the text after the last ``Answer:`` counts, only tokens that are option letters count, the first 30 are
used and their frequencies form the distribution. Short or partly invalid replies are kept with a note in
``Parsed.reason`` and the counts in ``Parsed.extra``; a reply without any answer letter is a parse failure
that keeps the raw text.
"""

from __future__ import annotations

import numpy as np

from distalign.expression.base import FreeTextMethod, people, truth_probs
from distalign.parsers import SEQUENCE_LENGTH as N
from distalign.parsers import parse_sequence
from distalign.types import Audience, SurveyItem


class Sequence(FreeTextMethod):
    """A sampled sequence of 30 answer letters."""

    output_type = "sequence"
    parser = staticmethod(parse_sequence)
    answer_field = f"{N} option letters separated by spaces"
    output_tokens = 60

    def task_sentence(self, audience: Audience | None, target: str) -> str:
        """Simulate 30 respondents: their letters, space-separated."""
        return (
            f"Imagine that {N} randomly chosen {people(audience)} answer {target}. Reply with their {N} answers: "
            f"{N} option letters separated by spaces, one letter per person, and nothing else."
        )

    def example_answer(self, item: SurveyItem, rng: np.random.Generator) -> str:
        """30 letters drawn from the truth."""
        p = truth_probs(item)
        return " ".join(item.letters[i] for i in rng.choice(len(p), size=N, p=p))
