"""Shared pieces of the steering methods: the run's steering settings, who a prompt is about, seeded draws.

:class:`SteeringConfig` holds a task's settings; :func:`persona_name` and :func:`audience` name the steered
group (after the fictitious-group ablation, docs/original.md §4.4); :func:`prompt_rng` gives each cell its own
seeded Generator; :func:`templated` assembles a prompt around the template file's five format examples.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from distalign.datasets.base import NONE_GROUP, SurveyDataset
from distalign.expression import ExpressionMethod
from distalign.names import TASK3_TYPES, steering_of
from distalign.prompts import SEPARATOR, NotPromptable, assemble, examples_note
from distalign.types import Audience, SurveyItem

FICTITIOUS_NAMES = ("Foo", "Bar", "Baz", "Qux", "Quux", "Corge", "Grault")
# Demographics in the order that maps them onto FICTITIOUS_NAMES. The first entries reproduce the original
# table (Democrat->Foo, Independent->Bar, Republican->Baz, Male->Foo, Female->Bar); the rest extend it.
FICTITIOUS_ORDER = {
    "POLPARTY": ("Democrat", "Independent", "Republican", "Other", "Refused"),
    "SEX": ("Male", "Female"),
    "RACE": ("Black", "White", "Asian", "Hispanic", "Mixed Race", "Other", "Refused"),
    "globalvalues": ("0", "1", "2"),
}


@dataclass(frozen=True)
class SteeringConfig:
    """How prompts of a run are steered.

    Attributes:
        task: result folder name: ``task0``, ``task1``, ``task2``, ``task3_easy_hard``, ``task3_easy``.
        prompts_dir: root holding ``<dataset dir>/<output type>/prompt_task{0,1,2}.txt``.
        seed: seed of the example answers and the label shuffling.
        ficticious_group: replace group names by Foo/Bar/Baz... (``--ficticious_group_ablation``).
        shuffled_labels: list the options of context lines in a seeded random order
            (``--shuffled_incontext_labels``).
        n_examples: few-shot examples per prompt.
    """

    task: str
    prompts_dir: Path
    seed: int = 0
    ficticious_group: bool = False
    shuffled_labels: bool = False
    n_examples: int = 5

    @property
    def steering(self) -> str:
        """Internal steering name (``task1`` -> ``persona``)."""
        return steering_of(self.task)

    @property
    def selection(self) -> str:
        """Few-shot selection rule of a ``task3_<rule>`` folder (``easy_hard`` for a bare ``task3``)."""
        rule = self.task.partition("_")[2] or "easy_hard"
        if rule not in TASK3_TYPES:
            raise ValueError(f"unknown few-shot selection {rule!r} in task {self.task!r}; valid: {list(TASK3_TYPES)}")
        return rule


# ---- who the prompt is about ---------------------------------------------------------------------------
def persona_name(item: SurveyItem, cfg: SteeringConfig) -> str:
    """The group name as shown in prompts (after the fictitious-group ablation); "" without steering."""
    if item.group == NONE_GROUP:
        return ""
    if not cfg.ficticious_group:
        return item.persona
    order = FICTITIOUS_ORDER.get(item.group, ())
    if item.demographic not in order:
        known = ", ".join(f"{g}/{d}" for g, ds in FICTITIOUS_ORDER.items() for d in ds)
        raise ValueError(f"no fictitious name for {item.group}/{item.demographic}; known: {known}")
    return FICTITIOUS_NAMES[order.index(item.demographic)]


def audience(ds: SurveyDataset, item: SurveyItem, cfg: SteeringConfig) -> Audience:
    """The noun phrases naming the item's group, as the dataset words them (GlobalValues: its country)."""
    name = persona_name(item, cfg)
    if not name:
        raise NotPromptable(f"{cfg.task} needs a demographic group, got {item.group}/{item.demographic}")
    return ds.audience(name, cfg.ficticious_group)


def prompt_rng(cfg: SteeringConfig, item: SurveyItem, prompt_key: str, purpose: str) -> np.random.Generator:
    """A Generator that depends only on the cell and the run settings, never on processing order.

    ``prompt_key`` is the expression method's :attr:`~distalign.expression.base.ExpressionMethod.prompt_key`.

    >>> cfg = SteeringConfig("task3_easy_hard", Path("inputs"))
    >>> it = SurveyItem("opinionqa", "Q1", "?", ("a", "b"), "SEX", "Male", "Male")
    >>> int(prompt_rng(cfg, it, "sequence", "answers").integers(1000)) == int(
    ...     prompt_rng(cfg, it, "sequence", "answers").integers(1000))
    True
    """
    key = [cfg.seed, item.dataset, item.qid, item.group, item.demographic, prompt_key, cfg.task, purpose]
    digest = hashlib.sha256(json.dumps(key, ensure_ascii=False).encode("utf-8")).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "big"))


def order(cfg: SteeringConfig, item: SurveyItem, method: ExpressionMethod) -> list[int] | None:
    """The option order of ``item``'s context line: shuffled (seeded) under the ablation, else as is."""
    if not cfg.shuffled_labels:
        return None
    return [int(i) for i in prompt_rng(cfg, item, method.prompt_key, "shuffle").permutation(len(item.options))]


def templated(cfg: SteeringConfig, examples: str, instruction: str, transition: str, target: str) -> str:
    """A prompt around the template's format examples: instruction, note, examples, separator, transition, target.

    A method without format examples (``examples == ""``) gets the instruction and the target only.
    """
    if not examples:
        return assemble([instruction, target])
    return assemble([instruction, examples_note(cfg.steering), examples, SEPARATOR, transition, target])
