"""Paper-mode evaluation: the original release's semantics, quirks included, on purpose.

Mirrors docs/original.md §7.1–§7.3, §11.1.

Reproduces the released eval CSV and leaderboards from the released generations:

* TV = ½·L1 between the stored ``avg_actual_results`` vector *as is* and the stored ``expected_results``;
  a length mismatch gives NaN, which is dropped; an empty prediction is skipped; an all-zero prediction
  (the original parsers' silent failure) scores ½·Σp* and is counted as a silent failure; a stored value
  outside [0, 1] (infinities included) is no probability: that record is skipped and counted (TV ≤ 1 always);
* records written by this package's generation stage (they carry ``parse_ok``) are re-read with the
  original parsers (:func:`~distalign.parsers.paper_verbalize`, :func:`~distalign.parsers.paper_sequence`,
  GlobalValues' float-tolerant verbalize variant and untruncated sequences), so new models are scored the
  way the paper scored its own; for released records the parsers are re-applied only as a check;
* OQA no-steering (task0) is scored against the survey-order ``MC_options`` walk (the misalignment of
  docs/original.md §7.1), NYT task0 against the stored ``expected_results_<GROUP>_<dem>``;
* NYT steered rows are duplicated once per group folder (docs/original.md §7.3);
* simulated rows come from GPT-3.5's sequence outputs (task0 for OQA/NYT, task1 for GlobalValues), with
  the ground-truth simulation's early stop (:func:`~distalign.evaluation.baselines.paper_simulated`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np

from distalign.bootstrap import child_rng
from distalign.datasets.opinionqa import OpinionQA
from distalign.evaluation.base import Records, Semantics, is_own, make_row, response_text, vector, where
from distalign.evaluation.baselines import PAPER_KINDS, paper_simulated
from distalign.evaluation.tally import CHECK, INFO, SKIP
from distalign.files import DataError
from distalign.metrics import tv_or_nan
from distalign.parsers import paper_sequence, paper_verbalize
from distalign.results import ResultKey
from distalign.types import TVRow, letters

SIM_MODEL, SIM_METHOD = "gpt-3.5-turbo-0125", "sequence"  # the source of the original's simulated rows
SIM_TASK = {"opinionqa": "task0", "nytimes": "task0", "globalvalues": "task1"}
PARSED_TYPES = ("express_distribution", "sequence")
PROB_TOLERANCE = 1e-6  # stored probabilities may miss [0, 1] by rounding, not by more
OUT_OF_RANGE = "stored value outside [0, 1]: not a probability (skipped)"
ExpectedFn = Callable[[str, dict[str, Any], list[float], str], "list[float] | None"]
Made = list[tuple[str, dict[str, Any], str, "list[float] | None | DataError", bool]]  # see _predictions


class PaperSemantics(Semantics):
    """The original evaluation (``--mode paper``)."""

    name = "paper"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._simulated: list[TVRow] = []
        self._survey_options: dict[str, list[str]] = {}

    # --- predictions ------------------------------------------------------------------------------------
    def prediction(self, key: ResultKey, rec: dict[str, Any], k: int, loc: str) -> list[float] | None:
        """p̂ as the paper scored it: the stored vector, or the paper parsers on this package's records."""
        if not is_own(rec):
            stored = vector(rec, "avg_actual_results", loc)
            if stored and self.ctx.check_parsers and key.output_type in PARSED_TYPES:
                self.ctx.tally.add(INFO, key, "stored vectors re-parsed with the original parser")
                self._check_parser(key, rec, stored)
            return stored
        return self._reparse(key, rec, k, loc)

    def _reparse(self, key: ResultKey, rec: dict[str, Any], k: int, loc: str) -> list[float]:
        gv = key.dataset == "globalvalues"
        if key.output_type == "express_distribution":
            return paper_verbalize(response_text(rec), letters(k), floats_ok=gv)
        if key.output_type == "sequence":
            return paper_sequence(response_text(rec), letters(k), truncate=not gv)
        return vector(rec, "avg_actual_results", loc) or [0.0] * k

    def _check_parser(self, key: ResultKey, rec: dict[str, Any], stored: list[float]) -> None:
        redo = self._reparse(key, rec, len(stored), "")
        if not np.allclose(redo, stored, atol=1e-6):
            self.ctx.tally.add(CHECK, key, "stored vector not reproduced by the original parser")

    # --- rows -------------------------------------------------------------------------------------------
    def file_rows(self, key: ResultKey, records: Records) -> list[TVRow]:
        """One row: stored prediction vs stored ``expected_results``."""

        def expected(qid: str, rec: dict[str, Any], pred: list[float], loc: str) -> list[float] | None:
            return vector(rec, "expected_results", loc)

        return [self._row(key, key.group, key.demographic, records, expected)]

    def task0_rows(self, key: ResultKey, records: Records) -> list[TVRow]:
        """One row per evaluated demographic, against the walked (OQA) or stored (NYT) expected vectors."""
        rows = []
        preds = None if self.ctx.check_parsers else self._predictions(key, records)  # once for every demographic
        for group, dem in self.ctx.evaluated(key.dataset):
            if key.dataset == "opinionqa":
                rows.append(self._row(key, group, dem, records, self._walker(group, dem), preds))
            else:
                rows.append(self._row(key, group, dem, records, _stored(f"expected_results_{group}_{dem}"), preds))
        return rows

    def _walker(self, group: str, dem: str) -> ExpectedFn:
        """The original OQA task0 expected vector: letter j = the group's share of ``MC_options[j]``."""
        ds = self.ctx.dataset("opinionqa")
        if not isinstance(ds, OpinionQA):
            raise TypeError("the MC_options walk needs the OpinionQA loader")

        def walk(qid: str, rec: dict[str, Any], pred: list[float], loc: str) -> list[float]:
            item = self.ctx.item("opinionqa", qid, group, dem)
            share = dict(zip(item.options, item.truth.probs, strict=True)) if item.truth else {}
            if qid not in self._survey_options:
                self._survey_options[qid] = ds.survey_options(qid)
            return [share.get(o, 0.0) for o in self._survey_options[qid][: len(pred)]]

        return walk

    def _row(
        self, key: ResultKey, group: str, dem: str, records: Records, expected: ExpectedFn, made: Made | None = None
    ) -> TVRow:
        preds, exps, qids = self._cells(key, self._predictions(key, records) if made is None else made, expected)
        tvs = [tv_or_nan(p, e) for p, e in zip(preds, exps, strict=True)]
        mismatch = sum(1 for p, e in zip(preds, exps, strict=True) if len(p) != len(e))
        tally, n_nan = self.ctx.tally, int(np.isnan(tvs).sum())
        tally.add(SKIP, key, "option count differs from the expected vector (NaN, dropped as the original)", mismatch)
        tally.add(SKIP, key, "non-finite stored value (NaN, dropped as in the original)", n_nan - mismatch)
        silent = sum(1 for p, t in zip(preds, tvs, strict=True) if not any(p) and t == t)
        self._simulate(key, group, dem, preds, exps)
        return make_row(key, group, dem, tvs, qids, n_fail=silent)

    def _predictions(self, key: ResultKey, records: Records) -> Made:
        """Per record: (qid, record, location, prediction or its DataError, prediction outside [0, 1])."""
        out: Made = []
        for qid, rec in records.items():
            loc = where(key, qid)
            try:
                pred = self.prediction(key, rec, _n_letters(rec), loc)
            except DataError as e:
                out.append((qid, rec, loc, e, False))
                continue
            out.append((qid, rec, loc, pred, pred is not None and bool(pred) and out_of_range(pred)))
        return out

    def _cells(
        self, key: ResultKey, made: Made, expected: ExpectedFn
    ) -> tuple[list[list[float]], list[list[float]], list[str]]:
        preds, exps, qids = [], [], []
        for qid, rec, loc, pred, bad in made:
            try:
                if isinstance(pred, DataError):
                    raise pred
                exp = expected(qid, rec, pred or [], loc)
            except DataError:
                self.ctx.tally.add(SKIP, key, "malformed record")
                continue
            if not pred or exp is None:
                self.ctx.tally.add(SKIP, key, "empty prediction or no expected vector (skipped as in the original)")
                continue
            if bad or out_of_range(exp):
                self.ctx.tally.add(SKIP, key, OUT_OF_RANGE)
                continue
            preds.append(pred)
            exps.append(exp)
            qids.append(qid)
        return preds, exps, qids

    # --- simulated rows ---------------------------------------------------------------------------------
    def _simulate(
        self, key: ResultKey, group: str, dem: str, preds: list[list[float]], exps: list[list[float]]
    ) -> None:
        if (key.model, key.output_type, key.task) != (SIM_MODEL, SIM_METHOD, SIM_TASK.get(key.dataset)):
            return
        rng = child_rng(self.ctx.seed, f"simulated|{key.dataset}|{group}|{dem}")
        sims = paper_simulated(list(zip(preds, exps, strict=True)), rng)
        for kind in PAPER_KINDS:
            sim_key = ResultKey(key.dataset, kind, "simulated", key.task, group, dem)
            tvs = sims[kind]
            self._simulated.append(make_row(sim_key, group, dem, tvs, [""] * len(tvs), wave=key.wave))

    def simulated_rows(self) -> list[TVRow]:
        """The rows gathered while evaluating GPT-3.5's sequence files."""
        return list(self._simulated)

    def drain(self) -> list[TVRow]:
        """The simulated rows gathered since the last call."""
        rows, self._simulated = self._simulated, []
        return rows

    def absorb(self, state: list[TVRow]) -> None:
        """Append simulated rows gathered by another process."""
        self._simulated += state

    def finish(self, rows: list[TVRow]) -> list[TVRow]:
        """Duplicate NYT steered rows once per group folder of their task, as the original does."""
        waves: dict[tuple[str, str, str], list[str]] = {}
        for r in rows:
            if r.dataset == "nytimes" and r.task != "task0":
                waves.setdefault((r.model, r.output_type, r.task), []).append(r.group)
        out, done = [], set()
        for r in rows:
            combo = (r.model, r.output_type, r.task)
            if r.dataset != "nytimes" or combo not in waves:
                out.append(r)
            elif combo not in done:
                done.add(combo)
                block = [x for x in rows if x.dataset == "nytimes" and (x.model, x.output_type, x.task) == combo]
                out += [replace(x, wave=w) for w in sorted(set(waves[combo])) for x in block]
        return out


def out_of_range(values: list[float]) -> bool:
    """Whether a stored vector holds a value no probability can take (NaN is left to the original's NaN path).

    >>> out_of_range([0.2, 0.8]), out_of_range([1e300, 0.0]), out_of_range([-0.5, 1.5]), out_of_range([float("nan")])
    (False, True, True, False)
    """
    return any(map((-PROB_TOLERANCE).__gt__, values)) or any(map((1 + PROB_TOLERANCE).__lt__, values))


def _stored(field: str) -> ExpectedFn:
    def expected(qid: str, rec: dict[str, Any], pred: list[float], loc: str) -> list[float] | None:
        return vector(rec, field, loc)

    return expected


def _n_letters(rec: dict[str, Any]) -> int:
    """How many options the record's prompt showed (its ``options``, else its stored vectors' length)."""
    for name in ("options", "avg_actual_results", "expected_results"):
        if isinstance(rec.get(name), list | dict):
            return len(rec[name])
    return 0
