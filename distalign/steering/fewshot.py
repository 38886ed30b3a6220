"""``fewshot`` (task3): five related questions with the group's distributions, then the target without one.

Few-shot examples follow the *intended* rule of docs/original.md §4.3 (the original's selection was broken,
§11.1.9): among the 10 text-nearest questions, ``easy_hard`` takes those with a different option count first, then
the most distribution-dissimilar; ``easy`` the closest. A dataset whose neighbours come ranked for the cell
(GlobalValues, per country) gives its first ones. Each example shows a context line with the group's
distribution and an answer in the method's format, drawn from a Generator seeded per cell (never dependent on
processing order, §11.1.17).
"""

from __future__ import annotations

from distalign.datasets.base import SurveyDataset
from distalign.expression import ExpressionMethod
from distalign.metrics import normalized, tv
from distalign.prompts import SEPARATOR, NotPromptable, assemble, example_block, format_description, question_block
from distalign.steering.base import SteeringConfig, audience, order, prompt_rng
from distalign.types import SurveyItem

NEIGHBOURS = 10  # few-shot candidates: the 10 text-nearest questions (docs/original.md §4.3)
_NUMBER_WORDS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")


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
        chosen = different[len(different) - n :]
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

    Neighbours without a usable distribution (e.g. OpinionQA ``FEM2_W29`` for Male) are skipped. A dataset
    whose neighbours come ranked for the cell (GlobalValues, per country) gives its first ones; the others
    apply the ``easy_hard`` or ``easy`` rule to the 10 text-nearest questions.
    """
    if item.truth is None or not item.options:
        raise NotPromptable(
            f"{item.dataset} {item.qid!r} for {item.group}/{item.demographic}: few-shot steering "
            "needs a cell with options and a human distribution"
        )
    found = ds.neighbours(item.qid, item.group, item.demographic)[:NEIGHBOURS]
    usable = [c for c in found if c.options and c.truth is not None and c.truth.total > 0 and c.qid != item.qid]
    if not usable:
        raise NotPromptable(f"{item.dataset} {item.qid!r} for {item.demographic}: no usable few-shot neighbours")
    if ds.ranked_neighbours:
        return usable[: cfg.n_examples]
    select = select_easy_hard if cfg.selection == "easy_hard" else select_easy
    return select(item, usable, cfg.n_examples)


def fewshot(ds: SurveyDataset, item: SurveyItem, method: ExpressionMethod, cfg: SteeringConfig, examples: str) -> str:
    """task3: related questions with the group's distributions, then the target without one (``examples`` unused)."""
    aud = audience(ds, item, cfg)
    related = few_shot_examples(ds, item, cfg)
    rng = prompt_rng(cfg, item, method.prompt_key, "answers")
    blocks = [example_block(ds, ex, method.example_answer(ex, rng), aud, order(cfg, ex, method)) for ex in related]
    count = _NUMBER_WORDS[len(related)] if len(related) < len(_NUMBER_WORDS) else str(len(related))
    instruction = (
        f"You will first see {count} survey questions. Each comes with a context line stating how "
        f"{aud.members} answered it, followed by an example answer. Then comes a new, related question "
        f"for the same group, without a context line. {method.task_sentence(aud, 'the new question')}"
    )
    transition = (
        f"Now answer the new question below for the same group ({aud.members}), in the same format. Its "
        "context line is not given: rely on what the examples show about this group."
    )
    body = format_description(ds, method.answer_field, context=True, member=True)
    return assemble(
        [
            instruction,
            body,
            SEPARATOR,
            f"\n\n{SEPARATOR}\n\n".join(blocks),
            SEPARATOR,
            transition,
            question_block(ds, item, aud.member),
        ]
    )
