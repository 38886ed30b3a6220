"""``independent_samples`` (beyond the paper): ``n`` separate single-answer replies, counted.

This is the honest "simulate respondents" measurement: instead of one reply listing 30 answers (whose
letters are not independent draws), the same single-answer prompt as ``model_logprobs`` is sent
``cfg.n_samples`` times (``sample_index`` 0..n-1, seeds ``cfg.seed + i`` where the backend accepts seeds) and
the frequencies of the answer letters form the distribution (:func:`distalign.parsers.parse_samples`).
Replies without an answer letter are counted in ``Parsed.extra``; if none has one, the parse fails.
A backend that rejects ``temperature`` samples at its default temperature.
"""

from __future__ import annotations

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
from distalign.parsers import parse_samples
from distalign.prompts import STOP_SEQUENCES
from distalign.types import Audience, Capabilities, Completion, Message, Parsed, Request, SurveyItem

MAX_TOKENS = 16  # room for "Answer: B" or "B. <option text>"; only the first answer letter counts


class Samples(ExpressionMethod):
    """Independent single-answer samples."""

    output_type = "independent_samples"
    answer_field = "the letter of one option"
    prompt_of = "model_logprobs"  # the very same prompt: only the reading of the reply differs
    output_tokens = 2

    def task_sentence(self, audience: Audience | None, target: str) -> str:
        """One letter, as one randomly chosen respondent."""
        return one_answer_sentence(audience, target)

    def example_answer(self, item: SurveyItem, rng: np.random.Generator) -> str:
        """One letter drawn from the truth."""
        return item.letters[one_draw(item, rng)]

    def unsupported(self, caps: Capabilities) -> str | None:
        """Any text-generating backend will do."""
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
        """``cfg.n_samples`` identical prompts that differ in ``sample_index`` (and seed)."""
        if cfg.n_samples < 1:
            raise ValueError(f"independent_samples needs n_samples >= 1, got {cfg.n_samples}")
        meta = request_meta(item, self.output_type, task)
        temperature = temperature_for(cfg, caps)
        return [
            Request(
                messages,
                max_tokens=MAX_TOKENS,
                temperature=temperature,
                stop=STOP_SEQUENCES,
                seed=seed_for(cfg, caps, i),
                sample_index=i,
                meta=meta,
            )
            for i in range(cfg.n_samples)
        ]

    def parse(self, item: SurveyItem, completions: list[Completion]) -> Parsed:
        """Frequencies of the samples' answer letters."""
        if not completions:
            return Parsed(None, False, count_problem(completions, 1).replace("expected 1", "expected at least 1"))
        return parse_samples([c.text for c in completions], item.letters)
