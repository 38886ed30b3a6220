"""What a model's generation run did, its one-line summary (requests, tokens, cost, records, skips), and the exit code.

Exit codes of ``lm_steering.py`` (:func:`exit_status`; the CLI adds 2 for bad arguments, configuration or I/O):

* 0: everything asked for is done (parse failures are data, not errors);
* 1: a model could not start (a missing key or package, nothing listening at ``--base_url``);
* 3: some requests failed permanently (a rerun retries them);
* 4: every request sent failed.

1 wins over 3 and 4 when several models differ. The closing line names the count and the first reason.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from distalign.engine import RunStats
from distalign.engine.costs import cost as estimate_cost
from distalign.engine.costs import format_cost


@dataclass
class ModelReport:
    """What a model's run did."""

    model: str
    priced: bool = True
    stats: RunStats = field(default_factory=RunStats)
    records: int = 0
    already_done: int = 0
    parse_failures: int = 0
    unit_failures: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    not_applicable: list[tuple[str, str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    error: str = ""

    def summary(self) -> str:
        """The closing line: requests sent / cached / failed, tokens, cost, records, skips, n/a pairs."""
        if self.error:
            return f"{self.model}: not run: {self.error}"
        s = self.stats
        usd = estimate_cost(self.model, s.input_tokens, s.output_tokens, self.priced)
        line = (
            f"{self.model}: requests: {s.sent} sent, {s.cached} cached, {s.failed} failed; "
            f"tokens: {s.input_tokens} in, {s.output_tokens} out ({format_cost(usd)}); "
            f"records: {self.records} written, {self.parse_failures} parse failures, "
            f"{self.already_done} already done"
        )
        if self.unit_failures:
            line += f", {self.unit_failures} questions failed (rerun to retry)"
        for error, n in self.errors.most_common(3):
            line += f"\n  {n} x {error}"
        if self.skipped:
            reasons = "; ".join(f"{n} {r}" for r, n in self.skipped.items())
            line += f"; skipped: {sum(self.skipped.values())} ({reasons})"
        for dataset, output_type, reason in self.not_applicable:
            line += f"\n  n/a: {dataset}/{output_type}: {reason}"
        for note in self.notes:
            line += f"\n  note: {note}"
        return line


EXIT_OK, EXIT_NOT_STARTED, EXIT_USAGE, EXIT_SOME_FAILED, EXIT_ALL_FAILED = 0, 1, 2, 3, 4


def exit_status(reports: list[ModelReport]) -> tuple[int, str]:
    """The exit code of a run and its closing line ("" when everything asked for is done).

    >>> ok, down = ModelReport("a"), ModelReport("b", error="b needs KEY")
    >>> exit_status([ok]), exit_status([ok, down])
    ((0, ''), (1, '1 of 2 models could not start; first: b needs KEY'))
    >>> ok.stats.sent, ok.stats.failed, ok.errors["HTTP 500"] = 3, 2, 2
    >>> exit_status([ok])
    (3, '2 of 5 requests sent failed permanently (rerun to retry them); first: HTTP 500')
    """
    down = [r for r in reports if r.error]
    if down:
        return EXIT_NOT_STARTED, f"{len(down)} of {len(reports)} models could not start; first: {down[0].error}"
    failed = sum(r.stats.failed for r in reports)
    if not failed:
        return EXIT_OK, ""
    first = next((e for r in reports for e in r.errors), "unknown")
    answered = sum(r.stats.sent for r in reports)
    retry = "rerun to retry them"
    if not answered:
        return EXIT_ALL_FAILED, f"all {failed} requests sent failed ({retry}); first: {first}"
    count = f"{failed} of {failed + answered} requests sent"
    return EXIT_SOME_FAILED, f"{count} failed permanently ({retry}); first: {first}"
