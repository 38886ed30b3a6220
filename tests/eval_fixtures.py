"""Tiny data and result trees for the evaluation tests (hand-checkable numbers, no fetched data needed).

OpinionQA: two questions. q1's Democrat dict is {No: 1, Refused: 1, Yes: 2} (alphabetical letters A=No,
B=Refused, C=Yes) while its survey order MC_options is [Yes, No, Refused]; Male lacks "Refused".
q2 has an empty Male dict (no respondents). NYT: two books, four groups. GlobalValues: two questions.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from distalign.names import OQA_WAVE

LIKERT = ["1: Very unlikely", "2: Somewhat unlikely", "3: Somewhat likely", "4: Very likely"]

OQA = {
    "POLPARTY": {
        "q1": {"Democrat": {"No": 1, "Refused": 1, "Yes": 2}, "Republican": {"No": 3, "Refused": 0, "Yes": 1}},
        "q2": {"Democrat": {"Bad": 1, "Good": 1}, "Republican": {"Bad": 1, "Good": 3}},
    },
    "SEX": {
        "q1": {"Male": {"No": 1, "Yes": 1}, "Female": {"No": 1, "Refused": 1, "Yes": 2}},
        "q2": {"Male": {}, "Female": {"Bad": 1, "Good": 1}},
    },
    "RACE": {
        "q1": {"Black": {"No": 1, "Refused": 1, "Yes": 2}, "White": {"No": 2, "Refused": 1, "Yes": 1}},
        "q2": {"Black": {"Bad": 1, "Good": 1}, "White": {"Bad": 3, "Good": 1}},
    },
}
MC = {"q1": ["Yes", "No", "Refused"], "q2": ["Good", "Bad"]}
NYT_COUNTS = {"Democrat": [1, 1, 1, 1], "Republican": [4, 0, 0, 0], "Male": [0, 0, 2, 2], "Female": [1, 3, 0, 0]}
GV = {
    "Is X good?": {
        "MC_options": "['Good', 'Bad']",
        "countries": ["France", "Japan", "Chile"],
        "France": [0.5, 0.5],
        "Japan": [1.0, 0.0],
        "Chile": [0.25, 0.75],
    },
    "Is Y good?": {
        "MC_options": "['Yes', 'No', 'DK']",
        "countries": ["Chile", "France", "Japan", "Peru"],
        "France": [0.2, 0.3, 0.5],
        "Japan": [0.0, 1.0, 0.0],
        "Chile": [1.0, 0.0, 0.0],
        "Peru": [1, 0, 0],
    },
}


def _write(path: Path, obj: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj), encoding="utf-8")


def make_data(root: Path) -> Path:
    """Write the three tiny datasets under ``root``; returns ``root``."""
    base = root / "opinions_qa/data/human_resp" / OQA_WAVE
    for group, questions in OQA.items():
        _write(
            base / f"{group}_data.json",
            {q: {"MC_options": MC[q], "question_text": f"Question {q}?", **dems} for q, dems in questions.items()},
        )
    books = {
        f"Book {i}": {
            "MC_options": LIKERT,
            "genre": "Fiction",
            "summary": f"Summary {i}",
            **{d: dict(zip(LIKERT, c, strict=True)) for d, c in NYT_COUNTS.items()},
        }
        for i in (1, 2)
    }
    for group in ("NONE", "POLPARTY", "SEX"):
        _write(root / f"nytimes/{group}_data.json", books)
    _write(root / "Global_Values/data/data.json", GV)
    return root


def record(
    avg: dict[str, float] | None, response: str = "", expected: dict[str, float] | None = None, **extra: Any
) -> dict[str, Any]:
    """A result record in the original layout."""
    rec: dict[str, Any] = {
        "actual_results": None if avg is None else {k: [v] for k, v in avg.items()},
        "avg_actual_results": avg,
        "response": [response],
    }
    if expected is not None:
        rec["expected_results"] = expected
    rec.update(extra)
    return rec


def result_file(
    results: Path,
    dataset: str,
    output_type: str,
    model: str,
    task: str,
    group: str,
    dem: str,
    records: dict[str, Any] | str,
) -> Path:
    """Write one result file (a string is written as is, e.g. truncated JSON)."""
    base = results / dataset / output_type / model / task
    path = {
        "opinionqa": base / OQA_WAVE / group / f"{dem}.json",
        "nytimes": base / group / f"{dem}.json",
        "globalvalues": base / "globalvalues" / f"{dem}.json",
    }[dataset]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(records if isinstance(records, str) else json.dumps(records), encoding="utf-8")
    return path


def oqa_truth(group: str, dem: str, q: str) -> dict[str, float]:
    """The lettered truth of an OQA cell (alphabetical options)."""
    counts = OQA[group][q][dem]
    total = sum(counts.values())
    return {chr(65 + i): c / total for i, c in enumerate(counts.values())}
