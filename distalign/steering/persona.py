"""``persona`` (task1): the question for a named group; GlobalValues names the country (docs/original.md §4.2)."""

from __future__ import annotations

from distalign.datasets.base import SurveyDataset
from distalign.expression import ExpressionMethod
from distalign.prompts import question_block
from distalign.steering.base import SteeringConfig, audience, templated
from distalign.types import SurveyItem


def persona(ds: SurveyDataset, item: SurveyItem, method: ExpressionMethod, cfg: SteeringConfig, examples: str) -> str:
    """task1: the question for a named group (GlobalValues: a country)."""
    aud = audience(ds, item, cfg)
    instruction = f"{ds.opening} {method.task_sentence(aud, 'it')}"
    transition = f"Now answer this question for {aud.members}, in the same format."
    return templated(cfg, examples, instruction, transition, question_block(ds, item, aud.member))
