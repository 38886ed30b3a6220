"""Counted skips and checks of an evaluation run: nothing is dropped silently (docs/original.md §7.1, §11.1).

Every cell or file that is not scored, and every consistency check that fails (a stored expected vector
that disagrees with the data, a stored vector that the original parser does not reproduce), is counted
under a reason. The counts are printed, written to ``eval_skips.csv`` and summarised in ``leaderboard.md``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from distalign.results import ResultKey

SKIP = "skip"  # a file or cell that was not scored
CHECK = "check"  # a consistency check that failed (the cell was still scored)
INFO = "info"  # how many comparisons a check made (the denominator of a CHECK count)
PARSE_FAILURE = "parse_failure"  # a cell whose output did not parse (fixed mode: scored as uniform)
COLUMNS = ("kind", "dataset", "output_type", "model", "task", "group", "demographic", "reason", "count")


@dataclass
class Tally:
    """Counts of (kind, result file, reason).

    >>> t = Tally()
    >>> t.add(SKIP, ResultKey("opinionqa", "sequence", "gpt-4", "task1", "RACE", "Asian"), "not evaluated", 100)
    >>> t.summary()
    {('skip', 'not evaluated'): 100}
    """

    counts: Counter[tuple[str, ...]] = field(default_factory=Counter)

    def add(self, kind: str, key: ResultKey | None, reason: str, n: int = 1) -> None:
        """Count ``n`` occurrences of ``reason`` for the file ``key`` (``None``: not tied to a result file)."""
        if n <= 0:
            return
        where = (
            ("", "", "", "", "", "")
            if key is None
            else (key.dataset, key.output_type, key.model, key.task, key.group, key.demographic)
        )
        self.counts[(kind, *where, reason)] += n

    def total(self, kind: str, reason_prefix: str = "") -> int:
        """Number of counted occurrences of ``kind`` whose reason starts with ``reason_prefix``."""
        return sum(n for k, n in self.counts.items() if k[0] == kind and k[-1].startswith(reason_prefix))

    def summary(self) -> dict[tuple[str, str], int]:
        """(kind, reason) -> count, over all files, in first-seen order."""
        out: Counter[tuple[str, str]] = Counter()
        for k, n in self.counts.items():
            out[(k[0], k[-1])] += n
        return dict(out)

    def records(self) -> list[dict[str, object]]:
        """One dict per (kind, file, reason) with the columns of ``eval_skips.csv``, sorted."""
        return [dict(zip(COLUMNS, (*k, n), strict=True)) for k, n in sorted(self.counts.items())]
