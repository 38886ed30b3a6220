"""Running a generation: every pending unit of each model through the engine, then parse and record.

Mirrors docs/original.md §1, §5.

Each unit's requests go through the :class:`~distalign.engine.Executor` (cache, concurrency, retries); a unit
whose requests all succeeded is parsed and recorded, every request is logged (log first). A request that failed
after its retries leaves no record, so the next run retries it. ``--batch_api`` first sends the pending requests
through the provider's batch API (:mod:`distalign.engine.batch`), which fills the cache.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Iterator

from tqdm import tqdm

from distalign.backends.base import Backend, BackendError
from distalign.datasets import SurveyDataset
from distalign.engine import Executor, Outcome, RetryPolicy
from distalign.engine.batch import run_batches
from distalign.engine.cache import Cache, open_cache
from distalign.engine.runlog import RunLog
from distalign.generate import settings
from distalign.generate.config import Plugins, RunConfig, default_plugins, validate
from distalign.generate.plan import Cell, Unit, load_datasets
from distalign.generate.records import ResultFile, log_record, record_of
from distalign.generate.report import ModelReport
from distalign.generate.work import Work, plan_model
from distalign.names import model_dir
from distalign.redact import redact
from distalign.types import Capabilities

WAIT_S = 0.2  # how often a run waiting for another run's result files looks again


def attempt_timeout(caps: Capabilities, timeout: float) -> float | None:
    """The engine's limit per attempt: a safety net over the backend's own ``--timeout``, none in-process.

    HTTP backends get ``--timeout`` as their client timeout (a timeout there is a retried
    :class:`~distalign.backends.TransientError`); the engine cancels an attempt only after twice that plus
    10 s. Requests to in-process models wait in the backend's batch queue, and cancelling them would not
    stop the computation, so they have no per-request limit.

    >>> attempt_timeout(Capabilities(), 60.0), attempt_timeout(Capabilities(in_process=True), 60.0)
    (130.0, None)
    """
    return None if caps.in_process else 2 * timeout + 10


class ModelRun:
    """Runs the pending work of one model through an :class:`~distalign.engine.Executor`."""

    def __init__(
        self, model: str, backend: Backend, cache: Cache, cfg: RunConfig, work: Work, report: ModelReport, log: RunLog
    ) -> None:
        self.model, self.cfg, self.work, self.report, self.log = model, cfg, work, report, log
        self.executor = Executor(
            backend,
            cache,
            cfg.concurrency,
            RetryPolicy(cfg.max_retries),
            attempt_timeout(backend.capabilities, cfg.timeout),
            cfg.seed,
        )
        report.stats = self.executor.stats
        for rf in work.files.values():
            rf.before_flush = log.flush  # a stored record always has its log line on disk
        self.run_id = f"{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}"
        self._bar: tqdm | None = None

    async def run(self) -> None:
        """Process every pending unit with ``concurrency`` workers, then the cells another run held; close all."""
        self._bar = tqdm(
            total=self.work.total,
            desc=self.model,
            unit="q",
            disable=not self.cfg.progress,
            file=sys.stderr,
            dynamic_ncols=True,
        )
        try:
            await self._run_cells(self.work.cells)
            await self._run_waiting()
        finally:
            self._bar.close()
            self.work.close()

    async def _run_cells(self, cells: list[tuple[Cell, list[str]]]) -> None:
        units = self.work.units(cells)
        await asyncio.gather(*(self._worker(units) for _ in range(self.cfg.concurrency)))

    async def _run_waiting(self) -> None:
        """Wait for the cells another run holds (it owns none meanwhile, so no two runs wait on each other)."""
        announced = False
        while self.work.waiting:
            claimed = self.work.claim_waiting()
            if claimed:
                assert self._bar is not None
                self._bar.total = (self._bar.total or 0) + sum(len(qids) for _, qids in claimed)
                await self._run_cells(claimed)
                continue
            if not announced:
                print(redact(self.work.waiting_line()), file=sys.stderr, flush=True)
                announced = True
            await asyncio.sleep(WAIT_S)

    async def _worker(self, units: Iterator[Unit]) -> None:
        for unit in units:
            await self._process(unit)
            assert self._bar is not None
            self._bar.update(1)
            self._bar.set_postfix(failed=self.report.unit_failures, cached=self.report.stats.cached, refresh=False)

    async def _process(self, unit: Unit) -> None:
        rf = self.work.files[unit.cell.key]
        if unit.skip:
            self.report.skipped[unit.skip] += 1
        else:
            if len(unit.requests) == 1:  # no task to schedule (cache replays are dominated by such overheads)
                outcomes = [await self.executor.run(unit.requests[0])]
            else:
                outcomes = list(await asyncio.gather(*(self.executor.run(r) for r in unit.requests)))
            self._finish(unit, rf, outcomes)
        rf.pending -= 1
        if rf.pending == 0:
            rf.close()

    def _finish(self, unit: Unit, rf: ResultFile, outcomes: list[Outcome]) -> None:
        """Parse and record a unit whose requests all succeeded; log every request either way (log first)."""
        completions = [o.completion for o in outcomes if o.completion is not None]
        parsed = record = None
        if len(completions) == len(outcomes):
            assert unit.item is not None
            prep = self.work.preparers[(unit.cell.key.dataset, unit.cell.key.output_type)]
            parsed = prep.method.parse(unit.item, completions)
            record = record_of(unit, prep.method, parsed, completions, prep.expected(unit.cell, unit.item))
            record[settings.FIELD] = settings.settings_of(self.model, unit.cell.key.output_type, unit.requests)
        else:
            self.report.unit_failures += 1
            self.report.errors.update(o.error for o in outcomes if not o.ok)
        for outcome in outcomes:
            self.log.write(log_record(self.run_id, self.model, self.executor.identity, unit, outcome, parsed))
        if parsed is not None and record is not None:
            rf.add(unit.qid, record)
            self.report.records += 1
            self.report.parse_failures += not parsed.parse_ok


async def batch_pass(backend: Backend, executor: Executor, work: Work, cfg: RunConfig) -> None:
    """Send every pending, uncached request through :func:`~distalign.engine.batch.run_batches` (fills the cache)."""
    if not backend.capabilities.batch_api:
        raise ValueError(f"--batch_api: {backend.name} has no batch API")
    if executor.cache.path == "":
        raise ValueError("--batch_api needs the response cache (drop --no_cache)")
    pending = [r for u in work.units() for r in u.requests if executor.cached(r) is None]
    pending = list({executor.key(r): r for r in pending}.values())
    state_dir = cfg.results_dir / ".batch" / model_dir(backend.name)
    await run_batches(backend, pending, executor.cache, state_dir)


async def run_model(
    model: str, cfg: RunConfig, plugins: Plugins, datasets: dict[str, SurveyDataset], cache: Cache
) -> ModelReport:
    """Generate everything pending for one model."""
    caps = plugins.caps(model, cfg.backend_options)
    report = ModelReport(model, priced=caps.priced)
    work = plan_model(model, caps, cfg, plugins, datasets, report, write_markers=True)
    try:
        if work.total or work.waiting:
            await _run_work(model, cfg, plugins, work, report, cache)
    finally:
        work.close()
    return report


async def _run_work(
    model: str, cfg: RunConfig, plugins: Plugins, work: Work, report: ModelReport, cache: Cache
) -> None:
    """Start the backend and run the planned work (a backend that cannot start is reported, not raised)."""
    try:
        backend = plugins.get_backend(model, cfg.backend_options)
        await backend.ready()
    except BackendError as e:  # a missing key or package, nothing listening: report it, run the other models
        report.error = redact(str(e))
        return
    log = RunLog((cfg.log_dir or cfg.results_dir / "logs") / f"{model_dir(model)}.jsonl")
    try:
        run = ModelRun(model, backend, cache, cfg, work, report, log)
        if cfg.batch_api:
            await batch_pass(backend, run.executor, work, cfg)
        await run.run()
    finally:
        try:
            log.close()
        finally:
            await backend.aclose()


def run(cfg: RunConfig, plugins: Plugins | None = None) -> list[ModelReport]:
    """Run a whole generation (every model in turn) and print one summary line per model."""
    validate(cfg)
    plugins = plugins or default_plugins()
    datasets = load_datasets(cfg)
    cache = open_cache(cfg.cache_path)
    reports = []
    try:
        for model in cfg.models:
            report = asyncio.run(run_model(model, cfg, plugins, datasets, cache))
            print(redact(report.summary()), flush=True)
            reports.append(report)
    finally:
        cache.close()
    return reports
