"""Question explorer pages (``explore-<model>-<dataset>.html``): every scored question of a model, worst first.

One page per model × dataset, filtered in the browser by method, steering, group and parse status (and a text
search). A page holds its cells as compact JSON (question texts, option lists and prompts stored once, each cell a
list of indices and numbers, see ``assets/explorer.js``); the script shows 50 at a time. A page that would exceed
the page budget is split by method, then by method × steering; pages split that way link to their siblings.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from jinja2.utils import htmlsafe_json_dumps
from markupsafe import Markup

from distalign.names import METHOD_LABELS
from distalign.report.cells import Cell
from distalign.report.leaderboard import STEERING_ORDER, steering_label
from distalign.report.render import PAGE_BUDGET

CHROME = 60_000  # bytes of a page besides its data: stylesheet, scripts, header
FAILURE_NOTE = {
    "fixed": "fixed mode scores a failure as the uniform distribution over the options shown",
    "paper": "paper mode scores the stored vector as it is",
}
NO_PROMPT = "Not recorded: no request log has this cell (released generations come without their prompts)."


@dataclass
class Page:
    """One explorer page: its file, what it covers, its cells and their JSON (HTML-safe, for the page's script)."""

    file: str
    model: str
    dataset: str
    part: str  # "" for a whole model × dataset, else the method (and steering) it is split to
    cells: list[Cell]
    json: Markup

    def __post_init__(self) -> None:
        self.n_cells = len(self.cells)
        self.failures = sum(not c.parsed for c in self.cells)  # cells whose reply did not parse
        self.methods = list(dict.fromkeys(c.method for c in self.cells))

    def release(self) -> None:
        """Drop the cells and their JSON once the page is written (the counts stay)."""
        self.cells, self.json = [], Markup("")


def slug(text: str) -> str:
    """A file-name-safe form of a model, dataset or method name.

    >>> slug("local__smollm2-135m-instruct"), slug("TS-Log-p CV"), slug("ollama/llama3:8b")
    ('local__smollm2-135m-instruct', 'TS-Log-p_CV', 'ollama_llama3_8b')
    """
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "_"


def _ordered(values: Sequence[str], order: Sequence[str]) -> list[str]:
    found = list(dict.fromkeys(values))
    return [v for v in order if v in found] + [v for v in found if v not in order]


def _table(values: list[Any]) -> tuple[list[Any], dict[Any, int]]:
    """Distinct values in first-seen order and the index of each."""
    index: dict[Any, int] = {}
    for v in values:
        index.setdefault(v, len(index))
    return list(index), index


def payload(cells: list[Cell], metric: str, mode: str) -> dict[str, Any]:
    """The page's data: lookup tables and one compact list per cell (the order of ``cells`` is kept)."""
    methods = _ordered([c.method for c in cells], list(METHOD_LABELS.values()))
    steering = _ordered([c.steering for c in cells], [steering_label(t) for t in STEERING_ORDER])
    groups = list(dict.fromkeys(c.group for c in cells))
    questions, q_index = _table([(c.qid, c.text, c.details) for c in cells])
    options, o_index = _table([c.options for c in cells])
    prompts, p_index = _table([c.prompt for c in cells if c.prompt])
    m_index, s_index, g_index = ({v: i for i, v in enumerate(x)} for x in (methods, steering, groups))
    return {
        "metric": metric,
        "failure_note": FAILURE_NOTE.get(mode, "failures are scored as the evaluation's mode says"),
        "no_prompt": NO_PROMPT,
        "methods": methods,
        "steering": steering,
        "groups": groups,
        "questions": [list(q) for q in questions],
        "options": [list(o) for o in options],
        "prompts": prompts,
        "cells": [
            [
                q_index[(c.qid, c.text, c.details)],
                m_index[c.method],
                s_index[c.steering],
                g_index[c.group],
                c.score,
                int(c.parsed),
                o_index[c.options],
                c.human,
                c.model,
                c.reply,
                c.error,
                p_index[c.prompt] if c.prompt else -1,
            ]
            for c in cells
        ],
    }


def page_json(cells: list[Cell], metric: str, mode: str) -> Markup:
    """The cells' JSON, safe inside a ``<script>`` element (``<``, ``>``, ``&`` and ``'`` escaped)."""
    return htmlsafe_json_dumps(payload(cells, metric, mode), separators=(",", ":"), ensure_ascii=False)


def size(data: Markup) -> int:
    """Bytes a page with this JSON would take (the JSON plus the page around it)."""
    return len(data.encode("utf-8")) + CHROME


SPLITS: tuple[Callable[[Cell], str], ...] = (
    lambda c: c.method,
    lambda c: f"{c.method} · {c.steering}",
)


def pages(model: str, dataset: str, cells: list[Cell], metric: str, mode: str, budget: int = PAGE_BUDGET) -> list[Page]:
    """The explorer pages of one model × dataset: one page, or split by method (then steering) to fit ``budget``."""
    base = f"explore-{slug(model)}-{slug(dataset)}"
    whole = page_json(cells, metric, mode)
    if size(whole) <= budget:
        return [Page(f"{base}.html", model, dataset, "", cells, whole)]
    for split in SPLITS:
        parts: dict[str, list[Cell]] = {}
        for c in cells:
            parts.setdefault(split(c), []).append(c)
        data = {part: page_json(p, metric, mode) for part, p in parts.items()}
        if all(size(d) <= budget for d in data.values()) or split is SPLITS[-1]:
            return [Page(f"{base}-{slug(part)}.html", model, dataset, part, parts[part], data[part]) for part in parts]
    raise AssertionError("unreachable")
