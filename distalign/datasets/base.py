"""The dataset interface: one small abstract class, one file per dataset (docs/original.md §2).

A dataset answers four questions: which questions are evaluated (in result-file order), which
(group, demographic) pairs are evaluated by default, what one (question, demographic) cell looks like
(options in prompt order and the human distribution), and which related questions serve as few-shot
examples for that cell. Everything else is derived here.

A dataset also owns its wording and layout, through attributes and hooks whose defaults suit a plain
multiple-choice survey: how a question is shown (:meth:`SurveyDataset.question_lines`), the field description
of its examples (:meth:`~SurveyDataset.format_lines`), who a steered prompt is about
(:meth:`~SurveyDataset.audience`), the opening sentence, the lead of a context line, whether it has a
no-steering task, whether its few-shot neighbours come ranked, and an extra result folder (``wave``).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

from distalign.files import DataError, read_json
from distalign.metrics import normalized
from distalign.types import Audience, Distribution, SurveyItem, letters

NONE_GROUP = "NONE"  # no steering: one prompt per question, evaluated against every demographic


class SurveyDataset(ABC):
    """A survey dataset under a data root (the folder holding ``opinions_qa/``, ``nytimes/``, ``Global_Values/``)."""

    name: str = ""
    wave: str = ""  # a result folder between the task and the group (OpinionQA's survey wave), if any
    no_steering: bool = True  # has a no-steering task (task0); GlobalValues has none
    ranked_neighbours: bool = False  # neighbours come ranked for the cell: the first ones are the examples
    opening: str = "You will see a multiple-choice survey question."
    context_lead: str = "When this question was asked in a survey"  # how a context line starts

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        self._cache: dict[Path, Any] = {}

    @abstractmethod
    def question_ids(self) -> list[str]:
        """Evaluation question keys, in the order of the result files."""

    @abstractmethod
    def demographics(self) -> list[tuple[str, str]]:
        """(group, demographic) pairs evaluated by default (the paper's)."""

    @abstractmethod
    def item(self, qid: str, group: str, demographic: str) -> SurveyItem:
        """One cell; ``group == "NONE"`` gives the no-steering item (no truth)."""

    @abstractmethod
    def neighbours(self, qid: str, group: str, demographic: str) -> list[SurveyItem]:
        """Few-shot candidates for a cell, most text-similar first, carrying the group's distribution."""

    # ---- wording (override to change how the dataset is shown) -----------------------------------
    def question_lines(self, item: SurveyItem, member: str | None) -> list[str]:
        """The lines shown before the lettered options; ``member`` names who answers in steered prompts."""
        return [*detail_lines(item), f"Question: {item.text.strip()}"]

    def format_lines(self, member: bool) -> list[str]:
        """The field description of :meth:`question_lines` for the examples' format (``${...}`` placeholders)."""
        return ["Question: ${question}"]

    def audience(self, name: str, fictitious: bool) -> Audience:
        """Noun phrases naming the group ``name`` (``fictitious``: a made-up name of the ablation)."""
        return Audience(f'members of the group "{name}"', f'member of the group "{name}"')

    # ---- derived helpers -----------------------------------------------------------------------
    def all_demographics(self) -> dict[str, list[str]]:
        """Every group with the demographic keys present in the data (evaluated or not)."""
        out: dict[str, list[str]] = {}
        for group, dem in self.demographics():
            out.setdefault(group, []).append(dem)
        return out

    def pool_size(self) -> int:
        """Number of questions available as few-shot examples."""
        return len(self.question_ids())

    def items(self, group: str, demographic: str, limit: int | None = None) -> list[SurveyItem]:
        """The cells of one demographic for the first ``limit`` evaluation questions."""
        return [self.item(q, group, demographic) for q in self.question_ids()[:limit]]

    def _json(self, rel: str) -> Any:
        """Load (once) a JSON file under the data root, with a clear error when it is missing."""
        path = self.root / rel
        if path not in self._cache:
            if not path.exists():
                raise DataError(f"{path}: file not found; fetch the data first: python -m distalign.data fetch")
            self._cache[path] = read_json(path)
        return self._cache[path]


def detail_lines(item: SurveyItem) -> list[str]:
    """The item's labelled fields (``Book Title: ...``), one per line."""
    return [f"{label}: {value.strip()}" for label, value in item.details]


def from_counts(counts: list[float], where: str) -> Distribution | None:
    """Counts -> a distribution lettered A, B, ...; ``None`` when there are no respondents.

    >>> from_counts([1.0, 3.0], "x")
    Distribution(letters=('A', 'B'), probs=(0.25, 0.75))
    >>> from_counts([], "x") is None
    True
    """
    values = [_number(c, where) for c in counts]
    if not math.isfinite(sum(values)):
        raise DataError(f"{where}: respondent counts too large (their sum is not a finite number)")
    probs = normalized(values)
    return None if probs is None else Distribution(letters(len(values)), tuple(probs))


def _number(value: Any, where: str) -> float:
    """A non-negative finite number, or a :class:`DataError` naming where it came from."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise DataError(f"{where}: expected a non-negative number, found {value!r}")
    return float(value)


def stored(values: list[Any], where: str) -> Distribution:
    """A stored probability vector (kept as is, not renormalised) lettered A, B, ..."""
    return Distribution(letters(len(values)), tuple(_number(v, where) for v in values))
