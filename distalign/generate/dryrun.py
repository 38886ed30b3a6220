"""Dry runs: the pending requests of a run, with estimated tokens and cost per model x method, calling nothing.

The same planning as a real run (:func:`~distalign.generate.work.plan_model`, no markers written); token counts
and prices come from :mod:`distalign.engine.costs` (docs/original.md §1).
"""

from __future__ import annotations

from typing import Any

from distalign.engine.costs import cost as estimate_cost
from distalign.engine.costs import estimate_tokens, format_cost
from distalign.generate.config import Plugins, RunConfig, default_plugins, validate
from distalign.generate.plan import load_datasets
from distalign.generate.report import ModelReport
from distalign.generate.work import plan_model


def dry_run(cfg: RunConfig, plugins: Plugins | None = None) -> list[dict[str, Any]]:
    """Count the pending requests and estimate tokens and cost per model x method, calling nothing."""
    validate(cfg)
    plugins = plugins or default_plugins()
    datasets = load_datasets(cfg)
    rows = []
    for model in cfg.models:
        caps = plugins.caps(model, cfg.backend_options)
        report = ModelReport(model, caps.priced)
        work = plan_model(model, caps, cfg, plugins, datasets, report, False)
        totals: dict[str, list[int]] = {ot: [0, 0, 0, 0] for ot in cfg.output_types}
        for unit in work.units():
            t, method = totals[unit.cell.key.output_type], plugins.get_method(unit.cell.key.output_type)
            t[3] += bool(unit.skip)
            for r in unit.requests:
                t[0] += 1
                t[1] += sum(estimate_tokens(m.content) for m in r.messages)
                t[2] += method.expected_output_tokens(len(dict(r.meta)["letters"]))
        na = {ot: reason for _, ot, reason in report.not_applicable}
        for ot, (n, tin, tout, skipped) in totals.items():
            usd = estimate_cost(model, tin, tout, caps.priced)
            rows.append(
                {
                    "model": model,
                    "output_type": ot,
                    "requests": n,
                    "input_tokens": tin,
                    "output_tokens": tout,
                    "skipped": skipped,
                    "cost": usd,
                    "n/a": na.get(ot, ""),
                }
            )
    return rows


def format_dry_run(rows: list[dict[str, Any]]) -> str:
    """The dry-run table and its total line."""
    w = max([22, *(len(r["output_type"]) for r in rows)])  # express_distribution_structured is 31 wide
    lines = [f"{'model':<34} {'output_type':<{w}} {'requests':>9} {'input tok':>11} {'output tok':>11}  cost"]
    for r in rows:
        cost_text = f"n/a: {r['n/a']}" if r["n/a"] and not r["requests"] else format_cost(r["cost"])
        lines.append(
            f"{r['model']:<34} {r['output_type']:<{w}} {r['requests']:>9,} {r['input_tokens']:>11,} "
            f"{r['output_tokens']:>11,}  {cost_text}"
        )
    costs = [r["cost"] for r in rows if r["requests"]]
    total = None if any(c is None for c in costs) else sum(costs)
    lines.append(
        f"total: {sum(r['requests'] for r in rows):,} requests, {sum(r['input_tokens'] for r in rows):,} "
        f"input tokens, {sum(r['output_tokens'] for r in rows):,} output tokens (estimated), "
        f"{format_cost(total)}; nothing was sent"
    )
    return "\n".join(lines)
