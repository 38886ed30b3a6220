"""Pure plot functions of the NYT figures: the parties' rating distributions and the partisan books (§8).

Section numbers refer to docs/original.md. Like :mod:`distalign.figures.plots`: a tidy table (from
:mod:`distalign.figures.data`) in, a matplotlib Figure out, no file read and no randomness; call them inside
``with style():`` for the house look.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from distalign.figures.plots import note
from distalign.figures.style import HUMAN_COLOR, PARTY_COLORS, steering_color
from distalign.names import STEERING_LABELS

LIKERT_NAMES = ("1\nvery unlikely", "2\nsomewhat unlikely", "3\nsomewhat likely", "4\nvery likely")


# ---- 5. NYT stereotyping --------------------------------------------------------------------------------
def plot_stereotyping(table: pd.DataFrame, groups: Sequence[str] = ("Democrat", "Republican")) -> Figure:
    """Mean Likert distribution per group: ground truth vs human and model-average estimates (persona, few-shot)."""
    fig = Figure(figsize=(10, 4.2), layout="constrained")
    axes = fig.subplots(1, len(groups), sharey=True, squeeze=False)[0]
    for ax, group in zip(axes, groups, strict=True):
        part = table[table["group"] == group] if not table.empty else table
        if part.empty:
            note(ax, f"no data for {group}")
            continue
        for (source, steering), s in part.groupby(["source", "steering"], sort=False):
            ax.errorbar(
                s["rating"],
                s["mean"],
                yerr=s["error"],
                capsize=3,
                lw=2 if source == "truth" else 1.6,
                **_stereo_style(str(source), str(steering)),
            )
        ax.set_xticks(range(1, 5), LIKERT_NAMES, fontsize=8)
        ax.set_xlim(0.7, 4.3)
        ax.set_title(f"{group}s: how likely to read the book?")
        ax.set_xlabel("rating")
    axes[0].set_ylabel("share of ratings (mean over 235 books)")
    handles, labels = axes[0].get_legend_handles_labels()
    order = sorted(range(len(labels)), key=lambda k: (not labels[k].startswith("ground"), "LLM" in labels[k]))
    fig.legend([handles[k] for k in order], [labels[k] for k in order], loc="outside lower center", ncol=len(order))
    fig.suptitle(
        "NYT books: each party's rating distribution, true vs estimated by humans and by LLMs\n"
        "(LLMs: mean over models of the verbalized distributions; error bars: bootstrap 95% half-width)",
        fontsize=10,
    )
    return fig


def _stereo_style(source: str, steering: str) -> dict:
    """Colour, marker, line style and legend label of one (source, steering) curve."""
    if source == "truth":
        return {"color": HUMAN_COLOR, "marker": "o", "label": "ground truth", "zorder": 4}
    who = "humans" if source == "human" else "LLMs"
    return {
        "color": steering_color(steering),
        "marker": "s" if source == "human" else "^",
        "ls": "-" if source == "human" else "--",
        "label": f"{who} · {STEERING_LABELS.get(steering, steering)}",
    }


# ---- 6. NYT partisan books ------------------------------------------------------------------------------
def plot_partisan_books(table: pd.DataFrame) -> Figure:
    """Horizontal bars: mean rating of Democrats vs Republicans for the books with the largest gaps."""
    books = list(dict.fromkeys(table["book"])) if not table.empty else []
    fig = Figure(figsize=(8, 0.62 * max(len(books), 2) + 1.6), layout="constrained")
    ax = fig.add_subplot()
    if not books:
        note(ax, "no NYT ratings")
        return fig
    y = np.arange(len(books))[::-1].astype(float)
    _party_bars(ax, table, books, y)
    first = table.drop_duplicates("book").set_index("book").reindex(books)
    ax.set_yticks(
        y, [f"{t}\n{a}" if a else t for t, a in zip(first["title"], first["author"], strict=True)], fontsize=8
    )
    for yi, gap in zip(y, first["gap"], strict=True):
        ax.annotate(
            f"Δ {gap:+.2f}",
            (4.0, yi),
            xytext=(6, 0),
            textcoords="offset points",
            va="center",
            fontsize=8,
            annotation_clip=False,
        )
    split = int((first["gap"] > 0).sum())
    if 0 < split < len(books):
        ax.axhline(y[split - 1] - 0.5, color="#999999", lw=1)
    ax.set_xlim(1, 4)
    ax.set_xlabel("mean rating: how likely to read it (1 = very unlikely, 4 = very likely)")
    ax.grid(axis="x", color="#E5E5E5")
    ax.grid(axis="y", visible=False)
    ax.set_title("NYT books Republicans and Democrats disagree on most (Δ = Rep − Dem)")
    ax.legend(loc="lower right", ncol=2, frameon=True)
    return fig


def _party_bars(ax: Axes, table: pd.DataFrame, books: list[str], y: np.ndarray) -> None:
    """Each party's mean rating of each book (± bootstrap error), Democrats above Republicans."""
    for k, group in enumerate(("Democrat", "Republican")):
        rows = table[table["group"] == group].set_index("book").reindex(books)
        ax.barh(
            y + (0.2 if k == 0 else -0.2),
            rows["mean"],
            0.4,
            xerr=rows["error"],
            color=PARTY_COLORS[group],
            label=f"{group}s",
            capsize=2,
            error_kw={"elinewidth": 0.8},
        )
