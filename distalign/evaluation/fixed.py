"""Fixed-mode evaluation: the original's score-affecting defects corrected (docs/original.md §11.1, §11.2).

What differs from paper mode (each item is one row of the errata table):

* ground truth comes from the dataset loaders, not from the vectors stored in result files; stored vectors
  are compared with it and every disagreement is counted;
* predictions of released records are re-read from the stored raw responses with the tolerant parsers
  (:func:`~distalign.parsers.parse_verbalized`, :func:`~distalign.parsers.parse_sequence`); log-prob
  vectors (only the vector survives) are renormalised over the option letters; this package's own records
  are used as stored;
* a parse failure (unparseable text, an all-zero or non-finite vector, ``parse_ok: false``) is scored as
  the uniform distribution over the shown options and counted: every model is scored on the same cells,
  a failure can never improve a score by dropping a hard question, and it costs what a know-nothing answer
  costs; the failure rate is reported next to every score;
* no-steering (task0) outputs are scored against each group's own distribution aligned by option *text*
  (the prompt showed the Democrat dict's options, or the record's ``options``), over the union of options;
* option-count mismatches are skipped and counted, never silently dropped; NYT rows are not duplicated;
* simulated references come from the ground truth alone (:func:`~distalign.evaluation.baselines.truth_simulated`);
* every cell (model, simulated and human rows) is scored by the run's metric (``--metric``, TV by default).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from distalign.bootstrap import child_rng
from distalign.datasets import NONE_GROUP
from distalign.evaluation.base import Records, Semantics, is_own, make_row, response_text, shown_options, vector, where
from distalign.evaluation.baselines import FIXED_KINDS, truth_simulated
from distalign.evaluation.tally import CHECK, INFO, PARSE_FAILURE, SKIP
from distalign.files import DataError
from distalign.metrics import align_by_text, normalized
from distalign.parsers import parse_sequence, parse_verbalized
from distalign.results import ResultKey
from distalign.types import Parsed, SurveyItem, TVRow, letters


@lru_cache(maxsize=1 << 16)
def _parse(output_type: str, text: str, k: int) -> Parsed:
    """The tolerant parser's reading of ``text`` (the parsers are pure; a quarter of the released replies repeat)."""
    parse = parse_verbalized if output_type == "express_distribution" else parse_sequence
    return parse(text, letters(k))


class _Cells:
    """TVs of one row being built."""

    def __init__(self) -> None:
        self.tvs: list[float] = []
        self.qids: list[str] = []
        self.n_fail = 0
        self.n_skipped = 0


