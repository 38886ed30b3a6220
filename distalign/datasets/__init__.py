"""Dataset registry: name -> loader class (docs/original.md §2). Add a dataset with one file and one line here.

>>> sorted(DATASETS)
['globalvalues', 'nytimes', 'opinionqa']
>>> load_dataset("mmlu", ".")
Traceback (most recent call last):
...
ValueError: unknown dataset 'mmlu'; valid: globalvalues, nytimes, opinionqa
"""

from __future__ import annotations

from pathlib import Path

from distalign.datasets.base import NONE_GROUP, SurveyDataset
from distalign.datasets.globalvalues import GlobalValues
from distalign.datasets.nytimes import NYTimes
from distalign.datasets.opinionqa import OpinionQA

__all__ = ["DATASETS", "NONE_GROUP", "SurveyDataset", "load_dataset"]

DATASETS: dict[str, type[SurveyDataset]] = {
    "opinionqa": OpinionQA,
    "nytimes": NYTimes,
    "globalvalues": GlobalValues,
}


def load_dataset(name: str, root: Path | str) -> SurveyDataset:
    """The dataset ``name`` under the data root ``root`` (files are read lazily, once)."""
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; valid: {', '.join(sorted(DATASETS))}")
    return DATASETS[name](root)
