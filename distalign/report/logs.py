"""The request logs of new runs (``<results_dir>/logs/<model>.jsonl``), read once for the explorer and run health.

Each log line is one request (:func:`distalign.generate.records.log_record`): its cell (dataset, output type, task,
group, demographic, question), the messages sent (on sample 0 and on failures), the raw reply, whether it was a
cache hit, the attempts it took, the error of a failure and the billed tokens. Released generations have no log;
their replies come from the result files.
"""

from __future__ import annotations

import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from distalign.engine.runlog import read_log
from distalign.names import steering_of

CellKey = tuple[str, str, str, str, str, str]  # dataset, output type, task, group, demographic, question


@dataclass(frozen=True)
class Exchange:
    """What was sent for one cell and what came back (sample 0)."""

    prompt: str
    reply: str


@dataclass
class Counts:
    """Request counters of one (model, method), as the run's closing summary counts them."""

    requests: int = 0
    sent: int = 0
    cached: int = 0
    failed: int = 0
    retries: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    runs: set[str] = field(default_factory=set)
    model_name: str = ""

    def add(self, line: dict[str, Any]) -> None:
        """Count one log line."""
        self.requests += 1
        self.runs.add(str(line.get("run_id", "")))
        self.model_name = str(line.get("model", self.model_name))
        attempts = _int(line.get("attempts"))
        self.retries += max(0, attempts - 1)
        if not line.get("ok", True):
            self.failed += 1
            self.errors[str(line.get("error") or "unknown error")] += 1
        elif line.get("cached"):
            self.cached += 1
        else:
            self.sent += 1
            self.input_tokens += _int(line.get("input_tokens"))
            self.output_tokens += _int(line.get("output_tokens"))


@dataclass
class ModelLog:
    """One model's log: the exchange of every cell and the counters per output type."""

    exchanges: dict[CellKey, Exchange] = field(default_factory=dict)
    counts: dict[str, Counts] = field(default_factory=dict)
    problem: str = ""


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def cell_key(dataset: str, output_type: str, task: str, group: str, demographic: str, qid: str) -> CellKey:
    """The key of a cell; no-steering cells (one prompt scored against every group) drop the group.

    >>> cell_key("nytimes", "sequence", "task0", "NONE", "Democrat", "Book") == cell_key(
    ...     "nytimes", "sequence", "task0", "NONE", "NONE", "Book")
    True
    """
    try:
        none = steering_of(task) == "none"
    except ValueError:
        none = False
    return (dataset, output_type, task, "" if none else group, "" if none else demographic, qid)


def prompt_text(messages: object) -> str:
    """The chat messages of a log line as one text, each message under its role.

    >>> print(prompt_text([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Q?"}]))
    [system]
    Be brief.
    <BLANKLINE>
    [user]
    Q?
    """
    if not isinstance(messages, list):
        return ""
    parts = [f"[{m.get('role', '')}]\n{m.get('content', '')}" for m in messages if isinstance(m, dict)]
    return "\n\n".join(parts)


def _exchange(log: ModelLog, line: dict[str, Any]) -> None:
    """Keep the latest answered sample 0 of a cell (a rerun's line replaces an older one)."""
    if not line.get("ok", True) or _int(line.get("sample_index")) != 0:
        return
    fields = ("dataset", "output_type", "task", "group", "demographic", "qid")
    key = cell_key(*(str(line.get(f, "")) for f in fields))
    prompt = prompt_text(line.get("messages")) or (log.exchanges[key].prompt if key in log.exchanges else "")
    log.exchanges[key] = Exchange(prompt, str(line.get("response") or ""))


def read_model_log(path: Path) -> ModelLog:
    """One model's log; an unreadable log is reported in ``problem``, never fatal for the report."""
    log = ModelLog()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a truncated last line (a killed run) is skipped
            for line in read_log(path):
                log.counts.setdefault(str(line.get("output_type", "")), Counts()).add(line)
                _exchange(log, line)
    except (OSError, ValueError) as e:
        log.problem = str(e)
    return log


def read_logs(logs_dir: Path) -> dict[str, ModelLog]:
    """Model folder name -> its log, for every ``*.jsonl`` in ``logs_dir`` (none when the folder is absent)."""
    if not logs_dir.is_dir():
        return {}
    return {path.stem: read_model_log(path) for path in sorted(logs_dir.glob("*.jsonl"))}
