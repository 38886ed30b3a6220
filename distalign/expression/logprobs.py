"""``model_logprobs`` (Log-p): the first answer token's probabilities over the option letters.

Mirrors docs/original.md §3.2, §11.1.6.

One request asks for a single letter (``max_tokens=1``) with ``top_logprobs`` alternatives (the run's value,
capped by the backend's maximum) and the option ``letters``, which exact local backends score directly.
Every tokenization of a letter (``"A"``, ``" A"``, ``"A."``) is summed; the probability mass the letters cover
and the letters never seen are kept in ``Parsed.extra``. Backends without log-probabilities are unsupported.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from distalign.expression.base import (
    ExpressionMethod,
    MethodConfig,
    count_problem,
    one_answer_sentence,
    one_draw,
    request_meta,
    seed_for,
    temperature_for,
)
from distalign.parsers import first_answer, parse_logprobs
from distalign.types import Audience, Capabilities, Completion, Message, Parsed, Request, SurveyItem

MAX_TOKENS = 1  # the answer letter is the first generated token


class Logprobs(ExpressionMethod):
    """Next-token log-probabilities of the option letters."""

    output_type = "model_logprobs"
    answer_field = "the letter of one option"
    output_tokens = 1

    def task_sentence(self, audience: Audience | None, target: str) -> str:
        """One letter, as one randomly chosen respondent."""
        return one_answer_sentence(audience, target)

    def example_answer(self, item: SurveyItem, rng: np.random.Generator) -> str:
        """One letter drawn from the truth."""
        return item.letters[one_draw(item, rng)]

    def unsupported(self, caps: Capabilities) -> str | None:
        """Needs token log-probabilities with alternatives (or exact letter scores)."""
        if not caps.logprobs:
            return "the model returns no token log-probabilities"
        if caps.max_top_logprobs < 1 and not caps.exact_letter_probs:
            return "the model returns log-probabilities without alternative tokens (top_logprobs)"
        return None

    def requests(
        self,
        item: SurveyItem,
        messages: tuple[Message, ...],
        cfg: MethodConfig,
        *,
        caps: Capabilities | None = None,
        task: str = "",
    ) -> list[Request]:
        """One single-letter request with the first token's alternatives."""
        top = cfg.top_logprobs if caps is None else min(cfg.top_logprobs, caps.max_top_logprobs)
        meta = request_meta(item, self.output_type, task)
        return [
            Request(
                messages,
                max_tokens=MAX_TOKENS,
                temperature=temperature_for(cfg, caps),
                top_logprobs=top,
                letters=item.letters,
                seed=seed_for(cfg, caps),
                meta=meta,
            )
        ]

    def record_extra(self, item: SurveyItem, completions: list[Completion]) -> dict[str, Any]:
        """The sampled first token as a one-hot vector (the original's ``actual_results_sampled``), if a letter."""
        sampled = first_answer(completions[0].text, item.letters) if completions else ""
        return {"actual_results_sampled": {L: float(L == sampled) for L in item.letters}} if sampled else {}

    def parse(self, item: SurveyItem, completions: list[Completion]) -> Parsed:
        """Letter probabilities from the first token's alternatives; the sampled text is kept as response."""
        if problem := count_problem(completions):
            return Parsed(None, False, problem)
        parsed = parse_logprobs(completions[0].top_logprobs, item.letters)
        return replace(parsed, response=completions[0].text)
