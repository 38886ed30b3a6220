"""Prompt text of the generation stage: template files and the sentences around them (SPEC §4.6, §3; issue #4).

A prompt is assembled from parts, in this order::

    instruction          what to do and in which format (names the group when steered)   <- this module
    examples note        what the five examples are for                                  <- this module
    format + examples    field description with ${...} placeholders and 5 worked examples <- template file
                         (few-shot: built here from the group's related questions)
    ---
    transition           "now answer this question ..."                                   <- this module
    target block         [context line] [book fields] question, lettered options          <- this module
    Answer:              the answer cue                                                   <- this module

Template files live at ``<prompts_dir>/<dataset dir>/<output type>/prompt_task{0,1,2}.txt`` (dataset dirs:
:data:`distalign.names.PROMPT_DIRS`). The repository ships its own in ``inputs/``; the authors' files
(``inputs/authors/`` after ``python -m distalign.data fetch``) have the same layout and can be used instead.
``independent_samples`` shares the ``model_logprobs`` examples (both ask for one answer) and
``option_likelihood`` uses no template (it scores option texts).

Question texts are shown as they are in the data: nothing is appended, so the original's "??" (SPEC §4.6)
cannot occur. Steering (which parts, which group, which examples) lives in :mod:`distalign.steering`.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from distalign.files import DataError
from distalign.names import PROMPT_DIRS
from distalign.parsers import SEQUENCE_LENGTH
from distalign.types import LETTERS, SurveyItem

SYSTEM_PROMPT = "You are a helpful, careful assistant."
ANSWER_CUE = "Answer:"
SEPARATOR = "---"
# Where a free-text reply that runs on into a new example of its own is cut (small models do this; at most 4
# sequences, the OpenAI limit). None of them can occur inside a valid answer.
STOP_SEQUENCES = ("\n---", "\nQuestion:", "\nContext:", "\nBook Title:")
TEMPLATE_DIRS = {"independent_samples": "model_logprobs"}  # output types that reuse another type's examples
NO_TEMPLATE = frozenset({"option_likelihood"})
SINGLE_ANSWER = frozenset({"model_logprobs", "independent_samples"})
NYT_QUESTION = "Based on the information above, how likely {who} to read this book?"
CONTEXT_LEAD = {"": "When this question was asked in a survey",
                "nytimes": "Asked in a survey how likely they were to read this book"}


class NotPromptable(ValueError):
    """A cell that cannot be turned into a prompt (no options, no truth where one is needed)."""


@dataclass(frozen=True)
class Audience:
    """Who a steered prompt is about, as noun phrases.

    Attributes:
        members: plural: ``members of the group "Democrat"``, ``people from Jordan``.
        one: singular, without article: ``member of the group "Democrat"``, ``person from Jordan``.
    """

    members: str
    one: str

    @property
    def member(self) -> str:
        """Singular with its article: ``a member of the group "Democrat"``."""
        return f"a {self.one}"


# ---- template files ---------------------------------------------------------------------------------
def template_path(prompts_dir: Path | str, dataset: str, output_type: str, task: int) -> Path:
    """Where the template of (dataset, output type, task 0/1/2) lives.

    >>> template_path("inputs", "opinionqa", "independent_samples", 1).as_posix()
    'inputs/opinion_surveys/model_logprobs/prompt_task1.txt'
    """
    folder = TEMPLATE_DIRS.get(output_type, output_type)
    return Path(prompts_dir) / PROMPT_DIRS.get(dataset, dataset) / folder / f"prompt_task{task}.txt"


def load_template(prompts_dir: Path | str, dataset: str, output_type: str, task: int) -> str:
    """The format description and five examples of a template file ("" for ``option_likelihood``).

    Trailing blank lines and trailing separator lines (``----``) are dropped; the rest is kept verbatim.
    """
    if output_type in NO_TEMPLATE:
        return ""
    path = template_path(prompts_dir, dataset, output_type, task)
    try:
        stamp = path.stat().st_mtime_ns
    except FileNotFoundError:
        raise DataError(f"{path}: prompt template not found (check --prompts_dir)") from None
    return _read_template(str(path), stamp)


@functools.lru_cache(maxsize=512)
def _read_template(path: str, stamp: int) -> str:
    """A template file's trimmed text, read once per modification time (prompts are built per request)."""
    return _trim(Path(path).read_text(encoding="utf-8"), Path(path))


