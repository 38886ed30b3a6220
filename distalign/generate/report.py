"""What a model's generation run did, and its one-line summary (requests, tokens, cost, records, skips)."""

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
