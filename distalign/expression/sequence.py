"""``sequence`` (Seq): 30 simulated answers in one reply, counted (SPEC §3.1, §11.1.5, §11.2; the paper's method).

One request at the run's temperature; the reply is read by :func:`distalign.parsers.parse_sequence`: only
the text after the last ``Answer:`` counts, only tokens that are option letters count, the first 30 are
used and their frequencies form the distribution. Short or partly invalid replies are kept with a note in
``Parsed.reason`` and the counts in ``Parsed.extra``; a reply without any answer letter is a parse failure
that keeps the raw text.
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
from distalign.parsers import parse_sequence
from distalign.prompts import STOP_SEQUENCES
from distalign.types import Capabilities, Completion, Message, Parsed, Request, SurveyItem


class Sequence(ExpressionMethod):
    """A sampled sequence of 30 answer letters."""

    output_type = "sequence"

    def unsupported(self, caps: Capabilities) -> str | None:
        """Any text-generating backend will do."""
        return None

    def requests(self, item: SurveyItem, messages: tuple[Message, ...], cfg: MethodConfig, *,
                 caps: Capabilities | None = None, task: str = "") -> list[Request]:
        """One free-text request."""
        return [Request(messages, max_tokens=cfg.max_tokens, temperature=temperature_for(cfg, caps),
                        stop=STOP_SEQUENCES, seed=seed_for(cfg, caps), meta=request_meta(item, self.output_type, task))]

    def parse(self, item: SurveyItem, completions: list[Completion]) -> Parsed:
        """Frequencies of the first 30 answer letters."""
        if problem := count_problem(completions):
            return Parsed(None, False, problem)
        return parse_sequence(completions[0].text, item.letters)
