"""Steering methods: how a prompt is pointed at a demographic group (SPEC §4.1-4.4, §11.1.9/11/16/17, §11.2).

Four methods, keyed by the internal names of :data:`distalign.names.TASK_STEERING`:

* ``none`` (task0): instruction + the template's five format examples + the question;
* ``persona`` (task1): the same, naming the group (GlobalValues: the *country name*, never "0/1/2");
* ``context`` (task2): the persona prompt plus a context line stating the group's own distribution for the
  target question (can the model reproduce a stated distribution?);
* ``fewshot`` (task3): five related questions, each with the group's distribution in a context line and an
  answer in the output format, then the target question without its distribution.

Few-shot examples follow the *intended* rule of SPEC §4.3 (the original's selection was broken, §11.1.9);
see :func:`select_easy_hard` and :func:`select_easy`. Example answers are drawn from a numpy Generator
seeded by a stable hash of (seed, dataset, question, group, demographic, output type, task), so a prompt
never depends on the order in which cells are processed (§11.1.17). ``independent_samples`` hashes as
``model_logprobs``: both see the very same prompt and differ only in how the answer is read.

Ablations: ``ficticious_group`` (group names -> Foo/Bar/Baz..., §4.4) and ``shuffled_labels`` (context
lines list the options in a seeded random order).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from distalign.datasets.base import NONE_GROUP, SurveyDataset
from distalign.metrics import normalized, tv
from distalign.names import TASK3_TYPES, steering_of
from distalign.prompts import (
    SEPARATOR,
    SYSTEM_PROMPT,
    TEMPLATE_DIRS,
    Audience,
    NotPromptable,
    assemble,
    context_line,
    example_answer,
    example_block,
    examples_note,
    format_description,
    load_template,
    question_block,
    task_sentence,
)
from distalign.types import Message, SurveyItem

NEIGHBOURS = 10  # few-shot candidates: the 10 text-nearest questions (SPEC §4.3)
TEMPLATE_TASK = {"none": 0, "persona": 1, "context": 2}  # steering -> prompt_task<N>.txt
FICTITIOUS_NAMES = ("Foo", "Bar", "Baz", "Qux", "Quux", "Corge", "Grault")
# Demographics in the order that maps them onto FICTITIOUS_NAMES. The first entries reproduce the original
# table (Democrat->Foo, Independent->Bar, Republican->Baz, Male->Foo, Female->Bar); the rest extend it.
FICTITIOUS_ORDER = {
    "POLPARTY": ("Democrat", "Independent", "Republican", "Other", "Refused"),
    "SEX": ("Male", "Female"),
    "RACE": ("Black", "White", "Asian", "Hispanic", "Mixed Race", "Other", "Refused"),
    "globalvalues": ("0", "1", "2"),
}
_NUMBER_WORDS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")


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


def audience(item: SurveyItem, cfg: SteeringConfig) -> Audience:
    """The noun phrases naming the item's group (GlobalValues: its country)."""
    name = persona_name(item, cfg)
    if not name:
        raise NotPromptable(f"{cfg.task} needs a demographic group, got {item.group}/{item.demographic}")
    if item.dataset == "globalvalues":
        place = f'the country "{name}"' if cfg.ficticious_group else name
        return Audience(f"people from {place}", f"person from {place}")
    return Audience(f'members of the group "{name}"', f'member of the group "{name}"')


def prompt_rng(cfg: SteeringConfig, item: SurveyItem, output_type: str, purpose: str) -> np.random.Generator:
    """A Generator that depends only on the cell and the run settings, never on processing order.

    >>> cfg = SteeringConfig("task3_easy_hard", Path("inputs"))
    >>> it = SurveyItem("opinionqa", "Q1", "?", ("a", "b"), "SEX", "Male", "Male")
    >>> int(prompt_rng(cfg, it, "sequence", "answers").integers(1000)) == int(
    ...     prompt_rng(cfg, it, "sequence", "answers").integers(1000))
    True
    """
    shared = TEMPLATE_DIRS.get(output_type, output_type)  # independent_samples sees the model_logprobs prompt
    key = [cfg.seed, item.dataset, item.qid, item.group, item.demographic, shared, cfg.task, purpose]
    digest = hashlib.sha256(json.dumps(key, ensure_ascii=False).encode("utf-8")).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "big"))


