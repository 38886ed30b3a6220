"""The README's "add a dataset" recipe, end to end: one file (here, a class in the test), one registry line,
data and templates in their folders; then generation, temperature scaling and evaluation pick it up unchanged.

    pytest tests/test_extension.py
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from distalign import datasets
from distalign.calibration import calibrate
from distalign.datasets.base import NONE_GROUP, SurveyDataset, from_counts
from distalign.evaluation import evaluate
from distalign.generate import RunConfig, run
from distalign.results import ResultKey, read_results, result_path
from distalign.types import SurveyItem

PETS = {
    "DOGS": {"text": "How much do you like dogs?", "options": ["A lot", "A little", "Not at all"],
             "Urban": [50, 30, 20], "Rural": [70, 20, 10], "similar": ["CATS", "FISH"]},
    "CATS": {"text": "How much do you like cats?", "options": ["A lot", "A little", "Not at all"],
             "Urban": [40, 40, 20], "Rural": [30, 30, 40], "similar": ["DOGS", "FISH"]},
    "FISH": {"text": "Would you keep fish as pets?", "options": ["Yes", "No"],
             "Urban": [25, 75], "Rural": [10, 90], "similar": ["CATS", "DOGS"]},
}


class Pets(SurveyDataset):
    """A made-up dataset: three pet questions, two demographics (urban and rural respondents)."""

    name = "pets"

    def question_ids(self) -> list[str]:
        return list(self._json("pets/data.json"))

    def demographics(self) -> list[tuple[str, str]]:
        return [("AREA", "Urban"), ("AREA", "Rural")]

    def item(self, qid: str, group: str, demographic: str) -> SurveyItem:
        rec = self._json("pets/data.json")[qid]
        truth = None if group == NONE_GROUP else from_counts(rec[demographic], f"pets/data.json[{qid!r}]")
        persona = "" if group == NONE_GROUP else f"{demographic} residents"
        return SurveyItem(self.name, qid, rec["text"], tuple(rec["options"]), group, demographic, persona, truth)

    def neighbours(self, qid: str, group: str, demographic: str) -> list[SurveyItem]:
        return [self.item(n, group, demographic) for n in self._json("pets/data.json")[qid]["similar"]]


@pytest.fixture
def pets_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setitem(datasets.DATASETS, "pets", Pets)  # the registry line
    (tmp_path / "pets").mkdir()
    (tmp_path / "pets" / "data.json").write_text(json.dumps(PETS))
    for output_type in ("model_logprobs", "express_distribution", "sequence"):
        for task in (0, 1, 2):
            path = tmp_path / "inputs" / "pets" / output_type / f"prompt_task{task}.txt"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("Format:\n\nQuestion: ${question}\nAnswer: ${answer}\n", encoding="utf-8")
    return tmp_path


def test_new_dataset_runs_through_generation_calibration_and_evaluation(pets_root: Path) -> None:
    cfg = RunConfig(datasets=("pets",), tasks=(0, 1, 3), models=("fake/oracle",),
                    output_types=("model_logprobs", "express_distribution"), results_dir=pets_root / "results",
                    data_dir=pets_root, prompts_dir=pets_root / "inputs", cache_path=None, progress=False)
    reports = run(cfg)
    assert [(r.records, r.unit_failures, r.parse_failures, r.error) for r in reports] == [(30, 0, 0, "")]
    key = ResultKey("pets", "model_logprobs", "fake__oracle", "task1", "AREA", "Rural")
    records = read_results(result_path(pets_root / "results", key))
    assert list(records) == ["DOGS", "CATS", "FISH"]
    assert records["DOGS"]["options"] == ["A lot", "A little", "Not at all"]
    assert (pets_root / "results/pets/model_logprobs/fake__oracle/task1/AREA/Rural.json").exists()

    fits = calibrate(pets_root / "results", data_dir=pets_root, datasets=["pets"], mode="fixed", folds=1)
    assert {f.task for f in fits} == {"task0", "task1", "task3_easy_hard"}

    ev = evaluate(pets_root / "results", pets_root, "fixed", 0, human=False)
    rows = [r for r in ev.rows if r.dataset == "pets" and r.task == "task1"]
    methods = {r.output_type for r in rows}
    assert {"model_logprobs", "express_distribution", "rescaled_model_logprobs_cv"} <= methods
    oracle = [tv for r in rows if r.output_type == "model_logprobs" for tv in r.tvs]
    assert len(oracle) == 6 and max(oracle) < 1e-9  # the oracle answers with the truth