def _trim(text: str, path: Path) -> str:
    lines = text.rstrip().splitlines()
    while lines and (not lines[-1].strip() or set(lines[-1].strip()) == {"-"}):
        lines.pop()
    if not lines:
        raise DataError(f"{path}: prompt template is empty")
    return "\n".join(line.rstrip() for line in lines)


# ---- the target question ------------------------------------------------------------------------------
def options_block(options: Sequence[str]) -> str:
    """Options one per line, lettered in the given order.

    >>> print(options_block(["Yes", "No"]))
    A. Yes
    B. No
    """
    if not options:
        raise NotPromptable("no answer options to show")
    return "\n".join(f"{LETTERS[i]}. {text.strip()}" for i, text in enumerate(options))


def question_block(item: SurveyItem, member: str | None = None) -> str:
    """The question as shown (without the answer cue); ``member`` steers NYT and GlobalValues wording.

    OpinionQA: the question and its options. NYT: the book fields, then how likely *you* (or ``member``)
    would be to read it. GlobalValues: with ``member``, a line asking how that person would answer.
    """
    if not item.options:
        raise NotPromptable(f"{item.dataset} {item.qid!r} for {item.group}/{item.demographic}: no answer options "
                            "(no respondents), so there is nothing to ask")
    lines = [f"{label}: {value.strip()}" for label, value in item.details]
    if item.dataset == "nytimes":
        who = f"is {member}" if member else "are you"
        lines.append(f"Question: {NYT_QUESTION.format(who=who)}")
    else:
        if member and item.dataset == "globalvalues":
            lines.append(f"How would {member} answer the following question?")
        lines.append(f"Question: {item.text.strip()}")
    return "\n".join(lines) + "\n" + options_block(item.options)


# ---- distributions in words ---------------------------------------------------------------------------
def percentages(probs: Sequence[float]) -> list[int]:
    """Whole percentages that add up to 100 (largest remainders; ties go to the earlier option).

    >>> percentages([1 / 3, 1 / 3, 1 / 3])
    [34, 33, 33]
    >>> percentages([0.299, 0.0023, 0.5584, 0.1403])
    [30, 0, 56, 14]
    """
    total = float(sum(probs))
    if total <= 0:
        raise ValueError("cannot express an all-zero distribution in percent")
    exact = [100.0 * p / total for p in probs]
    out = [int(x) for x in exact]
    by_remainder = sorted(range(len(exact)), key=lambda i: (-(exact[i] - out[i]), i))
    for i in by_remainder[: 100 - sum(out)]:
        out[i] += 1
    return out


