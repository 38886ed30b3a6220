"""A model's pending work: the capability check, n/a markers, resume, and the units still to run.

Mirrors docs/original.md §4, §5.

An unsupported (model, method) pair writes an ``_na.json`` marker and is reported, never run. A question already
in its result file is done; the others are grouped per dataset/method into a :class:`Work`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from distalign.datasets import SurveyDataset
from distalign.files import write_json
from distalign.generate.config import Plugins, RunConfig
from distalign.generate.plan import Cell, Preparer, Unit, plan_cells
from distalign.generate.records import ResultFile
from distalign.generate.report import ModelReport
from distalign.names import model_dir
from distalign.results import ResultKey, na_path, result_path
from distalign.types import Capabilities

NO_TASK0_NOTE = "{} has no task 0 (no no-steering prompt, as in the paper); not run"


@dataclass
class Work:
    """The pending units of a model, grouped per dataset/method, and their result files."""

    preparers: dict[tuple[str, str], Preparer] = field(default_factory=dict)
    cells: list[tuple[Cell, list[str]]] = field(default_factory=list)
    files: dict[ResultKey, ResultFile] = field(default_factory=dict)

    @property
    def total(self) -> int:
        """Number of pending questions."""
        return sum(len(qids) for _, qids in self.cells)

    def units(self) -> Iterator[Unit]:
        """The pending units, cell by cell, built as they are consumed."""
        for cell, qids in self.cells:
            prep = self.preparers[(cell.key.dataset, cell.key.output_type)]
            for qid in qids:
                yield prep.unit(cell, qid)


def plan_model(
    model: str,
    caps: Capabilities,
    cfg: RunConfig,
    plugins: Plugins,
    datasets: dict[str, SurveyDataset],
    report: ModelReport,
    write_markers: bool,
) -> Work:
    """A model's pending work after the capability check (unsupported pairs get an n/a marker) and resume."""
    work = Work()
    if 0 in cfg.tasks:
        report.notes += [NO_TASK0_NOTE.format(name) for name, ds in datasets.items() if not ds.no_steering]
    for name, ds in datasets.items():
        for output_type in cfg.output_types:
            method = plugins.get_method(output_type)
            marker = na_path(cfg.results_dir, name, output_type, model_dir(model))
            reason = method.unsupported(caps)
            if reason is not None:
                report.not_applicable.append((name, output_type, reason))
                if write_markers:
                    write_json(marker, {"status": "n/a", "reason": reason, "model": model})
                continue
            if write_markers and marker.exists():
                marker.unlink()
            work.preparers[(name, output_type)] = Preparer(ds, cfg, plugins, method, caps)
            report.already_done += _add_cells(work, ds, cfg, plan_cells(ds, cfg, plugins, model, output_type))
    return work


def _add_cells(work: Work, ds: SurveyDataset, cfg: RunConfig, cells: list[Cell]) -> int:
    """Add the cells' pending questions to ``work``; returns how many questions were already done."""
    order, done = ds.question_ids(), 0
    for cell in cells:
        rf = ResultFile(result_path(cfg.results_dir, cell.key), order, cfg.flush_every, cfg.flush_seconds)
        qids = [q for q in order[: cfg.limit] if not rf.done(q)]
        done += len(order[: cfg.limit]) - len(qids)
        rf.pending = len(qids)
        work.files[cell.key] = rf
        work.cells.append((cell, qids))
    return done
