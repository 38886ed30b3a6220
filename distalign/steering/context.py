"""``context`` (task2, beyond the paper's headline): the persona prompt plus the group's own distribution.

A context line before the question states how the group answered it (docs/original.md §4.4): can the model
reproduce a distribution it is given? Under the shuffled-labels ablation the line lists the options in a seeded
random order.
"""

from __future__ import annotations

from distalign.datasets.base import SurveyDataset
from distalign.expression import ExpressionMethod
from distalign.prompts import context_line, question_block
from distalign.steering.base import SteeringConfig, audience, order, templated
from distalign.types import SurveyItem


def context_given(
    ds: SurveyDataset, item: SurveyItem, method: ExpressionMethod, cfg: SteeringConfig, examples: str
) -> str:
    """task2: the persona prompt with the group's own distribution for the question in a context line."""
    aud = audience(ds, item, cfg)
    instruction = (
        f"{ds.opening} A context line before it states how {aud.members} answered it in a "
        f"survey; use that information. {method.task_sentence(aud, 'it')}"
    )
    transition = f"Now answer this question for {aud.members}, in the same format, using its context line."
    target = context_line(ds, item, aud.members, order(cfg, item, method)) + "\n" + question_block(ds, item, aud.member)
    return templated(cfg, examples, instruction, transition, target)