def join_and(parts: Sequence[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``.

    >>> join_and(["x"]), join_and(["x", "y", "z"])
    ('x', 'x, y and z')
    """
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def context_line(item: SurveyItem, members: str, order: Sequence[int] | None = None) -> str:
    """The item's true distribution in words; ``order`` lists option indices (the shuffled-labels ablation).

    >>> from distalign.types import Distribution
    >>> it = SurveyItem("x", "q", "Q?", ("Yes", "No"), "G", "d", "d", Distribution(("A", "B"), (0.25, 0.75)))
    >>> context_line(it, 'members of the group "d"')
    'Context: When this question was asked in a survey, 25% of members of the group "d" chose "Yes" and 75% chose "No".'
    """
    if item.truth is None:
        raise NotPromptable(f"{item.dataset} {item.qid!r} for {item.demographic}: no human distribution to state")
    pct = percentages(item.truth.probs)
    idx = list(range(len(pct)) if order is None else order)
    parts = [f'{pct[i]}% chose "{item.options[i].strip()}"' for i in idx]
    parts[0] = parts[0].replace("% chose", f"% of {members} chose", 1)
    lead = CONTEXT_LEAD.get(item.dataset, CONTEXT_LEAD[""])
    return f"Context: {lead}, {join_and(parts)}."


# ---- answers in each output format --------------------------------------------------------------------
def example_answer(item: SurveyItem, output_type: str, rng: np.random.Generator) -> str:
    """An answer to ``item`` in the output format, drawn from its true distribution (few-shot examples).

    Sequence: 30 sampled letters; one-answer methods: one sampled letter; verbalize: the distribution as
    JSON percentages (not sampled); option likelihood: the text of one sampled option.
    """
    if item.truth is None or item.truth.total <= 0:
        raise NotPromptable(f"{item.qid!r}: no distribution to draw an example answer from")
    p = np.asarray(item.truth.probs, dtype=float) / item.truth.total
    if output_type == "express_distribution":
        return json.dumps(dict(zip(item.letters, percentages(item.truth.probs), strict=True)))
    if output_type == "sequence":
        return " ".join(item.letters[i] for i in rng.choice(len(p), size=SEQUENCE_LENGTH, p=p))
    choice = int(rng.choice(len(p), p=p))
    return item.options[choice].strip() if output_type == "option_likelihood" else item.letters[choice]


def example_block(item: SurveyItem, answer: str, audience: Audience | None = None,
                  order: Sequence[int] | None = None) -> str:
    """One worked example: [context line] question block, then ``Answer: <answer>``."""
    head = [context_line(item, audience.members, order)] if audience else []
    member = audience.member if audience else None
    return "\n".join([*head, question_block(item, member), f"{ANSWER_CUE} {answer}"])


# ---- the sentences around the examples ----------------------------------------------------------------
_ANSWER_FIELD = {
    "sequence": f"{SEQUENCE_LENGTH} option letters separated by spaces",
    "model_logprobs": "the letter of one option",
    "independent_samples": "the letter of one option",
    "express_distribution": "a JSON object mapping each option letter to a percentage",
    "option_likelihood": "the text of one option",
}


def format_description(dataset: str, output_type: str, context: bool = False, member: bool = False) -> str:
    """The field description that precedes the examples, with ``${...}`` placeholders."""
    lines = ["Format of each example:", ""]
    if context:
        lines.append("Context: ${how the group answered the question, in percent}")
    if dataset == "nytimes":
        lines += ["Book Title: ${book title}", "Book Genre: ${book genre}", "Book Summary: ${book summary}"]
    elif dataset == "globalvalues" and member:
        lines.append("How would a person from ${country} answer the following question?")
    lines += ["Question: ${question}", '${options, one per line: "A. <option text>"}',
              f"{ANSWER_CUE} ${{answer: {answer_field(output_type)}}}"]
    return "\n".join(lines)


def answer_field(output_type: str) -> str:
    """What the answer of ``output_type`` is, in a few words."""
    if output_type not in _ANSWER_FIELD:
        raise ValueError(f"unknown output type {output_type!r}; valid: {', '.join(_ANSWER_FIELD)}")
    return _ANSWER_FIELD[output_type]


def task_sentence(output_type: str, audience: Audience | None, target: str = "it") -> str:
    """What to reply to the target question, in the output format."""
    who = audience.members if audience else "people"
    person = f"a randomly chosen {audience.one if audience else 'person'}"
    if output_type == "sequence":
        return (f"Imagine that {SEQUENCE_LENGTH} randomly chosen {who} answer {target}. Reply with their "
                f"{SEQUENCE_LENGTH} answers: {SEQUENCE_LENGTH} option letters separated by spaces, one letter "
                "per person, and nothing else.")
    if output_type in SINGLE_ANSWER:
        return (f"Answer {target} as {person} would: reply with the letter of that person's answer, "
                "and nothing else.")
    if output_type == "express_distribution":
        return (f"Estimate how {who} would answer {target}: reply with a JSON object that maps each option letter "
                "to the percentage of them who would choose that option. Use whole numbers that add up to 100, "
                "and write nothing else.")
    if output_type == "option_likelihood":
        return (f"Answer {target} as {person} would: reply with the full text of that person's chosen option, "
                "without its letter, and nothing else.")
    raise ValueError(f"unknown output type {output_type!r}; valid: {', '.join(_ANSWER_FIELD)}")


def examples_note(steering: str) -> str:
    """The sentence that says what the template's five examples are for."""
    if steering == "none":
        return "The five examples below show the answer format. They are about other questions: copy their " \
               "format, not their answers."
    if steering == "persona":
        return "The five examples below show the answer format. They are about other questions and other " \
               "groups of people: copy their format, not their answers."
    return "The five examples below show the format. Each has its own context line, and its answer follows " \
           "from that line."


def assemble(parts: Sequence[str]) -> str:
    """The user prompt: non-empty parts separated by blank lines, ending with the answer cue."""
    return "\n\n".join(p.strip() for p in parts if p.strip()) + "\n" + ANSWER_CUE

