"""Prompt rendering: golden prompts per dataset x task x method, template loading, prompt pieces.

Golden files (``tests/golden/<dataset>/<task>/<output_type>.txt``) hold the exact messages a model sees for
the toy cells of ``tests/toy_surveys.py`` with the repository's templates (``inputs/``). After an intended
change to the prompts or templates, regenerate them and review the diff::

    UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_prompts.py

Run: ``.venv/bin/python -m pytest tests/test_prompts.py``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from toy_surveys import REPO, target_item, toys

from distalign.datasets import DATASETS
from distalign.expression import get_method
from distalign.files import DataError
from distalign.parsers import SEQUENCE_LENGTH, parse_sequence, parse_verbalized
from distalign.prompts import (
    NotPromptable,
    context_line,
    load_template,
    percentages,
    question_block,
    template_path,
)
from distalign.steering import SteeringConfig, build_messages
from distalign.types import Message

GOLDEN = Path(__file__).parent / "golden"
INPUTS = REPO / "inputs"
TASKS = ("task0", "task1", "task2", "task3_easy_hard")
PAPER_METHODS = ("model_logprobs", "sequence", "express_distribution")
CASES = [(d, t, m) for d in ("opinionqa", "nytimes", "globalvalues") for t in TASKS for m in PAPER_METHODS]
CASES += [("opinionqa", t, m) for t in TASKS for m in ("independent_samples", "option_likelihood")]
CASES += [("opinionqa", "task3_easy", "sequence"), ("nytimes", "task3_easy", "express_distribution")]
AUTHORS = next(
    (
        p
        for p in (REPO / "inputs" / "authors", REPO.parent / "shared" / "benchmark-data" / "inputs")
        if (p / "opinion_surveys").is_dir()
    ),
    None,
)


def render(messages: tuple[Message, ...]) -> str:
    return "".join(f"=== {m.role} ===\n{m.content}\n" for m in messages)


def messages_for(dataset: str, task: str, output_type: str, prompts_dir: Path = INPUTS) -> tuple[Message, ...]:
    ds = toys()[dataset]
    return build_messages(ds, target_item(dataset, task), output_type, SteeringConfig(task, prompts_dir, seed=0))


@pytest.mark.parametrize(("dataset", "task", "output_type"), CASES)
def test_golden_prompt(dataset: str, task: str, output_type: str) -> None:
    text = render(messages_for(dataset, task, output_type))
    path = GOLDEN / dataset / task / f"{output_type}.txt"
    if os.environ.get("UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"{path} missing: run UPDATE_GOLDEN=1 pytest tests/test_prompts.py"
    assert text == path.read_text(encoding="utf-8"), f"prompt differs from {path} (UPDATE_GOLDEN=1 to accept)"


@pytest.mark.parametrize(("dataset", "task", "output_type"), CASES)
def test_prompt_shape(dataset: str, task: str, output_type: str) -> None:
    system, user = messages_for(dataset, task, output_type)
    assert (system.role, user.role) == ("system", "user")
    assert user.content.endswith("\nAnswer:") and "??" not in user.content
    target = target_item(dataset, task)
    assert user.content.count("\n---\n") == (
        0 if output_type == "option_likelihood" and task != "task3_easy_hard" and task != "task3_easy" else 6
    )
    if task != "task0":
        assert target.persona in user.content
    else:
        assert "group" not in user.content.split("Format of each example")[0]


def test_samples_prompt_equals_logprobs_prompt() -> None:
    for task in TASKS:
        assert messages_for("opinionqa", task, "independent_samples") == messages_for(
            "opinionqa", task, "model_logprobs"
        )


@pytest.mark.parametrize("dataset", ["opinionqa", "nytimes", "globalvalues"])
def test_structured_prompts_equal_their_free_text_twins(dataset: str) -> None:
    """V-S and Seq-S see exactly V's and Seq's prompts (templates, example answers): only decoding differs."""
    for task in TASKS[1:] if dataset == "globalvalues" else TASKS:
        for twin in ("express_distribution", "sequence"):
            assert messages_for(dataset, task, f"{twin}_structured") == messages_for(dataset, task, twin)


def test_option_likelihood_has_no_template() -> None:
    assert load_template(INPUTS, "opinionqa", get_method("option_likelihood").template_dir, 1) == ""
    user = messages_for("opinionqa", "task1", "option_likelihood")[1].content
    assert "without its letter" in user and "Format of each example" not in user


# ---- templates ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dataset", list(DATASETS))
@pytest.mark.parametrize("output_type", PAPER_METHODS)
@pytest.mark.parametrize("task", (0, 1, 2))
def test_own_templates_have_five_examples_in_format(dataset: str, output_type: str, task: int) -> None:
    text = load_template(INPUTS, dataset, output_type, task)
    head, *examples = text.split("\n\n---\n\n")
    assert "${question}" in head and "${answer" in head and len(examples) == 5
    for ex in examples:
        answer = ex.rsplit("\nAnswer: ", 1)[1]
        letters = [line[0] for line in ex.splitlines() if len(line) > 2 and line[1:3] == ". "]
        if output_type == "sequence":
            assert parse_sequence(answer, letters).reason == "" and len(answer.split()) == SEQUENCE_LENGTH
        elif output_type == "express_distribution":
            assert parse_verbalized(answer, letters).reason == ""
        else:
            assert answer in letters
        assert ("Context: " in ex) == (task == 2)
        assert "??" not in ex


def test_template_path_and_missing_template(tmp_path: Path) -> None:
    assert template_path(tmp_path, "nytimes", "sequence", 2) == tmp_path / "nytimes" / "sequence" / "prompt_task2.txt"
    with pytest.raises(DataError, match="prompt_task1.txt: prompt template not found"):
        load_template(tmp_path, "opinionqa", "sequence", 1)
    # a dataset added later keeps its templates under its own key
    assert template_path(tmp_path, "mmlu", "sequence", 1) == tmp_path / "mmlu" / "sequence" / "prompt_task1.txt"


def test_template_trailing_separators_are_trimmed(tmp_path: Path) -> None:
    path = template_path(tmp_path, "opinionqa", "sequence", 0)
    path.parent.mkdir(parents=True)
    path.write_text("Format.  \n\n------ \nQuestion: x?\nAnswer: A\n\n----\n\n", encoding="utf-8")
    assert load_template(tmp_path, "opinionqa", "sequence", 0) == "Format.\n\n------\nQuestion: x?\nAnswer: A"
    path.write_text("\n----\n", encoding="utf-8")
    with pytest.raises(DataError, match="empty"):
        load_template(tmp_path, "opinionqa", "sequence", 0)


@pytest.mark.data
@pytest.mark.skipif(AUTHORS is None, reason="authors' templates not fetched (python -m distalign.data fetch)")
@pytest.mark.parametrize("dataset", list(DATASETS))
@pytest.mark.parametrize("task", ("task0", "task1", "task2"))
@pytest.mark.parametrize("output_type", PAPER_METHODS)
def test_authors_templates_load_through_prompts_dir(dataset: str, task: str, output_type: str) -> None:
    assert AUTHORS is not None
    user = messages_for(dataset, task, output_type, AUTHORS)[1].content
    assert "Given the fields" in user and "Follow the following format" in user  # their header, verbatim
    assert user.endswith("\nAnswer:") and "Now answer this question" in user


# ---- pieces ------------------------------------------------------------------------------------------------
def test_question_text_is_shown_once_without_added_question_mark() -> None:
    for text in ("Is it raining?", "Please say how you feel about rain.", "Views on rain"):
        it = target_item("opinionqa", "task1")
        block = question_block(
            toys()["opinionqa"], type(it)(it.dataset, it.qid, text, it.options, it.group, it.demographic, it.persona)
        )
        assert f"Question: {text}\n" in block and "??" not in block and ".?" not in block


def test_question_blocks_per_dataset() -> None:
    ds = toys()
    oqa = question_block(ds["opinionqa"], target_item("opinionqa", "task1"), 'a member of the group "Female"')
    assert oqa.splitlines()[:3] == [
        "Question: How often do you cook dinner at home?",
        "A. A few times a week",
        "B. Every day",
    ]
    nyt = question_block(ds["nytimes"], target_item("nytimes", "task0"))
    assert nyt.splitlines()[3] == "Question: Based on the information above, how likely are you to read this book?"
    nyt1 = question_block(ds["nytimes"], target_item("nytimes", "task1"), 'a member of the group "Republican"')
    assert 'how likely is a member of the group "Republican" to read this book?' in nyt1
    gv = question_block(ds["globalvalues"], target_item("globalvalues", "task1"), "a person from Freedonia")
    gv = gv.splitlines()
    assert gv[:2] == [
        "How would a person from Freedonia answer the following question?",
        "Question: Do you think your country's roads are in good or bad condition?",
    ]
    assert gv[2:] == ["A. Good condition", "B. Bad condition", "C. DK/Refused"]


def test_cell_without_options_is_not_promptable() -> None:
    ds = toys()["opinionqa"]
    empty = ds.item("NOBODY_W99", "SEX", "Male")
    for task in TASKS:
        with pytest.raises(NotPromptable, match="no answer options"):
            build_messages(ds, empty, "sequence", SteeringConfig(task, INPUTS))
    assert issubclass(NotPromptable, ValueError)


def test_steered_task_needs_a_group() -> None:
    none_cell = target_item("opinionqa", "task0")
    with pytest.raises(NotPromptable, match="needs a demographic group"):
        build_messages(toys()["opinionqa"], none_cell, "sequence", SteeringConfig("task1", INPUTS))


def test_percentages_sum_to_100_and_context_line() -> None:
    assert percentages([0.5, 0.5]) == [50, 50] and percentages([2, 1, 1]) == [50, 25, 25]
    rng = np.random.default_rng(0)
    for _ in range(200):
        p = rng.dirichlet(np.ones(rng.integers(2, 9)))
        pct = percentages(list(p))
        assert sum(pct) == 100 and all(abs(x - 100 * q) < 1 for x, q in zip(pct, p, strict=True))
    with pytest.raises(ValueError):
        percentages([0.0, 0.0])
    line = context_line(
        toys()["globalvalues"], target_item("globalvalues", "task1"), "people from Freedonia", order=[2, 0, 1]
    )
    assert line == (
        "Context: When this question was asked in a survey, 5% of people from Freedonia chose "
        '"DK/Refused", 25% chose "Good condition" and 70% chose "Bad condition".'
    )


def test_example_answers_follow_the_distribution() -> None:
    it = target_item("globalvalues", "task1")  # 25% / 70% / 5%
    rng = np.random.default_rng(1)
    seq = get_method("sequence").example_answer(it, rng).split()
    assert len(seq) == SEQUENCE_LENGTH and set(seq) <= {"A", "B", "C"} and seq.count("B") > seq.count("A")
    assert get_method("express_distribution").example_answer(it, rng) == '{"A": 25, "B": 70, "C": 5}'
    assert get_method("model_logprobs").example_answer(it, rng) in ("A", "B", "C")
    assert get_method("option_likelihood").example_answer(it, rng) in it.options
    with pytest.raises(NotPromptable):
        get_method("sequence").example_answer(target_item("globalvalues", "task0"), rng)
