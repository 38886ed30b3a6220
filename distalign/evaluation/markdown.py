"""``leaderboard.md``: the headline table and its context as GitHub markdown that also reads well in a terminal.

Models × methods with "mean ± error", the K2S gap, N and parse-failure rate per model and method,
the simulated and human references, the skipped/checked counts, and one line stating mode, seed and the
number of bootstrap resamples (and the metric, when it is not TV: the caption then names it with its direction,
``JSD ↓``). Columns are padded to equal width so the raw text lines up.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from distalign.datasets import DATASETS
from distalign.evaluation import Evaluation
from distalign.metrics import DEFAULT_METRIC, Metric, get_metric
from distalign.names import (
    HEADLINE_TASKS,
    K2S_LABELS,
    K2S_PAIRS,
    STEERING_LABELS,
    dataset_label,
    method_label,
    model_label,
    steering_of,
)
from distalign.prompts import join_and

REFERENCE_LABELS = {
    "ground_truth": "sampling floor: 30 answers drawn from the truth",
    "uniform": "uniform over the options",
    "LB1": "LB1: one-hot on GPT-3.5 Seq's most frequent letter",
    "LB2": "LB2: one-hot on GPT-3.5 Seq's least frequent letter",
    "true_mode": "one-hot on the true most chosen option",
    "true_least": "one-hot on the true least chosen option",
}


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A markdown table with cells padded to their column's width (first column left, others right).

    >>> print(table(["a", "bb"], [["xyz", "1"]]))
    | a   | bb |
    |-----|---:|
    | xyz |  1 |
    """
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]

    def line(cells: Sequence[str]) -> str:
        return (
            "| "
            + " | ".join(
                str(c).ljust(w) if i == 0 else str(c).rjust(w)
                for i, (c, w) in enumerate(zip(cells, widths, strict=True))
            )
            + " |"
        )

    rule = "|" + "|".join("-" * (w + 2) if i == 0 else "-" * (w + 1) + ":" for i, w in enumerate(widths)) + "|"
    return "\n".join([line(header), rule, *(line(r) for r in rows)])


def cell(row: pd.Series) -> str:
    """The cell of a score: "mean ± error", "n/a" (reason listed under the table), or the row's note if no score.

    >>> cell(pd.Series({"Alignment Mean": 0.22904, "Alignment Error": 0.00561, "note": ""}))
    '0.2290 ± 0.0056'
    >>> cell(pd.Series({"Alignment Mean": float("nan"), "Alignment Error": float("nan"), "note": "n/a: no logprobs"}))
    'n/a'
    """
    if not np.isfinite(row["Alignment Mean"]):
        return "n/a" if str(row["note"]).startswith("n/a:") else str(row["note"]) or "–"
    star = " *" if row["note"] else ""
    return f"{row['Alignment Mean']:.4f} ± {row['Alignment Error']:.4f}{star}"


def coverage(row: pd.Series) -> str:
    """The coverage cell of a leaderboard row: "N · parse-failure rate".

    >>> coverage(pd.Series({"N": 2740, "parse_fail_rate": 0.0125}))
    '2,740 · 1.2%'
    """
    if not row["N"]:
        return "–"
    return f"{int(row['N']):,} · {100 * row['parse_fail_rate']:.1f}%"


def gap_kinds(gap: pd.DataFrame) -> list[str]:
    """The K2S columns of the headline: the paper's gap always, the structured pair's where it has a row."""
    first, *others = K2S_PAIRS
    return [first, *(k for k in others if (gap["Task Type"] == k).any())]


def _grid(head: pd.DataFrame, gap: pd.DataFrame, fmt: str) -> tuple[list[str], list[list[str]]]:
    models = [m for m in dict.fromkeys(head["model"]) if m]
    methods = list(dict.fromkeys(head.loc[head["model"] != "", "output_type"]))
    gaps = {(m, k): g for m, k, g in zip(gap["Model Name"], gap["Task Type"], gap["K2S Mean"], strict=True)}
    kinds = gap_kinds(gap) if fmt == "score" else []
    header = ["Model", *(method_label(o) for o in methods), *(K2S_LABELS[k] for k in kinds)]
    rows = []
    for m in models:
        mine = head[head["model"] == m].set_index("output_type")
        cells = [cell(mine.loc[o]) if fmt == "score" else coverage(mine.loc[o]) for o in methods]
        extra = [f"{gaps[m, k]:.3f}" if np.isfinite(gaps.get((m, k), np.nan)) else "–" for k in kinds]
        rows.append([model_label(m), *cells, *extra])
    return header, rows


def _not_applicable(head: pd.DataFrame) -> list[str]:
    """One line per (model, reason) of the "n/a" cells: which methods, and why."""
    empty = head[~np.isfinite(head["Alignment Mean"].astype(float)) & head["note"].astype(str).str.startswith("n/a:")]
    methods: dict[tuple[str, str], list[str]] = {}
    for _, r in empty.iterrows():
        label = method_label(r["output_type"]) if r["output_type"] else ""
        methods.setdefault((r["model"], r["note"][4:].strip()), []).append(label)
    return [f"- n/a — {model_label(m)}, {', '.join(ms)}: {why}" for (m, why), ms in methods.items()]


