"""Human baseline: how well k = 4 people estimate a group's answer distribution (docs/original.md §7.6, §11.1.15).

Prolific annotators saw a survey question with the same lettered options as the models and typed a
percentage per option for a target group. Per (question, group) the first ``K_ANNOTATORS`` complete
responses, in file order, are averaged per option. The exports are read only through the privacy-safe
loaders of :mod:`distalign.data.privacy`; their 2 extra Qualtrics header rows are dropped. Exports whose
estimates are all plain decimals (the released ones) are read as text and converted in one step
(:func:`survey_estimates`, exact: at most 14 digits convert to the same double in any correct parser); any
other export goes through pandas as before.

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
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from distalign.data.privacy import read_annotation_csv, read_annotation_table
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
_PLAIN = re.compile(r"(?:-?\d+(?:\.\d+)?\n)*")  # one plain decimal a line (a text fast path, see module doc)
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


def question_ids(df: pd.DataFrame | Sequence[str]) -> list[int]:
    """Qualtrics question IDs in order of first appearance (of a survey frame's columns, or of column names).

    >>> question_ids(pd.DataFrame(columns=["QDem_Age", "1_Q138", "1_Q_NoSteering_1", "4_Q135_1", "4_Q135_2"]))
    [1, 4]
    """
    names = df.columns if isinstance(df, pd.DataFrame) else df
    return list(dict.fromkeys(int(m.group(1)) for c in names if (m := _FIELD.match(str(c)))))


def survey_estimates(paths: list[Path]) -> tuple[Estimates, list[int]]:
    """The estimates and Qualtrics question IDs of the concatenated exports (the text fast path where it applies)."""
    tables = [read_annotation_table(p, lambda c: c.startswith("1_") or bool(_FIELD.match(c))) for p in paths]
    plain = [t for t in tables if t is not None]
    if len(plain) == len(paths) and all(t[0] == plain[0][0] for t in plain):
        cells = [_header_checked(p, *t) for p, t in zip(paths, plain, strict=True)]
        pos = [i for i, c in enumerate(plain[0][0]) if _FIELD.match(c)]
        values = _plain_values(pos, [row for rows in cells for row in rows], len(plain[0][0]))
        if values is not None:
            fields = [plain[0][0][i] for i in pos]
            return Estimates.of(fields, values), question_ids(fields)
    df = read_survey(paths)
    return Estimates(df), question_ids(df)


def _header_checked(path: Path, names: list[str], rows: list[tuple[str, ...]]) -> list[tuple[str, ...]]:
    """The response rows of one export (below its 2 extra header rows), which :func:`read_survey` also checks."""
    first = [i for i, c in enumerate(names) if c.startswith("1_")]
    if len(rows) < 2 or not any("ImportId" in rows[1][i] for i in first):
        raise DataError(f"{path}: expected 2 Qualtrics header rows (question text, ImportId) below the header")
    return rows[2:]


def _plain_values(pos: list[int], rows: list[tuple[str, ...]], width: int) -> np.ndarray | None:
    """The numbers of columns ``pos`` (NaN where empty), or ``None`` if a value is not a plain decimal."""
    text = np.array(rows, dtype=object).reshape(len(rows), width)[:, pos]
    filled = text.astype(bool)
    values = text[filled].tolist()
    if values and (max(map(len, values)) > 15 or not _PLAIN.fullmatch("\n".join(values) + "\n")):
        return None
    out = np.full(text.shape, np.nan)
    out[filled] = np.array(values, dtype=float)
    return out


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

    @classmethod
    def of(cls, columns: list[str], values: np.ndarray) -> Estimates:
        """Estimates from a (rows, columns) matrix of numbers, NaN where empty (no non-numeric entry).

        >>> Estimates.of(["1_Q135_1", "1_Q135_2"], np.array([[10.0, 90.0], [np.nan, 5.0]])).first_k_mean(
        ...     ["1_Q135_1", "1_Q135_2"])
        ([10.0, 90.0], 0)
        """
        est = cls.__new__(cls)
        est.values, est.non_numeric = values, np.zeros(values.shape, dtype=bool)
        est.index = {c: i for i, c in enumerate(columns)}
        return est

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
        tvs = _survey_tvs(mode, survey_estimates(paths), dataset, task, results_dir, ctx)
        rows.append(TVRow(task, "human", dataset, "", "all", "all", "express_distribution", tuple(tvs)))
    return rows


def _key(dataset: str, task: str) -> ResultKey:
    return ResultKey(dataset, "express_distribution", "human", task, "all", "all")


def _survey_tvs(
    mode: str, survey: tuple[Estimates, list[int]], dataset: str, task: str, results_dir: Path, ctx: Context
) -> list[float]:
    ds = ctx.dataset(dataset)
    (estimates, ids), qids = survey, ds.question_ids()
    if len(ids) != len(qids):
        raise DataError(f"human {dataset} {task} survey: {len(ids)} Qualtrics questions for {len(qids)} questions")
    stored = _stored_expected(results_dir) if (mode == "paper" and dataset == "opinionqa") else {}
    key, out = _key(dataset, task), []
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
