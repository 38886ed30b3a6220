"""Request log: one JSON line per completed or failed request, appended and flushed line by line (issue #4).

Each line records what was asked and what came back (prompt messages, raw response, parsed
distribution and parse status, token usage, latency, model id / fingerprint, seed, sample index,
cache hit, error), so every number in a result file can be traced to a model reply. Result files stay
in the original layout (SPEC §5); this log is the per-sample record that layout lacks.

Secrets never reach the log: every line passes through :func:`scrub`, which masks the values of the
API-key environment variables and anything shaped like an OpenAI/Anthropic key.

>>> scrub("token sk-ant-api03-abcdefghijklmnopqrstuvwxyz0123 rejected")
'token *** rejected'
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

SECRET_ENV_VARS = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN",
                   "OPENROUTER_API_KEY", "TOGETHER_API_KEY")
_KEY_SHAPE = re.compile(r"\b(?:sk|hf)-[A-Za-z0-9_\-]{16,}|\bhf_[A-Za-z0-9]{16,}")
MASK = "***"


def scrub(text: str) -> str:
    """``text`` with API-key values (from the environment, or key-shaped strings) masked.

    >>> os.environ["OPENAI_API_KEY"] = "not-a-real-key-123"
    >>> scrub("Incorrect API key provided: not-a-real-key-123")
    'Incorrect API key provided: ***'
    >>> del os.environ["OPENAI_API_KEY"]
    """
    for var in SECRET_ENV_VARS:
        value = os.environ.get(var, "")
        if len(value) >= 8 and value in text:
            text = text.replace(value, MASK)
    if "sk-" in text or "hf_" in text or "hf-" in text:  # cheap pre-check: the regex is slow on long lines
        text = _KEY_SHAPE.sub(MASK, text)
    return text


class RunLog:
    """Append-only JSONL request log.

    Args:
        path: the log file (created with its folder); ``None`` logs nothing.
    """

    def __init__(self, path: Path | str | None) -> None:
        self.path = Path(path) if path is not None else None
        self._fh: IO[str] | None = None
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()

    def write(self, record: dict[str, Any]) -> None:
        """Append one record as a JSON line (scrubbed) and flush it."""
        if self._fh is None:
            return
        line = scrub(json.dumps(record, ensure_ascii=False, default=str))
        self._fh.write(line + "\n")
        self._fh.flush()

    def close(self) -> None:
        """Close the file."""
        if self._fh is not None:
            self._fh.close()
            self._fh = None


def read_log(path: Path | str) -> Iterator[dict[str, Any]]:
    """The records of a log; a truncated last line (a killed run) is skipped, other bad lines raise.

    Raises:
        ValueError: a line before the last one is not a JSON object (names file and line).
    """
    with open(path, encoding="utf-8") as fh:
        lines = fh.read().split("\n")
    for i, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            if i == len(lines):  # no newline after it: cut off by a kill
                return
            raise ValueError(f"{path}:{i}: not a JSON line") from None
        if not isinstance(rec, dict):
            raise ValueError(f"{path}:{i}: expected a JSON object")
        yield rec