# ---- few-shot example selection (SPEC §4.3, intended rule) ------------------------------------------------
def select_easy_hard(target: SurveyItem, candidates: list[SurveyItem], n: int) -> list[SurveyItem]:
    """The "hard" related questions: a different option count first, then the most dissimilar answers.

    Candidates with a different number of options than ``target`` come first; when there are more than
    ``n`` of them, the ``n`` least text-similar are taken (as the original does). The remaining places
    go to same-count candidates with the largest TV between their distribution and the target's (ties:
    the more text-similar). The result keeps the candidates' text-similarity order.
    """
    k = len(target.options)
    different = [c for c in candidates if len(c.options) != k]
    if len(different) >= n:
        chosen = different[len(different) - n:]
    else:
        same = [c for c in candidates if len(c.options) == k]
        ranked = sorted(same, key=lambda c: -_distance(c, target))  # stable: ties stay in text order
        chosen = different + ranked[: n - len(different)]
    return [c for c in candidates if c in chosen]


def select_easy(target: SurveyItem, candidates: list[SurveyItem], n: int) -> list[SurveyItem]:
    """The "easy" related questions: same option count and the closest distributions (smallest TV).

    When fewer than ``n`` candidates share the target's option count, the most text-similar others fill
    the remaining places. The result keeps the candidates' text-similarity order.
    """
    k = len(target.options)
    same = sorted((c for c in candidates if len(c.options) == k), key=lambda c: _distance(c, target))
    others = [c for c in candidates if len(c.options) != k]
    chosen = (same + others)[:n]
    return [c for c in candidates if c in chosen]


def _distance(a: SurveyItem, b: SurveyItem) -> float:
    assert a.truth is not None and b.truth is not None  # guaranteed by few_shot_examples
    p, q = normalized(a.truth.probs), normalized(b.truth.probs)  # truths have respondents: never None
    assert p is not None and q is not None
    return tv(p, q)


def few_shot_examples(ds: SurveyDataset, item: SurveyItem, cfg: SteeringConfig) -> list[SurveyItem]:
    """The related questions shown as few-shot examples for ``item`` (at most ``cfg.n_examples``).

    Neighbours without a usable distribution (e.g. OpinionQA ``FEM2_W29`` for Male) are skipped.
    GlobalValues takes its first neighbours (the data already ranks them per country); OpinionQA and
    NYT apply the ``easy_hard`` or ``easy`` rule to the 10 text-nearest questions.
    """
    if item.truth is None or not item.options:
        raise NotPromptable(f"{item.dataset} {item.qid!r} for {item.group}/{item.demographic}: few-shot steering "
                            "needs a cell with options and a human distribution")
    found = ds.neighbours(item.qid, item.group, item.demographic)[:NEIGHBOURS]
    usable = [c for c in found if c.options and c.truth is not None and c.truth.total > 0 and c.qid != item.qid]
    if not usable:
        raise NotPromptable(f"{item.dataset} {item.qid!r} for {item.demographic}: no usable few-shot neighbours")
    if item.dataset == "globalvalues":
        return usable[: cfg.n_examples]
    select = select_easy_hard if cfg.selection == "easy_hard" else select_easy
    return select(item, usable, cfg.n_examples)


# ---- the four steering methods --------------------------------------------------------------------------
def _opening(item: SurveyItem) -> str:
    if item.dataset == "nytimes":
        return "You will see the description of a book and a multiple-choice survey question about it."
    return "You will see a multiple-choice survey question."


def _order(cfg: SteeringConfig, item: SurveyItem, output_type: str) -> list[int] | None:
    """The option order of ``item``'s context line: shuffled (seeded) under the ablation, else as is."""
    if not cfg.shuffled_labels:
        return None
    return [int(i) for i in prompt_rng(cfg, item, output_type, "shuffle").permutation(len(item.options))]


