"""Steering methods: how a prompt is pointed at a demographic group (docs/original.md §4.1-4.4, §11.1.9/11/16/17).

Four methods, one file each, in the registry :data:`STEERING`, keyed by the internal names of
:data:`distalign.names.TASK_STEERING` (``--task`` number -> name); each entry carries its prompt builder and the
template file of its format examples:

* ``none`` (task0): instruction + the template's five format examples + the question;
* ``persona`` (task1): the same, naming the group (GlobalValues: the *country name*, never "0/1/2");
* ``context`` (task2): the persona prompt plus a context line stating the group's own distribution for the
  target question (can the model reproduce a stated distribution?);
* ``fewshot`` (task3): five related questions, each with the group's distribution in a context line and an
  answer in the output format, then the target question without its distribution.

Few-shot examples follow the *intended* rule of docs/original.md §4.3 (the original's selection was broken,
§11.1.9); see :func:`select_easy_hard` and :func:`select_easy`. Example answers are drawn from a numpy Generator
seeded by a stable hash of (seed, dataset, question, group, demographic, prompt key, task), so a prompt never
depends on the order in which cells are processed (§11.1.17). The prompt key is the expression method's
:attr:`~distalign.expression.base.ExpressionMethod.prompt_key`: ``independent_samples`` hashes as
``model_logprobs``, so both see the very same prompt and differ only in how the answer is read.

A builder is ``(dataset, item, method, config, examples) -> user prompt``; the dataset words its questions and audience,
the expression method words the answer (:mod:`distalign.prompts` assembles the parts).

Ablations: ``ficticious_group`` (group names -> Foo/Bar/Baz..., §4.4) and ``shuffled_labels`` (context
lines list the options in a seeded random order).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from distalign.datasets.base import SurveyDataset
from distalign.expression import ExpressionMethod, get_method
from distalign.prompts import SYSTEM_PROMPT, load_template, question_block
from distalign.steering.base import SteeringConfig, audience, persona_name, prompt_rng
from distalign.steering.context import context_given
from distalign.steering.fewshot import few_shot_examples, fewshot, select_easy, select_easy_hard
from distalign.steering.none import no_steering
from distalign.steering.persona import persona
from distalign.types import Message, SurveyItem

__all__ = [
    "STEERING",
    "Builder",
    "SteeringConfig",
    "SteeringMethod",
    "audience",
    "build_messages",
    "build_prompt",
    "few_shot_examples",
    "get_steering",
    "persona_name",
    "prompt_rng",
    "select_easy",
    "select_easy_hard",
]

Builder = Callable[[SurveyDataset, SurveyItem, ExpressionMethod, SteeringConfig, str], str]


@dataclass(frozen=True)
class SteeringMethod:
    """A registry entry: the prompt builder and the template file of its format examples.

    Attributes:
        build: ``(dataset, item, method, config, examples) -> user prompt``; ``examples`` is the text of the
            template file (the format description and five worked examples), "" when there is none.
        template_task: ``N`` of the ``prompt_task<N>.txt`` holding its format examples (``None``: the builder
            makes its own examples, as few-shot does).
    """

    build: Builder
    template_task: int | None


STEERING: dict[str, SteeringMethod] = {
    "none": SteeringMethod(no_steering, 0),
    "persona": SteeringMethod(persona, 1),
    "context": SteeringMethod(context_given, 2),
    "fewshot": SteeringMethod(fewshot, None),
}


def get_steering(name: str) -> SteeringMethod:
    """The registry entry of a steering method (``--task`` numbers map to names in :mod:`distalign.names`)."""
    if name not in STEERING:
        raise ValueError(f"no prompt builder for steering method {name!r}; valid: {', '.join(STEERING)}")
    return STEERING[name]


def build_prompt(ds: SurveyDataset, item: SurveyItem, output_type: str, cfg: SteeringConfig) -> str:
    """The user prompt of one cell (raises :class:`~distalign.prompts.NotPromptable` for cells that cannot be asked)."""
    if not item.options:
        question_block(ds, item)  # raises NotPromptable with the cell named
    entry, method = get_steering(cfg.steering), get_method(output_type)
    examples = (
        ""
        if entry.template_task is None
        else load_template(cfg.prompts_dir, item.dataset, method.template_dir, entry.template_task)
    )
    return entry.build(ds, item, method, cfg, examples)


def build_messages(ds: SurveyDataset, item: SurveyItem, output_type: str, cfg: SteeringConfig) -> tuple[Message, ...]:
    """The chat messages of one cell: a short system message and one user turn holding the whole prompt."""
    return (Message("system", SYSTEM_PROMPT), Message("user", build_prompt(ds, item, output_type, cfg)))
