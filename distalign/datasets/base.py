"""The dataset interface: one small abstract class, one file per dataset (SPEC §2; style 3-4).

A dataset answers four questions: which questions are evaluated (in result-file order), which
(group, demographic) pairs are evaluated by default, what one (question, demographic) cell looks like
(options in prompt order and the human distribution), and which related questions serve as few-shot
examples for that cell. Everything else is derived here.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

from distalign.files import DataError, read_json
from distalign.types import Distribution, SurveyItem, letters

NONE_GROUP = "NONE"  # no steering: one prompt per question, evaluated against every demographic


class SurveyDataset(ABC):
    """A survey dataset under a data root (the folder holding ``opinions_qa/``, ``nytimes/``, ``Global_Values/``)."""

    name: str = ""

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


def normalized(counts: list[float], where: str) -> Distribution | None:
    """Counts -> a distribution lettered A, B, ...; ``None`` when there are no respondents.

    >>> normalized([1.0, 3.0], "x")
    Distribution(letters=('A', 'B'), probs=(0.25, 0.75))
    >>> normalized([], "x") is None
    True
    """
    values = [_number(c, where) for c in counts]
    total = sum(values)
    if total <= 0:
        return None
    return Distribution(letters(len(values)), tuple(v / total for v in values))


def _number(value: Any, where: str) -> float:
    """A non-negative finite number, or a :class:`DataError` naming where it came from."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value or value < 0:
        raise DataError(f"{where}: expected a non-negative number, found {value!r}")
    return float(value)


def stored(values: list[Any], where: str) -> Distribution:
    """A stored probability vector (kept as is, not renormalised) lettered A, B, ..."""
    return Distribution(letters(len(values)), tuple(_number(v, where) for v in values))