def _templated(item: SurveyItem, output_type: str, cfg: SteeringConfig, instruction: str, transition: str,
               target: str) -> str:
    """A prompt around a template file: instruction, note, template, separator, transition, target."""
    template = load_template(cfg.prompts_dir, item.dataset, output_type, TEMPLATE_TASK[cfg.steering])
    if not template:  # option_likelihood: no examples, so nothing to transition from
        return assemble([instruction, target])
    return assemble([instruction, examples_note(cfg.steering), template, SEPARATOR, transition, target])


def no_steering(ds: SurveyDataset, item: SurveyItem, output_type: str, cfg: SteeringConfig) -> str:
    """task0: the question with format examples, no group."""
    instruction = f"{_opening(item)} {task_sentence(output_type, None)}"
    transition = "Now answer this question in the same format."
    return _templated(item, output_type, cfg, instruction, transition, question_block(item))


def persona(ds: SurveyDataset, item: SurveyItem, output_type: str, cfg: SteeringConfig) -> str:
    """task1: the question for a named group (GlobalValues: a country)."""
    aud = audience(item, cfg)
    instruction = f"{_opening(item)} {task_sentence(output_type, aud)}"
    transition = f"Now answer this question for {aud.members}, in the same format."
    return _templated(item, output_type, cfg, instruction, transition, question_block(item, aud.member))


def context_given(ds: SurveyDataset, item: SurveyItem, output_type: str, cfg: SteeringConfig) -> str:
    """task2: the persona prompt with the group's own distribution for the question in a context line."""
    aud = audience(item, cfg)
    instruction = (f"{_opening(item)} A context line before it states how {aud.members} answered it in a "
                   f"survey; use that information. {task_sentence(output_type, aud)}")
    transition = f"Now answer this question for {aud.members}, in the same format, using its context line."
    target = context_line(item, aud.members, _order(cfg, item, output_type)) + "\n" + question_block(item, aud.member)
    return _templated(item, output_type, cfg, instruction, transition, target)


def fewshot(ds: SurveyDataset, item: SurveyItem, output_type: str, cfg: SteeringConfig) -> str:
    """task3: related questions with the group's distributions, then the target without one."""
    aud = audience(item, cfg)
    examples = few_shot_examples(ds, item, cfg)
    rng = prompt_rng(cfg, item, output_type, "answers")
    blocks = [example_block(ex, example_answer(ex, output_type, rng), aud, _order(cfg, ex, output_type))
              for ex in examples]
    count = _NUMBER_WORDS[len(examples)] if len(examples) < len(_NUMBER_WORDS) else str(len(examples))
    instruction = (f"You will first see {count} survey questions. Each comes with a context line stating how "
                   f"{aud.members} answered it, followed by an example answer. Then comes a new, related question "
                   f"for the same group, without a context line. {task_sentence(output_type, aud, 'the new question')}")
    transition = (f"Now answer the new question below for the same group ({aud.members}), in the same format. Its "
                  "context line is not given: rely on what the examples show about this group.")
    body = format_description(item.dataset, output_type, context=True, member=True)
    return assemble([instruction, body, SEPARATOR, f"\n\n{SEPARATOR}\n\n".join(blocks), SEPARATOR, transition,
                     question_block(item, aud.member)])


Builder = Callable[[SurveyDataset, SurveyItem, str, SteeringConfig], str]
STEERING: dict[str, Builder] = {"none": no_steering, "persona": persona, "context": context_given, "fewshot": fewshot}


def build_prompt(ds: SurveyDataset, item: SurveyItem, output_type: str, cfg: SteeringConfig) -> str:
    """The user prompt of one cell (raises :class:`NotPromptable` for cells that cannot be asked)."""
    if not item.options:
        question_block(item)  # raises NotPromptable with the cell named
    return STEERING[cfg.steering](ds, item, output_type, cfg)


def build_messages(ds: SurveyDataset, item: SurveyItem, output_type: str, cfg: SteeringConfig) -> tuple[Message, ...]:
    """The chat messages of one cell: a short system message and one user turn holding the whole prompt."""
    return (Message("system", SYSTEM_PROMPT), Message("user", build_prompt(ds, item, output_type, cfg)))
