"""A model's pending work: the capability check, n/a markers, cell ownership, resume, and the units still to run.

Mirrors docs/original.md §4, §5.

An unsupported (model, method) pair writes an ``_na.json`` marker and is reported, never run. A real run owns each
cell it works on (the cell's lock, :meth:`distalign.generate.records.ResultFile.own`); a cell another run holds
waits in :attr:`Work.waiting` until that run releases it. A question already in its result file, made with this
run's settings (:mod:`distalign.generate.settings`), is done; the others are grouped per dataset/method into a
:class:`Work`. A dry run takes no lock and writes nothing.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from distalign.datasets import SurveyDataset
from distalign.files import write_json
from distalign.generate import settings
from distalign.generate.config import Plugins, RunConfig
from distalign.generate.plan import Cell, Preparer, Unit, plan_cells
from distalign.generate.records import ResultFile
from distalign.generate.report import ModelReport
from distalign.names import model_dir
from distalign.results import ResultKey, na_path, result_path
from distalign.types import Capabilities

NO_TASK0_NOTE = "{} has no task 0 (no no-steering prompt, as in the paper); not run"


def interleaved(cells: Sequence[tuple[Cell, list[str]]]) -> Iterator[tuple[Cell, str]]:
    """Cells that differ only in the method advance question by question together, in a round; other cells in turn.

    A method and its structured twin send the same prompt, so their units then reach an in-process model in the
    same batch, where the prompt is computed once (a shared prefix). Results do not depend on the order.

    >>> def cell(method, dem): return Cell(ResultKey("d", method, "m", "task1", "G", dem), 1, "G", dem)
    >>> a, b, c = cell("sequence", "D"), cell("sequence_structured", "D"), cell("sequence", "E")
    >>> [(x.key.output_type, x.key.demographic, q) for x, q in interleaved([(a, ["1", "2"]), (c, ["1"]), (b, ["1"])])]
    [('sequence', 'D', '1'), ('sequence_structured', 'D', '1'), ('sequence', 'D', '2'), ('sequence', 'E', '1')]
    """
    rounds: dict[ResultKey, list[tuple[Cell, list[str]]]] = {}
    for cell, qids in cells:
        rounds.setdefault(replace(cell.key, output_type=""), []).append((cell, qids))
    for members in rounds.values():
        for i in range(max(len(qids) for _, qids in members)):
            yield from ((cell, qids[i]) for cell, qids in members if i < len(qids))


@dataclass
class Work:
    """The pending units of a model, grouped per dataset/method, and their result files."""

    model: str
    cfg: RunConfig
    report: ModelReport
    preparers: dict[tuple[str, str], Preparer] = field(default_factory=dict)
    cells: list[tuple[Cell, list[str]]] = field(default_factory=list)
    files: dict[ResultKey, ResultFile] = field(default_factory=dict)
    waiting: list[Cell] = field(default_factory=list)  # cells another run holds (a real run only)

    @property
    def total(self) -> int:
        """Number of pending questions (of the cells owned so far)."""
        return sum(len(qids) for _, qids in self.cells)

    def units(self, cells: Sequence[tuple[Cell, list[str]]] | None = None) -> Iterator[Unit]:
        """The pending units, built as they are consumed, in :func:`interleaved` order."""
        for cell, qid in interleaved(self.cells if cells is None else cells):
            yield self.preparers[(cell.key.dataset, cell.key.output_type)].unit(cell, qid)

    def pending(self, cell: Cell) -> list[str]:
        """The questions of ``cell`` still to run, once its stored records' settings are checked.

        A cell with nothing left is closed at once (its lock released, an ``--overwrite`` drop written).
        """
        rf = self.files[cell.key]
        prep = self.preparers[(cell.key.dataset, cell.key.output_type)]
        settings.check(rf, lambda qid, full: self._expected(prep, cell, qid, full), self.cfg.overwrite)
        wanted = rf.order[: self.cfg.limit]
        qids = [q for q in wanted if not rf.done(q)]
        self.report.already_done += len(wanted) - len(qids)
        rf.pending = len(qids)
        if not qids:
            rf.close()
        return qids

    def _expected(self, prep: Preparer, cell: Cell, qid: str, with_prompt: bool) -> dict[str, Any] | None:
        requests = prep.unit(cell, qid).requests if with_prompt else prep.settings_requests(cell, qid)
        return settings.settings_of(self.model, cell.key.output_type, requests) if requests else None

    def claim_waiting(self) -> list[tuple[Cell, list[str]]]:
        """The waiting cells whose lock is free now (taken), with their pending questions."""
        claimed = []
        for cell in list(self.waiting):
            if self.files[cell.key].own():
                self.waiting.remove(cell)
                claimed.append((cell, self.pending(cell)))
        return claimed

    def waiting_line(self) -> str:
        """What this run waits for, in one line."""
        first = self.files[self.waiting[0].key].path
        return (
            f"{self.model}: waiting for {len(self.waiting)} result file(s) that another run is writing "
            f"(first: {first}); this run continues from that run's records once it releases them"
        )

    def close(self) -> None:
        """Write and release every result file this run still owns."""
        for rf in self.files.values():
            rf.close()


def plan_model(
    model: str,
    caps: Capabilities,
    cfg: RunConfig,
    plugins: Plugins,
    datasets: dict[str, SurveyDataset],
    report: ModelReport,
    write_markers: bool,
) -> Work:
    """A model's pending work after the capability check (unsupported pairs get an n/a marker) and resume.

    ``write_markers``: a real run, which writes n/a markers and owns the cells it plans (else nothing is written).
    """
    work = Work(model, cfg, report)
    if 0 in cfg.tasks:
        report.notes += [NO_TASK0_NOTE.format(name) for name, ds in datasets.items() if not ds.no_steering]
    try:
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
                _add_cells(work, ds, plan_cells(ds, cfg, plugins, model, output_type), write_markers)
    except BaseException:
        work.close()
        raise
    return work


def _add_cells(work: Work, ds: SurveyDataset, cells: list[Cell], own: bool) -> None:
    """Add the cells and their pending questions to ``work`` (``own``: lock them; a held cell waits)."""
    order, cfg = ds.question_ids(), work.cfg
    for cell in cells:
        rf = ResultFile(result_path(cfg.results_dir, cell.key), order, cfg.flush_every, cfg.flush_seconds)
        work.files[cell.key] = rf
        if own and not rf.own():
            work.waiting.append(cell)
            continue
        if not own:
            rf.load()
        work.cells.append((cell, work.pending(cell)))
