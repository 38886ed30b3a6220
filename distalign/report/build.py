"""Building the whole report: read the inputs once, render every page, write them atomically, drop stale pages.

Pages (all in ``<results_dir>/report/`` by default): ``index.html`` (leaderboard), ``differences.html`` (pairwise
differences), ``explore.html`` (the list of question explorer pages) and one ``explore-<model>-<dataset>.html`` per
model × dataset, and ``health.html`` (run health). The report is derived data: it is overwritten, never appended to,
and explorer pages of an earlier build that this one did not write are removed.
"""

from __future__ import annotations

import base64
import hashlib
import multiprocessing as mp
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from distalign.datasets import DATASETS
from distalign.evaluation.base import Context
from distalign.figures.build import FIGURES
from distalign.files import DataError
from distalign.metrics import METRICS
from distalign.names import DATASET_LABELS, dataset_label
from distalign.report import differences, explorer, health, leaderboard
from distalign.report.cells import EvalRow, Sources, eval_rows, model_cells
from distalign.report.inputs import EvalOutputs, figures, provenance, read_outputs
from distalign.report.logs import read_logs
from distalign.report.render import asset, render, write_page

NAV = (
    ("index.html", "Leaderboard"),
    ("differences.html", "Pairwise differences"),
    ("explore.html", "Question explorer"),
    ("health.html", "Run health"),
)
SORTING = ("tablesort.min.js", "tablesort.number.min.js", "report.js")
WORKERS = 4  # processes that build explorer pages (at most the number of cores)


@dataclass(frozen=True)
class Paths:
    """Where the report reads and writes."""

    results_dir: Path
    eval_dir: Path
    figures_dir: Path
    data_dir: Path
    output_dir: Path


def csp_sources(scripts: list[str]) -> str:
    """The ``script-src`` of a page: the sha256 of each inline script it carries, nothing else ("'none'" if none).

    >>> csp_sources([]), csp_sources(["1"])
    ("'none'", "'sha256-a4ayc/80/OGda4BO/1o/V0etpOqiLx1JwB5S3beHW0s='")
    """
    digests = [base64.b64encode(hashlib.sha256(s.encode("utf-8")).digest()).decode() for s in scripts]
    return " ".join(f"'sha256-{d}'" for d in digests) or "'none'"


class Writer:
    """Renders pages with the context every page shares (settings, provenance, navigation) and writes them."""

    def __init__(self, paths: Paths, outputs: EvalOutputs) -> None:
        self.paths, self.outputs, self.written = paths, outputs, list[Path]()
        metric = METRICS.get(outputs.settings.metric, METRICS["tv"])
        self.common: dict[str, Any] = {
            "settings": outputs.settings,
            "provenance": provenance(),
            "metric_label": metric.label,
            "direction": metric.direction,
            "nav": NAV,
            "dataset_names": DATASET_LABELS,
        }

    def page(self, file: str, template: str, title: str, scripts: tuple[str, ...], **context: Any) -> Path:
        """Render and write one page."""
        texts = [asset(name) for name in scripts]
        html = render(
            template, **self.common, **context, here=file, title=title, scripts=texts, script_hashes=csp_sources(texts)
        )
        path = write_page(self.paths.output_dir / file, html)
        self.written.append(path)
        return path


def model_order(outputs: EvalOutputs) -> list[str]:
    """Models in leaderboard order (the headline CSV's), then models found only in the per-question CSV."""
    head = [m for m in outputs.headline["model"] if m not in ("", "human")]
    cells = [m for m in outputs.cells["Model"] if m not in ("simulated", "human")]
    return list(dict.fromkeys([*head, *cells]))


def leaderboard_page(w: Writer) -> None:
    """``index.html``."""
    out = w.outputs
    views = [leaderboard.headline_view(out.headline, out.k2s), *leaderboard.dataset_views(out.everything)]
    registry = {name: description for name, (description, _) in FIGURES.items()}
    w.page(
        "index.html",
        "index.html",
        "Leaderboard",
        SORTING,
        caption=f"{w.common['metric_label']} to the human distribution ({w.common['direction']}).",
        views=views,
        dataset_choices=leaderboard.dataset_choices(views),
        steering_choices=leaderboard.steering_choices(views),
        steering_names={t: leaderboard.steering_label(t) for _, t in leaderboard.matrix(out.everything).columns},
        matrix=leaderboard.matrix(out.everything),
        figures=figures(w.paths.figures_dir, registry),
        figures_dir=str(w.paths.figures_dir),
    )


