"""``option_likelihood`` (beyond the paper; local models only): score each option's text as the reply.

One request carries the option texts as ``continuations``; an exact local backend returns each one's
length-normalised log-likelihood as the assistant's reply to the prompt, and a softmax over them is the
distribution (:func:`distalign.parsers.parse_option_scores`). Nothing is sampled, so the request sends no
temperature or seed. Backends that cannot score given continuations (all APIs) are unsupported.
"""

from __future__ import annotations

import numpy as np

from distalign.expression.base import (
    ExpressionMethod,
    MethodConfig,
    count_problem,
    one_draw,
    random_person,
    request_meta,
)
from distalign.parsers import parse_option_scores
from distalign.types import Audience, Capabilities, Completion, Message, Parsed, Request, SurveyItem


class OptionLikelihood(ExpressionMethod):
    """Length-normalised likelihood of each option text."""

    output_type = "option_likelihood"
    answer_field = "the text of one option"
    templated = False  # the option texts are scored: no format examples
    output_tokens = 0

    def task_sentence(self, audience: Audience | None, target: str) -> str:
        """The chosen option's text, as one randomly chosen respondent."""
        return (
            f"Answer {target} as {random_person(audience)} would: reply with the full text of that person's "
            "chosen option, without its letter, and nothing else."
        )

    def example_answer(self, item: SurveyItem, rng: np.random.Generator) -> str:
        """The text of one option drawn from the truth."""
        return item.options[one_draw(item, rng)].strip()

    def unsupported(self, caps: Capabilities) -> str | None:
        """Needs a backend that scores continuations exactly (a local model)."""
        if not caps.option_scores:
            return "the model cannot score given answer texts (option_likelihood needs a local model)"
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
        """One scoring request over the option texts (stripped, as the prompt shows them)."""
        return [
            Request(
                messages,
                max_tokens=1,
                temperature=None,
                letters=item.letters,
                continuations=tuple(o.strip() for o in item.options),
                meta=request_meta(item, self.output_type, task),
            )
        ]

    def parse(self, item: SurveyItem, completions: list[Completion]) -> Parsed:
        """Softmax of the option scores."""
        if problem := count_problem(completions):
            return Parsed(None, False, problem)
        return parse_option_scores(completions[0].continuation_logprobs, item.letters)
