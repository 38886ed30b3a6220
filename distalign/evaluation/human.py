"""Human baseline: how well k = 4 people estimate a group's answer distribution (docs/original.md §7.6, §11.1.15).

Prolific annotators saw a survey question with the same lettered options as the models and typed a
percentage per option for a target group. Per (question, group) the first ``K_ANNOTATORS`` complete
responses, in file order, are averaged per option. The exports are read only through the privacy-safe
loader (:func:`distalign.data.privacy.read_annotation_csv`); their 2 extra Qualtrics header rows are dropped.

Columns ``<qualtricsID>_<block>_<k>`` hold the estimate for option k. Blocks: ``Q_NoSteering`` (no-steering
survey: Americans overall, scored against every group; persona/few-shot surveys: Democrats), ``Q135``
Republicans, ``Q136`` men, ``Q137`` women, ``Q138`` Black people, ``Q139`` White people. Qualtrics IDs map in
order of appearance onto the dataset's questions.

* paper mode: estimate × 0.01, truncated to the number of ground-truth options (no renormalisation), against
  the stored OQA ``expected_results_<G>_<d>`` of GPT-3.5's verbalize task0 file and the NYT data;
* fixed mode: the estimate over the options shown (the no-steering item's list), renormalised, aligned by
  option text with the group's own distribution from the dataset loader, scored by the run's metric.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from distalign.data.privacy import read_annotation_csv
from distalign.datasets import NONE_GROUP
from distalign.evaluation.base import Context, vector
from distalign.evaluation.tally import SKIP
from distalign.files import DataError
from distalign.metrics import align_by_text, normalized, tv
from distalign.names import OQA_WAVE
from distalign.results import ResultKey, read_results
from distalign.types import TVRow

ANNOTATIONS = "results/human_annotations"
K_ANNOTATORS = 4
N_FIELDS = {"opinionqa": 7, "nytimes": 4}  # option fields per block in the exports
SURVEYS = {  # (dataset, task) -> file-name globs, concatenated in this order
    ("opinionqa", "task0"): ("Distributional_Alignment_No_Steering_May 21*.csv",),
    ("opinionqa", "task1"): ("Distributional_Alignment_Persona_Steering_May 21*.csv",),
    ("opinionqa", "task3_easy_hard"): ("Distributional_Alignment_FewShot_Steering_May 21*.csv",),
    ("nytimes", "task0"): (
        "Distributional_Alignment_No_Steering - NYT_July 1*.csv",
        "Distributional_Alignment_No_Steering - NYT - V2_July 2*.csv",
    ),
    ("nytimes", "task1"): ("Distributional_Alignment_Persona_Steering - NYT_July 3*.csv",),
    ("nytimes", "task3_easy_hard"): ("Distributional_Alignment_FewShot_Steering - NYT_July 17*.csv",),
}
BLOCKS = {
    ("POLPARTY", "Democrat"): "Q_NoSteering",
    ("POLPARTY", "Republican"): "Q135",
    ("SEX", "Male"): "Q136",
    ("SEX", "Female"): "Q137",
    ("RACE", "Black"): "Q138",
    ("RACE", "White"): "Q139",
}
_FIELD = re.compile(r"^(\d+)_(Q_NoSteering|Q\d+)_(\d+)$")
_EXPECTED_FILE = "opinionqa/express_distribution/gpt-3.5-turbo-0125/task0/{wave}/NONE/Democrat.json"


def read_survey(paths: list[Path]) -> pd.DataFrame:
    """The estimate fields of the concatenated exports (privacy-filtered), without Qualtrics' 2 extra header rows."""
    frames = []
    for path in paths:
        head = read_annotation_csv(path, nrows=2, dtype=str, usecols=lambda c: str(c).startswith("1_"))
        if len(head) < 2 or not head.iloc[1].astype(str).str.contains("ImportId").any():
            raise DataError(f"{path}: expected 2 Qualtrics header rows (question text, ImportId) below the header")
        fields = read_annotation_csv(
            path, usecols=lambda c: bool(_FIELD.match(str(c))), skiprows=[1, 2], low_memory=False
        )
        frames.append(fields)
    return pd.concat(frames, ignore_index=True)


def question_ids(df: pd.DataFrame) -> list[int]:
    """Qualtrics question IDs in order of first appearance.

    >>> question_ids(pd.DataFrame(columns=["QDem_Age", "1_Q138", "1_Q_NoSteering_1", "4_Q135_1", "4_Q135_2"]))
    [1, 4]
    """
    return list(dict.fromkeys(int(m.group(1)) for c in df.columns if (m := _FIELD.match(str(c)))))


