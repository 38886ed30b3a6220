"""Prompt text of the generation stage: template files and the sentences around them (docs/original.md §4.6, §3).

A prompt is assembled from parts, in this order::

    instruction          what to do and in which format (names the group when steered)   <- steering + method
    examples note        what the five examples are for                                  <- this module
    format + examples    field description with ${...} placeholders and 5 worked examples <- template file
                         (few-shot: built here from the group's related questions)
    ---
    transition           "now answer this question ..."                                   <- steering
    target block         [context line] [book fields] question, lettered options          <- this module + dataset
    Answer:              the answer cue                                                   <- this module

Template files live at ``<prompts_dir>/<dataset dir>/<template folder>/prompt_task{0,1,2}.txt`` (dataset dirs:
:data:`distalign.names.PROMPT_DIRS`, else the dataset key; the template folder is the expression method's,
:attr:`distalign.expression.base.ExpressionMethod.template_dir`). The repository ships its own in ``inputs/``;
the authors' files (``inputs/authors/`` after ``python -m distalign.data fetch``) have the same layout and can be
used instead. Each dataset words its questions through the hooks of :class:`~distalign.datasets.SurveyDataset`;
each expression method words its answer (:mod:`distalign.expression`).

Question texts are shown as they are in the data: nothing is appended, so the original's "??"
(docs/original.md §4.6) cannot occur. Steering (which parts, which group, which examples) lives in
:mod:`distalign.steering`.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path

from distalign.datasets import SurveyDataset
from distalign.files import DataError
from distalign.names import PROMPT_DIRS
from distalign.types import LETTERS, Audience, SurveyItem

SYSTEM_PROMPT = "You are a helpful, careful assistant."
ANSWER_CUE = "Answer:"
SEPARATOR = "---"
# Where a free-text reply that runs on into a new example of its own is cut (small models do this; at most 4
# sequences, the OpenAI limit). None of them can occur inside a valid answer.
STOP_SEQUENCES = ("\n---", "\nQuestion:", "\nContext:", "\nBook Title:")


class NotPromptable(ValueError):
    """A cell that cannot be turned into a prompt (no options, no truth where one is needed)."""


# ---- template files ---------------------------------------------------------------------------------
def template_path(prompts_dir: Path | str, dataset: str, folder: str, task: int) -> Path:
    """Where the template of (dataset, template folder, task 0/1/2) lives.

    >>> template_path("inputs", "opinionqa", "model_logprobs", 1).as_posix()
    'inputs/opinion_surveys/model_logprobs/prompt_task1.txt'
    """
    return Path(prompts_dir) / PROMPT_DIRS.get(dataset, dataset) / folder / f"prompt_task{task}.txt"


def load_template(prompts_dir: Path | str, dataset: str, folder: str | None, task: int) -> str:
    """The format description and five examples of a template file ("" for a method without templates).

    Trailing blank lines and trailing separator lines (``----``) are dropped; the rest is kept verbatim.
    """
    if folder is None:
        return ""
    path = template_path(prompts_dir, dataset, folder, task)
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


def question_block(ds: SurveyDataset, item: SurveyItem, member: str | None = None) -> str:
    """The question as shown (without the answer cue): the dataset's question lines, then the options.

    ``member`` names who answers in steered prompts (NYT and GlobalValues word the question with it).
    """
    if not item.options:
        raise NotPromptable(
            f"{item.dataset} {item.qid!r} for {item.group}/{item.demographic}: no answer options "
            "(no respondents), so there is nothing to ask"
        )
    return "\n".join(ds.question_lines(item, member)) + "\n" + options_block(item.options)


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


def context_line(ds: SurveyDataset, item: SurveyItem, members: str, order: Sequence[int] | None = None) -> str:
    """The item's true distribution in words; ``order`` lists option indices (the shuffled-labels ablation).

    >>> from distalign.datasets import DATASETS
    >>> from distalign.types import Distribution
    >>> it = SurveyItem("x", "q", "Q?", ("Yes", "No"), "G", "d", "d", Distribution(("A", "B"), (0.25, 0.75)))
    >>> context_line(DATASETS["opinionqa"]("."), it, 'members of the group "d"')
    'Context: When this question was asked in a survey, 25% of members of the group "d" chose "Yes" and 75% chose "No".'
    """
    if item.truth is None:
        raise NotPromptable(f"{item.dataset} {item.qid!r} for {item.demographic}: no human distribution to state")
    pct = percentages(item.truth.probs)
    idx = list(range(len(pct)) if order is None else order)
    parts = [f'{pct[i]}% chose "{item.options[i].strip()}"' for i in idx]
    parts[0] = parts[0].replace("% chose", f"% of {members} chose", 1)
    return f"Context: {ds.context_lead}, {join_and(parts)}."


def example_block(
    ds: SurveyDataset,
    item: SurveyItem,
    answer: str,
    audience: Audience | None = None,
    order: Sequence[int] | None = None,
) -> str:
    """One worked example: [context line] question block, then ``Answer: <answer>``."""
    head = [context_line(ds, item, audience.members, order)] if audience else []
    member = audience.member if audience else None
    return "\n".join([*head, question_block(ds, item, member), f"{ANSWER_CUE} {answer}"])


# ---- the sentences around the examples ----------------------------------------------------------------
def format_description(ds: SurveyDataset, answer_field: str, context: bool = False, member: bool = False) -> str:
    """The field description that precedes the examples, with ``${...}`` placeholders."""
    lines = ["Format of each example:", ""]
    if context:
        lines.append("Context: ${how the group answered the question, in percent}")
    lines += [
        *ds.format_lines(member),
        '${options, one per line: "A. <option text>"}',
        f"{ANSWER_CUE} ${{answer: {answer_field}}}",
    ]
    return "\n".join(lines)


def examples_note(steering: str) -> str:
    """The sentence that says what the template's five examples are for."""
    if steering == "none":
        return (
            "The five examples below show the answer format. They are about other questions: copy their "
            "format, not their answers."
        )
    if steering == "persona":
        return (
            "The five examples below show the answer format. They are about other questions and other "
            "groups of people: copy their format, not their answers."
        )
    return (
        "The five examples below show the format. Each has its own context line, and its answer follows from that line."
    )


def assemble(parts: Sequence[str]) -> str:
    """The user prompt: non-empty parts separated by blank lines, ending with the answer cue."""
    return "\n\n".join(p.strip() for p in parts if p.strip()) + "\n" + ANSWER_CUE