def _references(head: pd.DataFrame, metric: Metric) -> str:
    sim = head[head["Model Name"] == "simulated"]
    rows = [
        [REFERENCE_LABELS.get(r["Task Type"], r["Task Type"]), cell(r), f"{int(r['N']):,}"] for _, r in sim.iterrows()
    ]
    return table(["Reference", metric.label, "N"], rows)


def _humans(allb: pd.DataFrame) -> str:
    human = allb[allb["Model Name"] == "human"]
    datasets = [d for d in dict.fromkeys(human["Dataset"]) if d != "both"]
    rows = []
    for task in dict.fromkeys(human.loc[human["Dataset"] != "both", "Task Type"]):
        label = STEERING_LABELS.get(steering_of(task), task)
        cells = [
            cell(r.iloc[0]) if len(r := human[(human["Dataset"] == d) & (human["Task Type"] == task)]) else "–"
            for d in datasets
        ]
        rows.append([label, *cells, ""])
    both = human[human["Dataset"] == "both"]
    if len(both):
        rows.append(["persona + few-shot", *([""] * len(datasets)), cell(both.iloc[0])])
    return table(["Human estimate (k = 4)", *(dataset_label(d) for d in datasets), "OQA & NYT ½ each"], rows)


def _footer(ev: Evaluation) -> list[str]:
    lines = [f"- {kind}: {reason}: {n:,}" for (kind, reason), n in sorted(ev.tally.summary().items())]
    return ["Counted skips, parse failures and checks (details in `eval_skips.csv`):", "", *lines] if lines else []


def _metric_text(metric: Metric) -> tuple[str, str, str]:
    """(header-line mention, caption, K2S and caveat sentences) of the run's metric; TV keeps the original wording.

    >>> _metric_text(get_metric("tv"))
    ('', 'Total variation to the human distribution (lower is better)', 'K2S = Seq/V − 1.')
    >>> _metric_text(get_metric("jsd"))[:2]
    (' · metric **jsd**', 'Jensen–Shannon distance (base 2) to the human distribution (JSD ↓, lower is better)')
    """
    if metric.name == DEFAULT_METRIC:
        return "", f"{metric.description} to the human distribution ({metric.direction})", "K2S = Seq/V − 1."
    caption = f"{metric.description} to the human distribution ({metric.label} {metric.arrow}, {metric.direction})"
    notes = "K2S = Seq/V − 1." if not metric.higher_is_better else "K2S: not defined for a higher-is-better metric."
    if metric.ordinal:
        notes += (
            f" {metric.label} reads the options as an ordered scale: meaningful for NYT's Likert ratings, only "
            "indicative for OpinionQA (alphabetical options) and GlobalOpinionQA (source order)."
        )
    return f" · metric **{metric.name}**", caption, notes


def _structured_note(gap: pd.DataFrame) -> str:
    """The sentence defining K2S-S, when the table shows it ("" otherwise: released results keep their text)."""
    return " K2S-S = Seq-S/V-S − 1 (structured decoding)." if len(gap_kinds(gap)) > 1 else ""


def weighting() -> str:
    """How the headline weights the datasets, in words: every registered dataset equally.

    >>> weighting()
    'OpinionQA, NYT Books and GlobalOpinionQA weighted ⅓ each'
    """
    names = [dataset_label(d) for d in DATASETS]
    share = {1: "fully", 2: "½ each", 3: "⅓ each", 4: "¼ each"}.get(len(names), f"1/{len(names)} each")
    return f"{join_and(names)} weighted {share}"


def markdown(ev: Evaluation, n_boot: int, head: pd.DataFrame, allb: pd.DataFrame, gap: pd.DataFrame) -> str:
    """The whole ``leaderboard.md``."""
    tasks = " + ".join(STEERING_LABELS[steering_of(t)] for t in HEADLINE_TASKS)
    metric = get_metric(ev.metric)
    mention, caption, notes = _metric_text(metric)
    parts = [
        "# Distributional alignment leaderboard",
        "",
        f"Mode: **{ev.mode}**{mention} · seed {ev.seed} · {n_boot} bootstrap resamples.",
        "",
        f"{caption}, {tasks} steering pooled, {weighting()}; mean ± half-width of the 95% percentile bootstrap "
        "interval. "
        f"{notes}{_structured_note(gap)} `*`: see the note column of the CSV.",
        "",
        table(*_grid(head, gap, "score")),
        "",
        *_not_applicable(head),
        *([""] if _not_applicable(head) else []),
        "N scored cells (questions × demographics) · parse-failure rate"
        + (
            " (fixed mode: failures scored as uniform)"
            if ev.mode == "fixed"
            else " (paper mode: all-zero vectors, the original parsers' silent failures)"
        )
        + ":",
        "",
        table(*_grid(head, gap, "coverage")),
        "",
        "Simulated references:",
        "",
        _references(head, metric),
        "",
    ]
    if ((allb["Model Name"] == "human") & (allb["Dataset"] != "both")).any():
        parts += ["Humans (Prolific annotators estimating a group's distribution):", "", _humans(allb), ""]
    return "\n".join([*parts, *_footer(ev)]) + "\n"
