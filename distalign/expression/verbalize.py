"""``express_distribution`` (V, verbalize): the model states the distribution as JSON (SPEC §3.3, §11.1.4, §11.2).

The prompt asks for a JSON object mapping each option letter to a whole percentage. The request itself is
an ordinary text request (no backend-specific JSON mode), so every backend runs it the same way. The reply
is read by :func:`distalign.parsers.parse_verbalized`, which never evaluates it: the first ``{...}`` block,
quoted or bare keys, percentages or fractions, renormalised, with missing letters and the raw total noted.
A reply without a usable object is a parse failure that keeps the raw text (never an all-zero vector).
"""

from __future__ import annotations

from distalign.expression.base import (
    ExpressionMethod,
    MethodConfig,
    count_problem,
    request_meta,
    seed_for,
    temperature_for,
)
from distalign.parsers import parse_verbalized
from distalign.prompts import STOP_SEQUENCES
from distalign.types import Capabilities, Completion, Message, Parsed, Request, SurveyItem


class Verbalize(ExpressionMethod):
    """A verbalized percentage distribution."""

    output_type = "express_distribution"

    def unsupported(self, caps: Capabilities) -> str | None:
        """Any text-generating backend will do."""
        return None

    def requests(self, item: SurveyItem, messages: tuple[Message, ...], cfg: MethodConfig, *,
                 caps: Capabilities | None = None, task: str = "") -> list[Request]:
        """One free-text request."""
        return [Request(messages, max_tokens=cfg.max_tokens, temperature=temperature_for(cfg, caps),
                        stop=STOP_SEQUENCES, seed=seed_for(cfg, caps), meta=request_meta(item, self.output_type, task))]

    def parse(self, item: SurveyItem, completions: list[Completion]) -> Parsed:
        """The stated distribution, renormalised."""
        if problem := count_problem(completions):
            return Parsed(None, False, problem)
        return parse_verbalized(completions[0].text, item.letters)
