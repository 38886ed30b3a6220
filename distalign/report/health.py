"""The run-health page (``health.html``): per model and method, what the run did and what went wrong.

From the request logs (new runs): requests, cache hits, sent, failed (by reason), retries, billed tokens and the
estimated cost (:mod:`distalign.engine.costs`); from the evaluation (released and new generations alike): cells
scored and parse failures (``eval_disagreement_bootstrapping.csv``) with their reasons, and skipped cells
(``eval_skips.csv``). A status per row makes a broken run visible at a glance: ``broken`` when most cells failed to
parse or every request failed, ``check`` when at least 5% did or a request failed, ``ok`` otherwise.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import pandas as pd

from distalign.backends import BackendError, model_capabilities
from distalign.engine.costs import cost, format_cost
from distalign.evaluation.tally import PARSE_FAILURE, SKIP
from distalign.names import METHOD_LABELS, method_label, model_label
from distalign.report.logs import Counts, ModelLog

WARN_RATE, BROKEN_RATE = 0.05, 0.5


@dataclass
class Health:
    """One (model, method) row."""

    model: str
    output_type: str
    scored: int = 0
    parse_failures: int = 0
    failure_reasons: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    counts: Counts | None = None
    log_note: str = ""

    @property
    def method(self) -> str:
        """The method's short label."""
        return method_label(self.output_type)

    @property
    def fail_rate(self) -> float | None:
        """Parse failures per scored cell."""
        return self.parse_failures / self.scored if self.scored else None

    @property
    def status(self) -> str:
        """``broken``, ``check`` or ``ok``."""
        rate, c = self.fail_rate or 0.0, self.counts
        if rate >= BROKEN_RATE or (c is not None and c.requests and c.failed == c.requests):
            return "broken"
        if rate >= WARN_RATE or (c is not None and c.failed):
            return "check"
        return "ok"

    @property
    def cost(self) -> str:
        """Estimated cost of the tokens sent ("" without a log)."""
        c = self.counts
        if c is None:
            return ""
        try:
            priced = model_capabilities(c.model_name or model_label(self.model)).priced
        except (ValueError, ImportError, BackendError):
            priced = True
        return format_cost(cost(c.model_name or model_label(self.model), c.input_tokens, c.output_tokens, priced))


def _rows(cells: pd.DataFrame) -> dict[tuple[str, str], Health]:
    """A row per (model, method) the evaluation scored, with its cells and parse failures."""
    rows: dict[tuple[str, str], Health] = {}
    scored = cells[~cells["Model"].isin(["simulated", "human"])]
    for (model, output_type), group in scored.groupby(["Model", "Output Type"], sort=False):
        key = (str(model), str(output_type))
        row = rows.setdefault(key, Health(*key))
        row.scored += int(group["n"].fillna(0).sum())
        row.parse_failures += int(group["n_parse_fail"].fillna(0).sum())
    return rows


def _add_skips(rows: dict[tuple[str, str], Health], skips: pd.DataFrame | None) -> None:
    if skips is None:
        return
    counted = skips["kind"].isin([PARSE_FAILURE, SKIP]) & ~skips["model"].isin(["human", "simulated", ""])
    for _, s in skips[counted].iterrows():
        row = rows.setdefault((s["model"], s["output_type"]), Health(s["model"], s["output_type"]))
        target = row.failure_reasons if s["kind"] == PARSE_FAILURE else row.skipped
        target[str(s["reason"])] += int(s["count"])


def _add_logs(rows: dict[tuple[str, str], Health], logs: dict[str, ModelLog]) -> None:
    for model, log in logs.items():
        for output_type, counts in log.counts.items():
            rows.setdefault((model, output_type), Health(model, output_type)).counts = counts
        if log.problem:
            for (m, _), row in rows.items():
                if m == model:
                    row.log_note = f"log unreadable: {log.problem}"
    for (model, _), row in rows.items():
        if row.counts is None and not row.log_note:
            row.log_note = "no request log (released generations)" if model not in logs else "not in the request log"


def health(
    cells: pd.DataFrame, skips: pd.DataFrame | None, logs: dict[str, ModelLog], models: list[str]
) -> list[Health]:
    """Every (model, method) row, models in ``models`` order (then others sorted), methods in display order."""
    rows = _rows(cells)
    _add_skips(rows, skips)
    _add_logs(rows, logs)
    order = {m: i for i, m in enumerate(models)}
    methods = list(METHOD_LABELS)

    def rank(key: tuple[str, str]) -> tuple[int, str, int, str]:
        model, output_type = key
        m_rank = methods.index(output_type) if output_type in methods else len(methods)
        return (order.get(model, len(order)), model, m_rank, output_type)

    return [rows[k] for k in sorted(rows, key=rank)]
