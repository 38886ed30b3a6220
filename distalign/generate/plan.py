"""Planning: the evaluated demographics, the result files ("cells") of a run and their questions.

Mirrors docs/original.md §4, §5.

A cell is one result file of (dataset, output type, model, task, group, demographic); a :class:`Unit` is one
question of a cell, with its requests built by the :class:`Preparer` (steered prompt -> expression method), or
the reason it is skipped. task0 (no steering) is one cell, ``NONE/Democrat.json``, whose records carry the
truth of every evaluated demographic (docs/original.md §4.1).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

from distalign.datasets import NONE_GROUP, SurveyDataset, load_dataset
from distalign.expression.base import ExpressionMethod, MethodConfig
from distalign.files import DataError, safe_component
from distalign.generate.config import Plugins, RunConfig
from distalign.names import model_dir, task_dir
from distalign.results import ResultKey
from distalign.types import Capabilities, Request, SurveyItem

TASK0_FILE = ("NONE", "Democrat")  # task0's result file: group folder and demographic file name (docs/original.md §4.1)


def evaluated(ds: SurveyDataset, groups: tuple[str, ...] | None, all_dems: bool = False) -> list[tuple[str, str]]:
    """The (group, demographic) pairs to evaluate.

    No groups: the paper's (``ds.demographics()``). A group evaluates its paper demographics, or all of
    them with ``all_dems``. A demographic may be named directly (GlobalValues positions ``0``, ``1``, ``2``;
    ``Democrat``). ``NONE`` is ignored (no steering is task 0, which runs whenever task 0 is asked for).
    """
    defaults = ds.demographics()
    known: dict[str, list[str]] = {}
    for g, d in defaults:
        known.setdefault(g, []).append(d)
    if all_dems:
        everything = ds.all_demographics()
        known = {g: everything.get(g, dems) for g, dems in known.items()}
    out: dict[tuple[str, str], None] = {}
    for group in groups if groups else list(known):
        if group == NONE_GROUP:
            continue
        if group in known:
            out.update(dict.fromkeys((group, d) for d in known[group]))
        elif any(d == group for _, d in defaults):
            out.update(dict.fromkeys((g, d) for g, d in defaults if d == group))
        else:
            valid = ", ".join([*known, *(d for _, d in defaults)])
            raise ValueError(f"unknown demographic group {group!r} for {ds.name}; valid: {valid}")
    for group, dem in out:  # names read from data files become folder and file names
        safe_component(group, "group", f"{ds.name} data under {ds.root}")
        safe_component(dem, "demographic", f"{ds.name} data under {ds.root}")
    return list(out)


@dataclass(frozen=True)
class Cell:
    """One result file: the items of (dataset, output type, model, task, group, demographic).

    Attributes:
        key: the result file.
        task: task number.
        group: the group passed to ``ds.item`` (``NONE`` for task0).
        demographic: the demographic passed to ``ds.item``.
        expected: task0's evaluated (group, demographic) pairs (truth fields of every record).
    """

    key: ResultKey
    task: int
    group: str
    demographic: str
    expected: tuple[tuple[str, str], ...] = ()


def plan_cells(ds: SurveyDataset, cfg: RunConfig, plugins: Plugins, model: str, output_type: str) -> list[Cell]:
    """The cells of one (dataset, model, output type), in task then demographic order."""
    dems = evaluated(ds, cfg.groups, cfg.all_demographics)
    cells = []
    for task in cfg.tasks:
        folder = _task_folder(task, cfg)
        if task == 0:
            if not ds.no_steering:
                continue  # e.g. GlobalValues (NO_TASK0_NOTE)
            key = ResultKey(ds.name, output_type, model_dir(model), folder, *TASK0_FILE)
            cells.append(Cell(key, 0, NONE_GROUP, NONE_GROUP, tuple(dems or ds.demographics())))
            continue
        for group, dem in dems:
            name = _file_name(ds, cfg, plugins, task, group, dem)
            cells.append(Cell(ResultKey(ds.name, output_type, model_dir(model), folder, group, name), task, group, dem))
    return cells


def _task_folder(task: int, cfg: RunConfig) -> str:
    """The task folder; the shuffled-labels ablation gets its own (``task3_easy_hard_shuffled_labels``)."""
    folder = task_dir(task, cfg.task3_type)
    return f"{folder}_shuffled_labels" if cfg.shuffled_labels and task in (2, 3) else folder


def _file_name(ds: SurveyDataset, cfg: RunConfig, plugins: Plugins, task: int, group: str, dem: str) -> str:
    """The demographic file name: the demographic, or its fictitious name in the ablation (``Foo.json``)."""
    if not cfg.ficticious_group:
        return dem
    item = ds.item(ds.question_ids()[0], group, dem)
    return plugins.persona_name(item, steering_config(cfg, plugins, task))


def steering_config(cfg: RunConfig, plugins: Plugins, task: int) -> Any:
    """The steering configuration of a task."""
    return plugins.steering_config(
        task=task_dir(task, cfg.task3_type),
        prompts_dir=cfg.prompts_dir,
        seed=cfg.seed,
        ficticious_group=cfg.ficticious_group,
        shuffled_labels=cfg.shuffled_labels,
    )


def method_config(cfg: RunConfig, caps: Capabilities) -> MethodConfig:
    """Sampling settings of a run for a backend."""
    top = min(20, caps.max_top_logprobs) if caps.logprobs else 0
    return MethodConfig(
        temperature=cfg.temperature, seed=cfg.seed, n_samples=cfg.n_samples, top_logprobs=top, max_tokens=cfg.max_tokens
    )


@dataclass(frozen=True)
class Unit:
    """One question of a cell, ready to send (or the reason it is skipped)."""

    cell: Cell
    qid: str
    item: SurveyItem | None = None
    requests: tuple[Request, ...] = ()
    skip: str = ""


class Preparer:
    """Builds the :class:`Unit` of each pending question of a dataset."""

    def __init__(
        self, ds: SurveyDataset, cfg: RunConfig, plugins: Plugins, method: ExpressionMethod, caps: Capabilities
    ) -> None:
        self.ds, self.cfg, self.plugins, self.method, self.caps = ds, cfg, plugins, method, caps
        self.mcfg = method_config(cfg, caps)
        self._steering = {t: steering_config(cfg, plugins, t) for t in cfg.tasks}

    def unit(self, cell: Cell, qid: str) -> Unit:
        """The unit of question ``qid`` of ``cell``."""
        item = self.ds.item(qid, cell.group, cell.demographic)
        if not item.options:
            return Unit(cell, qid, item, skip="no options shown for this demographic")
        if cell.task != 0 and item.truth is None:
            return Unit(cell, qid, item, skip="no human distribution for this demographic")
        try:
            messages = self.plugins.build_messages(self.ds, item, cell.key.output_type, self._steering[cell.task])
        except DataError:
            raise
        except ValueError as e:
            return Unit(cell, qid, item, skip=f"not promptable: {e}")
        requests = self.method.requests(item, messages, self.mcfg, caps=self.caps, task=cell.key.task)
        return Unit(cell, qid, item, tuple(_with_meta(r, cell, item) for r in requests))

    def settings_requests(self, cell: Cell, qid: str) -> tuple[Request, ...]:
        """The requests of ``qid`` with an empty prompt: their settings without the cost of building the prompt."""
        item = self.ds.item(qid, cell.group, cell.demographic)
        if not item.options or (cell.task != 0 and item.truth is None):
            return ()
        return tuple(self.method.requests(item, (), self.mcfg, caps=self.caps, task=cell.key.task))

    def expected(self, cell: Cell, item: SurveyItem) -> dict[str, dict[str, float]]:
        """The truth fields of a record: ``expected_results``, or task0's per-demographic fields."""
        if cell.task != 0:
            assert item.truth is not None
            return {"expected_results": item.truth.as_dict()}
        out = {}
        for group, dem in cell.expected:
            truth = self.ds.item(item.qid, group, dem).truth
            if truth is not None:
                out[f"expected_results_{group}_{dem}"] = truth.as_dict()
        return out


def _with_meta(request: Request, cell: Cell, item: SurveyItem) -> Request:
    """``request`` with bookkeeping (never sent, not in the cache key) for logs and the fake oracle."""
    meta = {
        "dataset": item.dataset,
        "qid": item.qid,
        "group": cell.key.group,
        "demographic": cell.key.demographic,
        "task": cell.key.task,
        "output_type": cell.key.output_type,
        "letters": "".join(item.letters),
    }
    if item.truth is not None:
        meta["truth"] = json.dumps(list(item.truth.probs))
    return replace(request, meta=tuple({**meta, **dict(request.meta)}.items()))


def load_datasets(cfg: RunConfig) -> dict[str, SurveyDataset]:
    """The datasets of a run, in the order given."""
    return {name: load_dataset(name, cfg.data_dir) for name in cfg.datasets}