class Estimates:
    """The option-estimate fields of a survey as numbers (NaN where empty or non-numeric), read once."""

    def __init__(self, df: pd.DataFrame) -> None:
        cols = [c for c in df.columns if _FIELD.match(str(c))]
        fields = df[cols]
        text = [c for c, dtype in fields.dtypes.items() if not pd.api.types.is_numeric_dtype(dtype)]
        numeric = fields.assign(**{str(c): pd.to_numeric(fields[c], errors="coerce") for c in text})
        self.values = numeric.to_numpy(dtype=float).reshape(len(df), len(cols))
        self.non_numeric = fields.notna().to_numpy() & np.isnan(self.values)
        self.index = {c: i for i, c in enumerate(cols)}

    def first_k_mean(self, columns: list[str], k: int = K_ANNOTATORS) -> tuple[list[float] | None, int]:
        """Mean of the first ``k`` rows whose ``columns`` are all filled, and the number of non-numeric entries.

        >>> est = Estimates(pd.DataFrame({"1_Q135_1": ["10", None, "30", "50", "x"],
        ...                               "1_Q135_2": [90, 5, 70, 50, 1]}))
        >>> est.first_k_mean(["1_Q135_1", "1_Q135_2"], k=2)
        ([20.0, 80.0], 1)
        """
        if not all(c in self.index for c in columns):
            return None, 0
        pos = [self.index[c] for c in columns]
        values = self.values[:, pos]
        complete = values[~np.isnan(values).any(axis=1)][:k]
        bad = int(self.non_numeric[:, pos].sum())
        return (complete.mean(axis=0).tolist(), bad) if len(complete) else (None, bad)


def human_rows(mode: str, results_dir: Path, data_dir: Path, ctx: Context) -> list[TVRow]:
    """One row per (dataset, task) with the per-(group, question) human TVs; missing files are counted skips."""
    folder = data_dir / ANNOTATIONS
    if not folder.is_dir():
        ctx.tally.add(SKIP, None, f"human annotations not found under {folder}")
        return []
    rows = []
    for (dataset, task), globs in SURVEYS.items():
        paths = [p for g in globs for p in sorted(folder.glob(g))]
        if len(paths) < len(globs):
            ctx.tally.add(SKIP, _key(dataset, task), "human survey export missing")
            continue
        tvs = _survey_tvs(mode, read_survey(paths), dataset, task, results_dir, ctx)
        rows.append(TVRow(task, "human", dataset, "", "all", "all", "express_distribution", tuple(tvs)))
    return rows


def _key(dataset: str, task: str) -> ResultKey:
    return ResultKey(dataset, "express_distribution", "human", task, "all", "all")


def _survey_tvs(mode: str, df: pd.DataFrame, dataset: str, task: str, results_dir: Path, ctx: Context) -> list[float]:
    ds = ctx.dataset(dataset)
    qids, ids = ds.question_ids(), question_ids(df)
    if len(ids) != len(qids):
        raise DataError(f"human {dataset} {task} survey: {len(ids)} Qualtrics questions for {len(qids)} questions")
    stored = _stored_expected(results_dir) if (mode == "paper" and dataset == "opinionqa") else {}
    key, out, estimates = _key(dataset, task), [], Estimates(df)
    for group, dem in ds.demographics():
        block = "Q_NoSteering" if task == "task0" else BLOCKS[(group, dem)]
        for qid, qualtrics_id in zip(qids, ids, strict=True):
            cols = [f"{qualtrics_id}_{block}_{k}" for k in range(1, N_FIELDS[dataset] + 1)]
            est, bad = estimates.first_k_mean(cols)
            ctx.tally.add(SKIP, key, "non-numeric human estimate (response not used)", bad)
            score = None if est is None else _score(mode, est, ctx, dataset, qid, group, dem, stored)
            if score is None:
                ctx.tally.add(SKIP, key, "no complete human estimate or no ground truth")
                continue
            out.append(score)
    return out


def _score(
    mode: str, est: list[float], ctx: Context, dataset: str, qid: str, group: str, dem: str, stored: dict[str, dict]
) -> float | None:
    item = ctx.item(dataset, qid, group, dem)
    if mode == "paper":
        rec = stored.get(qid)
        truth = vector(rec, f"expected_results_{group}_{dem}", qid) if rec else None
        if truth is None:  # no stored vector: the data's (identical where both exist)
            truth = list(item.truth.probs) if item.truth else None
        return None if truth is None else tv([v * 0.01 for v in est[: len(truth)]], truth)
    shown = ctx.item(dataset, qid, NONE_GROUP, "Democrat").options
    p = normalized(est[: len(shown)])
    if p is None or item.truth is None:
        return None
    a, b = align_by_text(shown, p, item.options, item.truth.probs)
    return ctx.metric.fn(a, b)


def _stored_expected(results_dir: Path) -> dict[str, dict]:
    """The OQA task0 records whose stored expected vectors the original human baseline used."""
    path = results_dir / _EXPECTED_FILE.format(wave=OQA_WAVE)
    return read_results(path) if path.exists() else {}
