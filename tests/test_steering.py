"""Steering: few-shot selection rules, seeded determinism, ablations, group names (docs/original.md §4.3-4.4).

Run: ``.venv/bin/python -m pytest tests/test_steering.py``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from toy_surveys import REPO, item, target_item, toys

from distalign.datasets import load_dataset
from distalign.names import task_dir
from distalign.prompts import NotPromptable
from distalign.steering import (
    STEERING,
    SteeringConfig,
    build_messages,
    few_shot_examples,
    persona_name,
    select_easy,
    select_easy_hard,
)
from distalign.types import SurveyItem

INPUTS = REPO / "inputs"
SHARE = re.compile(r'(\d+)% (?:of .*? )?chose "([^"]+)"')
FOUR = ("a", "b", "c", "d")


def cfg(task: str = "task3_easy_hard", **kw: object) -> SteeringConfig:
    return SteeringConfig(task, INPUTS, **kw)  # type: ignore[arg-type]


def user_prompt(dataset: str, task: str, output_type: str, config: SteeringConfig | None = None) -> str:
    ds = toys()[dataset]
    return build_messages(ds, target_item(dataset, task), output_type, config or cfg(task))[1].content


# ---- selection on constructed neighbours (TVs computed by hand in the comments) ---------------------------
def n4(name: str, probs: tuple[float, ...]) -> SurveyItem:
    return item("opinionqa", name, FOUR[: len(probs)] if len(probs) <= 4 else tuple("abcdefg")[: len(probs)], probs)


TARGET = n4("T", (0.5, 0.5, 0.0, 0.0))
CANDIDATES = [
    n4("N1", (0.5, 0.5, 0.0, 0.0)),  # same count, TV 0
    n4("N2", (0.2, 0.3, 0.5)),  # 3 options: different
    n4("N3", (0.0, 0.0, 0.5, 0.5)),  # TV 1.0
    n4("N4", (0.4, 0.6, 0.0, 0.0)),  # TV 0.1
    n4("N5", (0.2, 0.2, 0.2, 0.2, 0.2)),  # 5 options: different
    n4("N6", (0.0, 0.5, 0.5, 0.0)),  # TV 0.5
    n4("N7", (0.25, 0.25, 0.25, 0.25)),  # TV 0.5 (tie with N6, less text-similar)
    n4("N8", (0.5, 0.3, 0.2, 0.0)),  # TV 0.2
    n4("N10", (1.0, 0.0, 0.0, 0.0)),  # TV 0.5
]


def names(items: list[SurveyItem]) -> list[str]:
    return [i.qid for i in items]


def test_easy_hard_takes_different_counts_then_most_dissimilar() -> None:
    # N2, N5 differ in option count; then N3 (TV 1.0) and the two most text-similar of the TV-0.5 tie (N6, N7).
    assert names(select_easy_hard(TARGET, CANDIDATES, 5)) == ["N2", "N3", "N5", "N6", "N7"]


def test_easy_takes_closest_distributions() -> None:
    # N1 (0), N4 (0.1), N8 (0.2), then N6 and N7 (0.5, text order); shown in text order.
    assert names(select_easy(TARGET, CANDIDATES, 5)) == ["N1", "N4", "N6", "N7", "N8"]


def test_easy_hard_with_more_than_five_different_takes_least_text_similar() -> None:
    diff = [n4(f"D{i}", (0.3, 0.3, 0.4)) for i in range(7)]
    assert names(select_easy_hard(TARGET, [CANDIDATES[0], *diff], 5)) == ["D2", "D3", "D4", "D5", "D6"]


def test_easy_fills_with_other_counts_when_too_few_same() -> None:
    cands = [
        n4("S1", (0.5, 0.4, 0.1, 0.0)),
        n4("D1", (0.3, 0.7)),
        n4("D2", (0.3, 0.7)),
        n4("D3", (0.3, 0.7)),
        n4("S2", (0.5, 0.5, 0.0, 0.0)),
        n4("D4", (0.3, 0.7)),
    ]
    assert names(select_easy(TARGET, cands, 5)) == ["S1", "D1", "D2", "D3", "S2"]
    assert names(select_easy_hard(TARGET, cands, 5)) == ["S1", "D1", "D2", "D3", "D4"]


def test_few_shot_examples_on_toys_skip_neighbours_without_truth() -> None:
    ds, target = toys()["opinionqa"], target_item("opinionqa", "task1")
    # EMPTY_W99 has no respondents; exactly five neighbours differ from the target's 5 options.
    assert names(few_shot_examples(ds, target, cfg())) == [
        "BAKE_W99",
        "TAKEOUT_W99",
        "GARDEN_W99",
        "RECIPE_W99",
        "SNACK_W99",
    ]
    assert names(few_shot_examples(ds, target, cfg("task3_easy"))) == [
        "BAKE_W99",
        "TAKEOUT_W99",
        "LUNCH_W99",
        "GARDEN_W99",
        "RECIPE_W99",
    ]


def test_nyt_easy_hard_is_most_dissimilar_books() -> None:
    ds, target = toys()["nytimes"], target_item("nytimes", "task1")  # truth .15 .2 .4 .25
    # TVs: Salt .35, Small .15, Iron .15, Long Table .15, Cold .25, Field .05 -> drop Field, keep text order.
    expected = [
        "Salt Roads By Tom Reyes",
        "Small Hours By Mei Lin",
        "Iron Bridges By Sam Okafor",
        "The Long Table By Ruth Vance",
        "Cold Signal By Ivan Berg",
    ]
    assert names(few_shot_examples(ds, target, cfg())) == expected
    easy = names(few_shot_examples(ds, target, cfg("task3_easy")))
    assert "Salt Roads By Tom Reyes" not in easy and len(easy) == 5


def test_globalvalues_takes_first_five_neighbours_for_both_rules() -> None:
    ds, target = toys()["globalvalues"], target_item("globalvalues", "task1")
    first = names(ds.neighbours(target.qid, target.group, target.demographic))[:5]
    assert names(few_shot_examples(ds, target, cfg())) == first
    assert names(few_shot_examples(ds, target, cfg("task3_easy"))) == first


def test_few_shot_without_target_truth_or_neighbours_is_not_promptable() -> None:
    ds = toys()["opinionqa"]
    with pytest.raises(NotPromptable):
        few_shot_examples(ds, ds.item("NOBODY_W99", "SEX", "Male"), cfg())
    lonely = target_item("opinionqa", "task1")
    with pytest.raises(NotPromptable, match="no usable few-shot neighbours"):
        few_shot_examples(toys()["nytimes"], lonely, cfg())


# ---- determinism ----------------------------------------------------------------------------------------
def test_prompt_does_not_depend_on_call_order() -> None:
    first = user_prompt("opinionqa", "task3_easy_hard", "sequence")
    user_prompt("nytimes", "task3_easy_hard", "sequence")
    ds = toys()["opinionqa"]
    build_messages(ds, ds.item("COOK_W99", "POLPARTY", "Democrat"), "sequence", cfg())
    assert user_prompt("opinionqa", "task3_easy_hard", "sequence") == first


def test_seed_changes_sampled_answers_only() -> None:
    a = user_prompt("opinionqa", "task3_easy_hard", "sequence", cfg(seed=0))
    b = user_prompt("opinionqa", "task3_easy_hard", "sequence", cfg(seed=1))
    assert a != b
    strip = [[line for line in p.splitlines() if not line.startswith("Answer: ")] for p in (a, b)]
    assert strip[0] == strip[1]
    v0 = user_prompt("opinionqa", "task3_easy_hard", "express_distribution", cfg(seed=0))
    assert v0 == user_prompt("opinionqa", "task3_easy_hard", "express_distribution", cfg(seed=1))  # no sampling


def test_answers_differ_between_cells_and_output_types() -> None:
    seq = user_prompt("opinionqa", "task3_easy_hard", "sequence")
    ds = toys()["opinionqa"]
    dem = build_messages(ds, ds.item("COOK_W99", "POLPARTY", "Democrat"), "sequence", cfg())[1].content
    assert [ln for ln in seq.splitlines() if ln.startswith("Answer: ")] != [
        ln for ln in dem.splitlines() if ln.startswith("Answer: ")
    ]


def test_prompt_is_independent_of_python_hash_seed() -> None:
    code = (
        "import sys; sys.path.insert(0, 'tests'); from test_steering import user_prompt; "
        "print(user_prompt('nytimes', 'task3_easy_hard', 'sequence'))"
    )
    outs = {
        subprocess.run(
            [sys.executable, "-c", code],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        ).stdout
        for seed in ("1", "2")
    }
    assert len(outs) == 1 and outs.pop().strip() == user_prompt("nytimes", "task3_easy_hard", "sequence")


# ---- ablations -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("group", "dem", "fake"),
    [
        ("POLPARTY", "Democrat", "Foo"),
        ("POLPARTY", "Independent", "Bar"),
        ("POLPARTY", "Republican", "Baz"),
        ("SEX", "Male", "Foo"),
        ("SEX", "Female", "Bar"),
        ("RACE", "Black", "Foo"),
        ("RACE", "White", "Bar"),
        ("globalvalues", "2", "Baz"),
    ],
)
def test_fictitious_names(group: str, dem: str, fake: str) -> None:
    it = item("opinionqa", "Q", FOUR, (0.25,) * 4, group, dem)
    assert persona_name(it, cfg("task1", ficticious_group=True)) == fake
    assert persona_name(it, cfg("task1")) == dem


def test_fictitious_unknown_demographic_and_no_steering() -> None:
    with pytest.raises(ValueError, match="no fictitious name for SEX/Other"):
        persona_name(item("opinionqa", "Q", FOUR, None, "SEX", "Other"), cfg("task1", ficticious_group=True))
    assert persona_name(target_item("opinionqa", "task0"), cfg("task0", ficticious_group=True)) == ""


@pytest.mark.parametrize("dataset", ["opinionqa", "nytimes", "globalvalues"])
@pytest.mark.parametrize("task", ["task1", "task2", "task3_easy_hard"])
def test_fictitious_group_replaces_every_mention(dataset: str, task: str) -> None:
    real = target_item(dataset, task).persona
    text = user_prompt(dataset, task, "express_distribution", cfg(task, ficticious_group=True))
    assert real not in text
    fake = {"opinionqa": "Bar", "nytimes": "Baz", "globalvalues": "Bar"}[dataset]
    assert (f'"{fake}"' in text) and text.count(fake) >= 2


def test_shuffled_labels_reorder_context_lines_only() -> None:
    plain = user_prompt("opinionqa", "task3_easy_hard", "sequence")
    shuffled = user_prompt("opinionqa", "task3_easy_hard", "sequence", cfg(shuffled_labels=True))
    assert shuffled == user_prompt("opinionqa", "task3_easy_hard", "sequence", cfg(shuffled_labels=True))
    a, b = plain.splitlines(), shuffled.splitlines()
    changed = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
    assert changed and all(a[i].startswith("Context: ") for i in changed)
    for i in changed:  # the same (percent, option) statements, in another order
        assert a[i] != b[i] and sorted(SHARE.findall(a[i])) == sorted(SHARE.findall(b[i]))
    context2 = user_prompt("globalvalues", "task2", "sequence", cfg("task2", shuffled_labels=True))
    assert context2 != user_prompt("globalvalues", "task2", "sequence", cfg("task2"))


# ---- configuration -----------------------------------------------------------------------------------------
def test_steering_registry_and_config() -> None:
    assert sorted(STEERING) == ["context", "fewshot", "none", "persona"]
    assert [cfg(task_dir(t)).steering for t in range(4)] == ["none", "persona", "context", "fewshot"]
    assert cfg("task3_easy").selection == "easy" and cfg("task3").selection == "easy_hard"
    with pytest.raises(ValueError, match="unknown few-shot selection"):
        _ = cfg("task3_all_but_one").selection
    with pytest.raises(ValueError, match="not a task folder"):
        _ = cfg("fewshot").steering


# ---- the real data (skipped when absent) ---------------------------------------------------------------------
DATA = next(
    (p for p in (REPO, REPO.parent / "shared" / "benchmark-data") if (p / "opinions_qa" / "data").is_dir()), None
)


@pytest.mark.data
@pytest.mark.skipif(DATA is None, reason="benchmark data not fetched (python -m distalign.data fetch)")
@pytest.mark.parametrize("dataset", ["opinionqa", "nytimes", "globalvalues"])
def test_real_data_prompts(dataset: str) -> None:
    ds = load_dataset(dataset, Path(str(DATA)))
    group, dem = ds.demographics()[0]
    for qid in ds.question_ids()[:3]:
        target = ds.item(qid, group, dem)
        for task in ("task0", "task1", "task2", "task3_easy_hard", "task3_easy"):
            cell = ds.item(qid, "NONE", "NONE") if task == "task0" else target
            for ot in (
                "model_logprobs",
                "sequence",
                "express_distribution",
                "independent_samples",
                "option_likelihood",
            ):
                user = build_messages(ds, cell, ot, cfg(task))[1].content
                assert user.endswith("\nAnswer:") and "??" not in user
            if task.startswith("task3"):
                assert len(few_shot_examples(ds, target, cfg(task))) == 5


@pytest.mark.data
@pytest.mark.skipif(DATA is None, reason="benchmark data not fetched (python -m distalign.data fetch)")
def test_real_oqa_male_without_respondents_is_not_promptable() -> None:
    ds = load_dataset("opinionqa", Path(str(DATA)))
    empty = ds.item("FEM2_W29", "SEX", "Male")
    with pytest.raises(NotPromptable):
        build_messages(ds, empty, "sequence", cfg("task1"))
