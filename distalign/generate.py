"""Generation: plan the (model, dataset, method, steering, demographic, question) grid, run it (SPEC §1, §4, §5).

One result file ("cell") per (dataset, output type, model, task, group, demographic), in the original
layout (:mod:`distalign.results`); issue #4. For each question of a cell: build the steered prompt
(:mod:`distalign.steering`), turn it into requests (:mod:`distalign.expression`), answer them through
the :class:`~distalign.engine.Executor` (cache, concurrency, retries), parse, and record.

* **task0** (no steering) is one prompt per question (``ds.item(qid, "NONE", "NONE")``) written to
  ``NONE/Democrat.json`` with ``expected_results_<GROUP>_<dem>`` for every evaluated demographic, each
  over that demographic's own options. GlobalValues has no task0 (refused before any call).
* Every record carries ``options``: the option texts shown, so the evaluation can align by text.
* Items without options or truth (OQA ``FEM2_W29`` Male) and unpromptable items are skipped and counted.
* An unsupported (model, method) pair writes an ``_na.json`` marker and is reported, never run.
* Resume: a question already in its result file is done (a parse failure is a recorded, deterministic
  result). A request that failed after its retries leaves no record, so the next run retries it.
* Result files are rewritten atomically every few completions and at the end of each cell, records in
  dataset question order: the same command and seed give the same bytes, however completions interleave.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from tqdm import tqdm

from distalign.backends import BackendOptions, get_backend, model_capabilities, split_name
from distalign.backends.base import Backend, BackendError
from distalign.cache import Cache, open_cache
from distalign.costs import cost as estimate_cost
from distalign.costs import estimate_tokens, expected_output_tokens, format_cost
from distalign.datasets import NONE_GROUP, SurveyDataset, load_dataset
from distalign.engine import Executor, Outcome, RetryPolicy, RunStats
from distalign.expression.base import ExpressionMethod, MethodConfig
from distalign.files import DataError, write_json
from distalign.names import GENERATED_OUTPUT_TYPES, model_dir, task_dir
from distalign.parsers import first_answer
from distalign.results import ResultKey, make_record, na_path, read_results, result_path, write_results
from distalign.runlog import RunLog, scrub
from distalign.types import Capabilities, Completion, Message, Parsed, Request, SurveyItem

TASK0_FILE = ("NONE", "Democrat")  # task0's result file: group folder and demographic file name (SPEC §4.1)
IN_PROCESS_PROVIDERS = ("local", "hf", "vllm")  # models computed in this process (no per-request timeout)
PAPER_GENERATED = ("express_distribution", "sequence", "model_logprobs")  # the paper's generated methods
GV_TASK0_NOTE = "globalvalues has no task 0 (the paper has none: its groups are per-question countries); not run"


@dataclass(frozen=True)
class RunConfig:
    """Everything a generation run needs (the CLI flags of ``lm_steering.py``).

    Attributes:
        datasets: dataset keys.
        tasks: steering task numbers (0 none, 1 persona, 2 context, 3 few-shot).
        models: model names (``provider/model`` or paper keys).
        output_types: expression methods (``model_logprobs``, ``sequence``, ...).
        task3_type: few-shot example selection (``easy_hard`` or ``easy``).
        groups: demographic groups (``None``: the paper's, ``ds.demographics()``).
        all_demographics: evaluate every demographic of the chosen groups, not only the paper's.
        results_dir: result root (``results``).
        data_dir: data root (the folder holding ``opinions_qa/`` ...).
        prompts_dir: prompt templates root.
        limit: only the first ``limit`` questions of each dataset.
        seed: seed of sampling, few-shot examples and fake answers.
        concurrency: requests in flight per model.
        max_retries: retries of a transient failure.
        timeout: seconds per HTTP attempt (see :func:`attempt_timeout`).
        cache_path: response cache (``None``: no cache).
        ficticious_group: replace group names by Foo/Bar/Baz (OQA ablation, SPEC §4.4).
        shuffled_labels: shuffle the option order of context lines (task2/3 ablation).
        n_samples: samples per prompt for ``independent_samples``.
        temperature: sampling temperature.
        max_tokens: generation budget of the free-text methods (sequence, express_distribution).
        batch_api: send pending requests through the provider's batch API first.
        backend_options: options passed to the backends.
        log_dir: request logs (``None``: ``<results_dir>/logs``).
        flush_every: rewrite a result file after this many new records.
        flush_seconds: ... or when its last write is this old.
        progress: show a progress bar.
    """

    datasets: tuple[str, ...]
    tasks: tuple[int, ...]
    models: tuple[str, ...]
    output_types: tuple[str, ...]
    task3_type: str = "easy_hard"
    groups: tuple[str, ...] | None = None
    all_demographics: bool = False
    results_dir: Path = Path("results")
    data_dir: Path = Path(".")
    prompts_dir: Path = Path("inputs")
    limit: int | None = None
    seed: int = 0
    concurrency: int = 8
    max_retries: int = 5
    timeout: float = 120.0
    cache_path: Path | None = Path("results/.cache/responses.sqlite")
    ficticious_group: bool = False
    shuffled_labels: bool = False
    n_samples: int = 30
    temperature: float | None = 1.0
    max_tokens: int = 256
    batch_api: bool = False
    backend_options: BackendOptions = field(default_factory=BackendOptions)
    log_dir: Path | None = None
    flush_every: int = 100
    flush_seconds: float = 5.0
    progress: bool = True


# ---------------------------------------------------------------------------------------------------
# Plug-in points (prompts, methods, backends), injectable for tests
# ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Plugins:
    """The functions generation calls into; tests pass stand-ins, the CLI uses :func:`default_plugins`."""

    build_messages: Callable[[SurveyDataset, SurveyItem, str, Any], tuple[Message, ...]]
    persona_name: Callable[[SurveyItem, Any], str]
    steering_config: Callable[..., Any]
    get_method: Callable[[str], ExpressionMethod]
    get_backend: Callable[[str, BackendOptions], Backend] = get_backend
    capabilities: Callable[[str, BackendOptions], Capabilities] | None = None

    def caps(self, model: str, options: BackendOptions) -> Capabilities:
        """Capabilities of ``model`` without loading it (see :func:`distalign.backends.model_capabilities`)."""
        return (self.capabilities or model_capabilities)(model, options)


def default_plugins() -> Plugins:
    """The real prompt builders and expression methods (imported lazily)."""
    steering = importlib.import_module("distalign.steering")
    expression = importlib.import_module("distalign.expression")
    return Plugins(steering.build_messages, steering.persona_name, steering.SteeringConfig, expression.get_method)


# ---------------------------------------------------------------------------------------------------
# Planning
# ---------------------------------------------------------------------------------------------------
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
            if ds.name == "globalvalues":
                continue  # no task 0 for GlobalValues (GV_TASK0_NOTE)
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
    return plugins.steering_config(task=task_dir(task, cfg.task3_type), prompts_dir=cfg.prompts_dir, seed=cfg.seed,
                                   ficticious_group=cfg.ficticious_group, shuffled_labels=cfg.shuffled_labels)


def method_config(cfg: RunConfig, caps: Capabilities) -> MethodConfig:
    """Sampling settings of a run for a backend."""
    top = min(20, caps.max_top_logprobs) if caps.logprobs else 0
    return MethodConfig(temperature=cfg.temperature, seed=cfg.seed, n_samples=cfg.n_samples, top_logprobs=top,
                        max_tokens=cfg.max_tokens)


# ---------------------------------------------------------------------------------------------------
# One question of a cell: item -> requests -> record
# ---------------------------------------------------------------------------------------------------
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

    def __init__(self, ds: SurveyDataset, cfg: RunConfig, plugins: Plugins, method: ExpressionMethod,
                 caps: Capabilities) -> None:
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
    meta = {"dataset": item.dataset, "qid": item.qid, "group": cell.key.group, "demographic": cell.key.demographic,
            "task": cell.key.task, "output_type": cell.key.output_type, "letters": "".join(item.letters)}
    if item.truth is not None:
        meta["truth"] = json.dumps(list(item.truth.probs))
    return replace(request, meta=tuple({**meta, **dict(request.meta)}.items()))


def record_of(unit: Unit, parsed: Parsed, completions: list[Completion], expected: dict) -> dict[str, Any]:
    """The result record of a unit (SPEC §5 fields, ``options``, Log-p's ``actual_results_sampled``)."""
    assert unit.item is not None
    letters = unit.item.letters
    rec = make_record(parsed, letters, expected)
    if unit.cell.key.output_type == "model_logprobs" and completions:
        sampled = first_answer(completions[0].text, letters)
        if sampled:
            rec["actual_results_sampled"] = {L: float(L == sampled) for L in letters}
    rec["options"] = list(unit.item.options)
    return rec


# ---------------------------------------------------------------------------------------------------
# Result files: incremental, ordered, atomic
# ---------------------------------------------------------------------------------------------------
class ResultFile:
    """The records of one cell, rewritten atomically in dataset question order.

    A rewrite costs the whole file, so the number of new records that triggers one grows with the file
    (``flush_every``, or a quarter of the records already stored, whichever is more): a cell of N questions is
    written O(N) times in total, not O(N²/flush_every). The time limit still saves slow runs every few seconds.

    Args:
        path: the result file (existing records are kept: resume).
        order: question keys in dataset order.
        flush_every: rewrite after this many new records (at least)...
        flush_seconds: ... or when the last write is this old.
    """

    def __init__(self, path: Path, order: list[str], flush_every: int = 100, flush_seconds: float = 5.0) -> None:
        self.path = path
        self.records: dict[str, dict[str, Any]] = read_results(path) if path.exists() else {}
        for stale in path.parent.glob(f".{path.name}.*.tmp"):  # left by a write that was killed
            stale.unlink(missing_ok=True)
        self.order = order
        self.flush_every, self.flush_seconds = flush_every, flush_seconds
        self.pending = 0  # units still to finish
        self.before_flush: Callable[[], None] | None = None  # e.g. the request log's flush: logged before stored
        self._dirty = 0
        self._written = time.monotonic()

    def done(self, qid: str) -> bool:
        """Whether ``qid`` already has a record."""
        return qid in self.records

    def add(self, qid: str, record: dict[str, Any]) -> None:
        """Keep one record; rewrite the file when enough new ones or enough time has passed."""
        self.records[qid] = record
        self._dirty += 1
        due = max(self.flush_every, len(self.records) // 4)
        if self._dirty >= due or time.monotonic() - self._written >= self.flush_seconds:
            self.flush()

    def flush(self) -> None:
        """Rewrite the file (question order; unknown keys of an older file keep their order after them)."""
        if not self._dirty:
            return
        if self.before_flush is not None:
            self.before_flush()
        rank = {q: i for i, q in enumerate(self.order)}
        keys = sorted(self.records, key=lambda q: (0, rank[q]) if q in rank else (1, 0))
        write_results(self.path, {q: self.records[q] for q in keys})
        self._dirty = 0
        self._written = time.monotonic()

    def close(self) -> None:
        """Write the finished cell and release its records (a run holds only the cells in progress)."""
        self.flush()
        self.records = {}


# ---------------------------------------------------------------------------------------------------
# Running one model
# ---------------------------------------------------------------------------------------------------
@dataclass
class ModelReport:
    """What a model's run did."""

    model: str
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
        usd = estimate_cost(self.model, s.input_tokens, s.output_tokens)
        line = (f"{self.model}: requests: {s.sent} sent, {s.cached} cached, {s.failed} failed; "
                f"tokens: {s.input_tokens} in, {s.output_tokens} out ({format_cost(usd)}); "
                f"records: {self.records} written, {self.parse_failures} parse failures, "
                f"{self.already_done} already done")
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


@dataclass
class _Work:
    """The pending units of a model, grouped per dataset/method, and their result files."""

    preparers: dict[tuple[str, str], Preparer] = field(default_factory=dict)
    cells: list[tuple[Cell, list[str]]] = field(default_factory=list)
    files: dict[ResultKey, ResultFile] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(len(qids) for _, qids in self.cells)

    def units(self) -> Iterator[Unit]:
        for cell, qids in self.cells:
            prep = self.preparers[(cell.key.dataset, cell.key.output_type)]
            for qid in qids:
                yield prep.unit(cell, qid)


def plan_model(model: str, caps: Capabilities, cfg: RunConfig, plugins: Plugins,
               datasets: dict[str, SurveyDataset], report: ModelReport, write_markers: bool) -> _Work:
    """A model's pending work after the capability check (unsupported pairs get an n/a marker) and resume."""
    work = _Work()
    if 0 in cfg.tasks and "globalvalues" in datasets:
        report.notes.append(GV_TASK0_NOTE)
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


def _add_cells(work: _Work, ds: SurveyDataset, cfg: RunConfig, cells: list[Cell]) -> int:
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


def attempt_timeout(model: str, timeout: float) -> float | None:
    """The engine's limit per attempt: a safety net over the backend's own ``--timeout``, none in-process.

    HTTP backends get ``--timeout`` as their client timeout (a timeout there is a retried
    :class:`~distalign.backends.TransientError`); the engine cancels an attempt only after twice that plus
    10 s. Requests to in-process models wait in the backend's batch queue, and cancelling them would not
    stop the computation, so they have no per-request limit.

    >>> attempt_timeout("openai/gpt-4o", 60.0), attempt_timeout("local/smollm2-135m-instruct", 60.0)
    (130.0, None)
    """
    return None if split_name(model)[0] in IN_PROCESS_PROVIDERS else 2 * timeout + 10


class ModelRun:
    """Runs the pending work of one model through an :class:`~distalign.engine.Executor`."""

    def __init__(self, model: str, backend: Backend, cache: Cache, cfg: RunConfig, work: _Work,
                 report: ModelReport, log: RunLog) -> None:
        self.model, self.cfg, self.work, self.report, self.log = model, cfg, work, report, log
        self.executor = Executor(backend, cache, cfg.concurrency, RetryPolicy(cfg.max_retries),
                                 attempt_timeout(model, cfg.timeout), cfg.seed)
        report.stats = self.executor.stats
        for rf in work.files.values():
            rf.before_flush = log.flush  # a stored record always has its log line on disk
        self.run_id = f"{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}"
        self._bar: tqdm | None = None

    async def run(self) -> None:
        """Process every pending unit with ``concurrency`` workers; flush every file at the end."""
        units = self.work.units()
        self._bar = tqdm(total=self.work.total, desc=self.model, unit="q", disable=not self.cfg.progress,
                         file=sys.stderr, dynamic_ncols=True)
        try:
            workers = [self._worker(units) for _ in range(self.cfg.concurrency)]
            await asyncio.gather(*workers)
        finally:
            self._bar.close()
            for rf in self.work.files.values():
                rf.flush()

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
            record = record_of(unit, parsed, completions, prep.expected(unit.cell, unit.item))
        else:
            self.report.unit_failures += 1
            self.report.errors.update(o.error for o in outcomes if not o.ok)
        for outcome in outcomes:
            self.log.write(log_record(self.run_id, self.model, self.executor.identity, unit, outcome, parsed))
        if parsed is not None and record is not None:
            rf.add(unit.qid, record)
            self.report.records += 1
            self.report.parse_failures += not parsed.parse_ok


def log_record(run_id: str, model: str, identity: str, unit: Unit, outcome: Outcome,
               parsed: Parsed | None) -> dict[str, Any]:
    """The JSONL line of one request (messages only on sample 0 and on failures, to keep logs small)."""
    r, c = outcome.request, outcome.completion
    rec: dict[str, Any] = {"run_id": run_id, "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "model": model,
                           "backend": identity, **dict(r.meta), "sample_index": r.sample_index, "seed": r.seed,
                           "key": outcome.key, "cached": outcome.cached, "attempts": outcome.attempts,
                           "latency_s": round(outcome.latency_s, 4), "ok": outcome.ok, "error": outcome.error,
                           "params": {"max_tokens": r.max_tokens, "temperature": r.temperature,
                                      "top_logprobs": r.top_logprobs, "n_continuations": len(r.continuations)}}
    rec.pop("truth", None)
    if r.sample_index == 0 or not outcome.ok:
        rec["messages"] = [{"role": m.role, "content": m.content} for m in r.messages]
    if c is not None:
        rec.update(response=c.text, top_logprobs=[list(t) for t in c.top_logprobs],
                   continuation_logprobs=list(c.continuation_logprobs), model_id=c.model_id,
                   fingerprint=c.fingerprint, input_tokens=c.input_tokens, output_tokens=c.output_tokens,
                   finish_reason=c.finish_reason)
    if parsed is not None:
        rec.update(parse_ok=parsed.parse_ok, parse_error=parsed.reason,
                   distribution=parsed.dist.as_dict() if parsed.dist is not None else None)
    return rec


# ---------------------------------------------------------------------------------------------------
# Batch-API pass, whole runs, dry runs
# ---------------------------------------------------------------------------------------------------
async def batch_pass(backend: Backend, executor: Executor, work: _Work, cfg: RunConfig) -> None:
    """Send every pending, uncached request through ``distalign.batch.run_batches`` (fills the cache)."""
    if not backend.capabilities.batch_api:
        raise ValueError(f"--batch_api: {backend.name} has no batch API")
    if executor.cache.path == "":
        raise ValueError("--batch_api needs the response cache (drop --no_cache)")
    try:
        batch = importlib.import_module("distalign.batch")
    except ModuleNotFoundError as e:
        if e.name != "distalign.batch":
            raise
        raise RuntimeError("--batch_api needs distalign.batch, which this installation does not have yet") from None
    pending = [r for u in work.units() for r in u.requests if executor.cached(r) is None]
    pending = list({executor.key(r): r for r in pending}.values())
    state_dir = cfg.results_dir / ".batch" / model_dir(backend.name)
    await _maybe_await(batch.run_batches(backend, pending, executor.cache, state_dir))


async def _maybe_await(value: Any) -> None:
    if asyncio.iscoroutine(value):
        await value


def key_values(items: list[str]) -> tuple[tuple[str, str], ...]:
    """``KEY=VALUE`` strings (``--backend_arg``) as pairs.

    >>> key_values(["latency_ms=5", "url=http://x?a=b"])
    (('latency_ms', '5'), ('url', 'http://x?a=b'))
    """
    pairs = []
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--backend_arg expects KEY=VALUE, got {item!r}")
        pairs.append((key, value))
    return tuple(pairs)


def load_datasets(cfg: RunConfig) -> dict[str, SurveyDataset]:
    """The datasets of a run, in the order given."""
    return {name: load_dataset(name, cfg.data_dir) for name in cfg.datasets}


def validate(cfg: RunConfig) -> None:
    """Reject bad settings before any work."""
    for ot in cfg.output_types:
        if ot not in GENERATED_OUTPUT_TYPES:
            raise ValueError(f"unknown output type {ot!r}; valid: {', '.join(GENERATED_OUTPUT_TYPES)}")
    for task in cfg.tasks:
        task_dir(task, cfg.task3_type)
    if cfg.limit is not None and cfg.limit < 1:
        raise ValueError(f"--limit must be at least 1, got {cfg.limit}")
    if cfg.n_samples < 1 or cfg.concurrency < 1 or cfg.max_retries < 0:
        raise ValueError("--n_samples and --concurrency must be >= 1, --max_retries >= 0")


async def run_model(model: str, cfg: RunConfig, plugins: Plugins, datasets: dict[str, SurveyDataset],
                    cache: Cache) -> ModelReport:
    """Generate everything pending for one model."""
    report = ModelReport(model)
    caps = plugins.caps(model, cfg.backend_options)
    work = plan_model(model, caps, cfg, plugins, datasets, report, write_markers=True)
    if not work.total:
        return report
    try:
        backend = plugins.get_backend(model, cfg.backend_options)
    except BackendError as e:  # a missing key or package: report it, run the other models
        report.error = scrub(str(e))
        return report
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
    return report


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
            print(scrub(report.summary()), flush=True)
            reports.append(report)
    finally:
        cache.close()
    return reports


def dry_run(cfg: RunConfig, plugins: Plugins | None = None) -> list[dict[str, Any]]:
    """Count the pending requests and estimate tokens and cost per model x method, calling nothing."""
    validate(cfg)
    plugins = plugins or default_plugins()
    datasets = load_datasets(cfg)
    rows = []
    for model in cfg.models:
        report = ModelReport(model)
        work = plan_model(model, plugins.caps(model, cfg.backend_options), cfg, plugins, datasets, report, False)
        totals: dict[str, list[int]] = {ot: [0, 0, 0, 0] for ot in cfg.output_types}
        for unit in work.units():
            t = totals[unit.cell.key.output_type]
            t[3] += bool(unit.skip)
            for r in unit.requests:
                t[0] += 1
                t[1] += sum(estimate_tokens(m.content) for m in r.messages)
                t[2] += expected_output_tokens(unit.cell.key.output_type, len(dict(r.meta)["letters"]))
        na = {ot: reason for _, ot, reason in report.not_applicable}
        for ot, (n, tin, tout, skipped) in totals.items():
            rows.append({"model": model, "output_type": ot, "requests": n, "input_tokens": tin,
                         "output_tokens": tout, "skipped": skipped, "cost": estimate_cost(model, tin, tout),
                         "n/a": na.get(ot, "")})
    return rows


def format_dry_run(rows: list[dict[str, Any]]) -> str:
    """The dry-run table and its total line."""
    lines = [f"{'model':<34} {'output_type':<22} {'requests':>9} {'input tok':>11} {'output tok':>11}  cost"]
    for r in rows:
        cost_text = f"n/a: {r['n/a']}" if r["n/a"] and not r["requests"] else format_cost(r["cost"])
        lines.append(f"{r['model']:<34} {r['output_type']:<22} {r['requests']:>9,} {r['input_tokens']:>11,} "
                     f"{r['output_tokens']:>11,}  {cost_text}")
    costs = [r["cost"] for r in rows if r["requests"]]
    total = None if any(c is None for c in costs) else sum(costs)
    lines.append(f"total: {sum(r['requests'] for r in rows):,} requests, {sum(r['input_tokens'] for r in rows):,} "
                 f"input tokens, {sum(r['output_tokens'] for r in rows):,} output tokens (estimated), "
                 f"{format_cost(total)}; nothing was sent")
    return "\n".join(lines)


__all__ = ["Cell", "ModelReport", "Plugins", "RunConfig", "default_plugins", "dry_run", "evaluated",
           "format_dry_run", "plan_cells", "run"]