class FixedSemantics(Semantics):
    """The corrected evaluation (``--mode fixed``, the default)."""

    name = "fixed"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._datasets: list[str] = []
        self._ahead: dict[str, list[TVRow]] = {}

    # --- predictions ------------------------------------------------------------------------------------
    def prediction(self, key: ResultKey, rec: dict[str, Any], k: int, loc: str) -> tuple[list[float] | None, str]:
        """(distribution over ``k`` letters, "") or (``None``, why it failed)."""
        if is_own(rec) and not rec.get("parse_ok"):
            return None, str(rec.get("parse_error") or "parse_ok is false")
        if not is_own(rec) and key.output_type in ("express_distribution", "sequence"):
            parsed = _parse(key.output_type, response_text(rec), k)
            return (list(parsed.dist.probs), "") if parsed.dist is not None else (None, parsed.reason)
        stored = vector(rec, "avg_actual_results", loc)
        dist = normalized(stored) if stored else None
        return (dist, "") if dist is not None else (None, "stored vector is empty, all zero or not finite")

    # --- rows -------------------------------------------------------------------------------------------
    def file_rows(self, key: ResultKey, records: Records) -> list[TVRow]:
        """One row: each record against the data's distribution for the file's demographic."""
        self._seen(key.dataset)
        cells = _Cells()
        for qid, rec in records.items():
            item = self._item(key, qid, key.group, key.demographic)
            if item is None:
                cells.n_skipped += 1
                continue
            loc = where(key, qid)
            try:
                shown = shown_options(rec, loc) or list(item.options)
                pred, reason = self.prediction(key, rec, len(shown), loc)
                self._check_expected(key, rec, "expected_results", loc, item)
            except DataError:
                self.ctx.tally.add(SKIP, key, "malformed record")
                cells.n_skipped += 1
                continue
            self._score(key, cells, qid, shown, pred, reason, item)
        return [make_row(key, key.group, key.demographic, cells.tvs, cells.qids, cells.n_fail, cells.n_skipped)]

    def task0_rows(self, key: ResultKey, records: Records) -> list[TVRow]:
        """One row per evaluated demographic; the single output is aligned to each group's options by text."""
        self._seen(key.dataset)
        demographics = self.ctx.evaluated(key.dataset)
        rows = {gd: _Cells() for gd in demographics}
        for qid, rec in records.items():
            base = self._item(key, qid, NONE_GROUP, key.demographic)
            if base is None:
                continue
            loc = where(key, qid)
            try:
                shown = shown_options(rec, loc) or list(base.options)
                pred, reason = self.prediction(key, rec, len(shown), loc)
            except DataError:
                self.ctx.tally.add(SKIP, key, "malformed record", len(demographics))
                continue
            for (group, dem), cells in rows.items():
                item = self._item(key, qid, group, dem)
                if item is None:
                    cells.n_skipped += 1
                    continue
                self._check_expected(key, rec, f"expected_results_{group}_{dem}", loc, item)
                self._score(key, cells, qid, shown, pred, reason, item)
        return [make_row(key, g, d, c.tvs, c.qids, c.n_fail, c.n_skipped) for (g, d), c in rows.items()]

    def _item(self, key: ResultKey, qid: str, group: str, dem: str) -> SurveyItem | None:
        """The data cell, or ``None`` (counted) when the data has no such question or no respondents."""
        try:
            item = self.ctx.item(key.dataset, qid, group, dem)
        except DataError:
            self.ctx.tally.add(SKIP, key, "question not in the dataset")
            return None
        if group != NONE_GROUP and item.truth is None:
            self.ctx.tally.add(SKIP, key, f"no ground truth ({group}/{dem} has no respondents)")
            return None
        return item

    def _score(
        self,
        key: ResultKey,
        cells: _Cells,
        qid: str,
        shown: list[str],
        pred: list[float] | None,
        reason: str,
        item: SurveyItem,
    ) -> None:
        if pred is None:
            cells.n_fail += 1
            self.ctx.tally.add(PARSE_FAILURE, key, reason or "parse failed")
            pred = [1.0 / len(shown)] * len(shown)
        if len(pred) != len(shown) or item.truth is None:
            self.ctx.tally.add(SKIP, key, f"option count mismatch ({len(pred)} values, {len(shown)} options shown)")
            cells.n_skipped += 1
            return
        if list(shown) != list(item.options):
            self.ctx.tally.add(INFO, key, "shown options differ from the group's options (scored on the union)")
        p, q = align_by_text(shown, pred, item.options, item.truth.probs)
        cells.tvs.append(self.ctx.metric.fn(p, q))
        cells.qids.append(qid)

    def _check_expected(self, key: ResultKey, rec: dict[str, Any], field: str, loc: str, item: SurveyItem) -> None:
        """Count how the stored expected vector compares with the data (the score uses the data's truth)."""
        try:
            stored = vector(rec, field, loc)
        except DataError:
            self.ctx.tally.add(CHECK, key, "malformed stored expected vector (the data's truth is used)")
            return
        if stored is None or item.truth is None:
            return
        self.ctx.tally.add(INFO, key, "stored expected vectors compared with the data")
        truth = item.truth.probs
        if stored == list(truth):  # the common case, without a comparison per value
            return
        if len(stored) != len(truth) or any(not abs(a - b) <= 1e-6 for a, b in zip(stored, truth, strict=True)):
            self.ctx.tally.add(CHECK, key, "stored expected vector differs from the data")

    # --- simulated rows ---------------------------------------------------------------------------------
    def _seen(self, dataset: str) -> None:
        if dataset not in self._datasets:
            self._datasets.append(dataset)

    def drain(self) -> list[str]:
        """The datasets seen since the last call."""
        seen, self._datasets = self._datasets, []
        return seen

    def absorb(self, state: list[str]) -> None:
        """Mark datasets seen by another process."""
        for dataset in state:
            self._seen(dataset)

    def simulated_ahead(self, datasets: Sequence[str]) -> dict[str, list[TVRow]]:
        """The simulated rows of each dataset (they depend on the data and the seed alone)."""
        return {d: self._dataset_simulated(d) for d in datasets}

    def use_simulated(self, ahead: dict[str, list[TVRow]]) -> None:
        """Rows computed ahead by :meth:`simulated_ahead`."""
        self._ahead.update(ahead)

    def simulated_rows(self) -> list[TVRow]:
        """Sampling floor, uniform, true-mode and least-likely one-hot over every evaluated cell of each dataset."""
        rows = []
        for dataset in self._datasets:
            rows += self._ahead[dataset] if dataset in self._ahead else self._dataset_simulated(dataset)
        return rows

    def _dataset_simulated(self, dataset: str) -> list[TVRow]:
        rows = []
        ds = self.ctx.dataset(dataset)
        for group, dem in ds.demographics():
            items = [self.ctx.item(dataset, q, group, dem) for q in ds.question_ids()]
            items = [it for it in items if it.truth is not None]
            sims = truth_simulated(
                [it.truth.probs for it in items if it.truth],
                child_rng(self.ctx.seed, f"simulated|{dataset}|{group}|{dem}"),
                self.ctx.metric,
            )
            for kind in FIXED_KINDS:
                key = ResultKey(dataset, kind, "simulated", "truth", group, dem)
                rows.append(make_row(key, group, dem, sims[kind], [it.qid for it in items]))
        return rows