def differences_page(w: Writer) -> None:
    """``differences.html``."""
    grids = differences.grids(w.outputs.pairwise, model_order(w.outputs), w.outputs.settings.metric)
    missing = "pairwise_differences.csv is absent (re-run lm_steering_eval.py)" if w.outputs.pairwise is None else ""
    w.page("differences.html", "differences.html", "Pairwise differences", (), grids=grids, missing=missing)


def explorer_pages(w: Writer, sources: Sources) -> list[explorer.Page]:
    """Every question explorer page and ``explore.html``; returns the pages."""
    out, problem, found = w.outputs, "", list[explorer.Page]()
    if "positions" not in out.cells.columns:
        problem = "eval_positions.csv is missing or out of date: re-run lm_steering_eval.py to explore questions."
    rows = eval_rows(out.cells) if not problem else {}
    tasks = [(m, d) for m in model_order(out) for d in DATASETS if (m, d) in rows]
    for siblings in explored(tasks, (sources, rows, w.common["metric_label"], out.settings.mode)):
        for page in siblings:
            title = f"Questions: {page.model} on {dataset_label(page.dataset)}"
            title += f" ({page.part})" if page.part else ""
            w.page(page.file, "explorer.html", title, ("explorer.js",), siblings=siblings, data=page.json)
            page.release()  # written: its JSON goes (a model × dataset at a time in memory)
        found += siblings
    by_cell: dict[tuple[str, str], list[explorer.Page]] = {}
    for page in found:
        by_cell.setdefault((page.model, page.dataset), []).append(page)
    datasets = [d for d in DATASETS if any(p.dataset == d for p in found)]
    w.page("explore.html", "explore_index.html", "Question explorer", SORTING, models=model_order(out),
           datasets=datasets, by_cell=by_cell, problem=problem)  # fmt: skip
    return found


_STATE: tuple[Sources, dict[tuple[str, str], list[EvalRow]], str, str] | None = None  # inherited by the workers


def _explore(task: tuple[str, str]) -> list[explorer.Page]:
    """The explorer pages of one (model, dataset), their cells dropped (the counts stay): the work of one task."""
    assert _STATE is not None
    sources, rows, metric, mode = _STATE
    cells = model_cells(sources, rows[task])
    found = explorer.pages(*task, cells, metric, mode) if cells else []
    for page in found:
        page.cells = []
    return found


def explored(
    tasks: list[tuple[str, str]], state: tuple[Sources, dict[tuple[str, str], list[EvalRow]], str, str]
) -> Iterator[list[explorer.Page]]:
    """:func:`_explore` of every task, in order, on up to :data:`WORKERS` forked processes.

    One process where fork is not available or there is one core; the results come back in task order, so every
    byte written is the same whatever the number of workers.
    """
    global _STATE
    _STATE = state
    for dataset in dict.fromkeys(d for _, d in tasks):  # loaded once here, inherited by every worker
        try:
            state[0].ctx.dataset(dataset)
        except DataError:
            pass  # the cells then show what the result files hold
    workers = min(WORKERS, os.cpu_count() or 1, len(tasks))
    if workers < 2 or "fork" not in mp.get_all_start_methods():
        yield from map(_explore, tasks)
        return
    with ProcessPoolExecutor(workers, mp_context=mp.get_context("fork")) as pool:
        yield from pool.map(_explore, tasks)


def health_page(w: Writer, sources: Sources, pages: list[explorer.Page]) -> None:
    """``health.html``."""
    rows = health.health(w.outputs.cells, w.outputs.skips, sources.logs, model_order(w.outputs))
    links: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for page in pages:
        for method in page.methods:
            links.setdefault((page.model, method), []).append((page.file, dataset_label(page.dataset)))
    w.page("health.html", "health.html", "Run health", SORTING, rows=rows, links=links)


def build_report(paths: Paths, log: Callable[[str], None] = print) -> Path:
    """Build every page from the evaluation outputs, result files and request logs; returns ``index.html``."""
    outputs = read_outputs(paths.eval_dir)
    w = Writer(paths, outputs)
    ctx = Context(paths.data_dir, int(outputs.settings.seed) if outputs.settings.seed.lstrip("-").isdigit() else 0)
    sources = Sources(paths.results_dir, ctx, outputs.settings.mode, read_logs(paths.results_dir / "logs"))
    leaderboard_page(w)
    differences_page(w)
    pages = explorer_pages(w, sources)
    health_page(w, sources, pages)
    keep = {p.name for p in w.written}
    for stale in sorted(paths.output_dir.glob("explore-*.html")):
        if stale.name not in keep:
            stale.unlink()
    total = sum(p.stat().st_size for p in w.written)
    log(f"wrote {len(w.written)} pages ({total / 1e6:.1f} MB) to {paths.output_dir}")
    return paths.output_dir / "index.html"
