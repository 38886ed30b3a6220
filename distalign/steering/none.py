"""``none`` (task0): the question with the template's format examples, no group (docs/original.md §4.1)."""

from __future__ import annotations

from distalign.datasets.base import SurveyDataset
from distalign.expression import ExpressionMethod
from distalign.prompts import question_block
from distalign.steering.base import SteeringConfig, templated
from distalign.types import SurveyItem


def no_steering(
    ds: SurveyDataset, item: SurveyItem, method: ExpressionMethod, cfg: SteeringConfig, examples: str
) -> str:
    """task0: the question with format examples, no group."""
    instruction = f"{ds.opening} {method.task_sentence(None, 'it')}"
    transition = "Now answer this question in the same format."
    return templated(cfg, examples, instruction, transition, question_block(ds, item))
