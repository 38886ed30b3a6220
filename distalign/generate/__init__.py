"""Generation: plan the (model, dataset, method, steering, demographic, question) grid, run it.

Mirrors docs/original.md §1, §4, §5.

One result file ("cell") per (dataset, output type, model, task, group, demographic), in the original
layout (:mod:`distalign.results`). For each question of a cell: build the steered prompt
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

Modules: :mod:`~distalign.generate.config` (:class:`RunConfig`, :class:`Plugins`, validation),
:mod:`~distalign.generate.plan` (evaluated demographics, cells, units), :mod:`~distalign.generate.records`
(records, result files, log lines), :mod:`~distalign.generate.report` (:class:`ModelReport`),
:mod:`~distalign.generate.work` (a model's pending work), :mod:`~distalign.generate.runner` (:func:`run`) and
:mod:`~distalign.generate.dryrun` (:func:`dry_run`). This package re-exports their public names.
"""

from distalign.generate.config import Plugins, RunConfig, default_plugins, key_values, validate
from distalign.generate.dryrun import dry_run, format_dry_run
from distalign.generate.plan import (
    TASK0_FILE,
    Cell,
    Preparer,
    Unit,
    evaluated,
    load_datasets,
    method_config,
    plan_cells,
    steering_config,
)
from distalign.generate.records import ResultFile, log_record, record_of
from distalign.generate.report import ModelReport
from distalign.generate.runner import ModelRun, attempt_timeout, batch_pass, run, run_model
from distalign.generate.work import NO_TASK0_NOTE, plan_model

__all__ = [
    "NO_TASK0_NOTE",
    "TASK0_FILE",
    "Cell",
    "ModelReport",
    "ModelRun",
    "Plugins",
    "Preparer",
    "ResultFile",
    "RunConfig",
    "Unit",
    "attempt_timeout",
    "batch_pass",
    "default_plugins",
    "dry_run",
    "evaluated",
    "format_dry_run",
    "key_values",
    "load_datasets",
    "log_record",
    "method_config",
    "plan_cells",
    "plan_model",
    "record_of",
    "run",
    "run_model",
    "steering_config",
    "validate",
]
