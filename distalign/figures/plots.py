"""Pure plot functions: a tidy table (from :mod:`distalign.figures.data`) in, a matplotlib Figure out (§8).

Section numbers refer to docs/original.md. No function reads files or draws randomness. Every function works for
any set of models and methods; a panel without data shows a note instead of failing. Call them inside
``with style():`` for the house look (the CLI and the notebook do). The NYT figures are in
:mod:`distalign.figures.plots_nyt`.
"""

from __future__ import annotations

from typing import cast

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.image import AxesImage

from distalign.datasets import DATASETS
from distalign.figures.style import (
    TV_LABEL,
    method_color,
    method_marker,
    method_name,
    method_sort_key,
    model_name,
    model_sort_key,
    steering_color,
)
from distalign.names import STEERING_LABELS, TASK_STEERING, dataset_label

REFERENCES = {
    "ground_truth": ("30-sample floor (simulated)", ":", "#333333"),
    "uniform": ("uniform distribution", "--", "#777777"),
}


def note(ax: Axes, text: str) -> None:
    """Replace an empty panel's content by a centred note."""
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="#666666", wrap=True)
    ax.set_xticks([])
    ax.set_yticks([])


def _models(df: pd.DataFrame, by: str = "model") -> list[str]:
    return sorted(df[by].unique(), key=model_sort_key)


def _methods(df: pd.DataFrame) -> list[str]:
    return sorted((m for m in df["method"].unique() if m), key=method_sort_key)


# ---- 1. headline leaderboard ----------------------------------------------------------------------------
def plot_leaderboard(table: pd.DataFrame, title: str = "Distributional alignment leaderboard") -> Figure:
    """Grouped bars: models × expression methods (mean TV ± bootstrap error) with simulated reference lines."""
    models_df = table[table["kind"] == "model"]
    models, methods = _models(models_df), _methods(models_df)
    fig = Figure(figsize=(max(6.5, 1.5 * len(models) + 2.2), 4.4), layout="constrained")
    ax = fig.add_subplot()
    if models_df.empty:
        note(ax, "no leaderboard rows")
        return fig
    width = 0.8 / len(methods)
    for j, method in enumerate(methods):
        rows = models_df[models_df["method"] == method].set_index("model").reindex(models)
        x = np.arange(len(models)) + (j - (len(methods) - 1) / 2) * width
        ax.bar(
            x,
            rows["mean"],
            width,
            yerr=rows["error"],
            color=method_color(method),
            capsize=2,
            error_kw={"elinewidth": 0.8, "ecolor": "#333333"},
            label=method_name(method),
        )
        for xi in x[rows["mean"].isna().to_numpy()]:
            ax.text(xi, 0.01, "n/a", ha="center", va="bottom", fontsize=7, color="#777777", rotation=90)
    _reference_lines(ax, table[table["kind"] == "simulated"])
    ax.set_xticks(np.arange(len(models)), [model_name(m) for m in models])
    ax.set_ylabel(f"mean {TV_LABEL}")
    ax.set_title(title)
    ax.set_ylim(0, max(float(np.nanmax(models_df["mean"] + models_df["error"].fillna(0))), 0.4) * 1.08)
    fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncol=min(len(methods), 4))
    return fig


def _reference_lines(ax: Axes, sims: pd.DataFrame) -> None:
    for key, (label, ls, color) in REFERENCES.items():
        row = sims[sims["method"] == key]
        if row.empty:
            continue
        y = float(row["mean"].iloc[0])
        ax.axhline(y, ls=ls, color=color, lw=1.2, zorder=3)
        ax.annotate(
            f"{label}: {y:.3f}",
            (1.0, y),
            xycoords=("axes fraction", "data"),
            xytext=(4, 0),
            textcoords="offset points",
            va="center",
            fontsize=8,
            color=color,
            annotation_clip=False,
        )


# ---- 2. knowledge-to-simulation gap ---------------------------------------------------------------------
def plot_k2s_gap(table: pd.DataFrame, k2s: pd.DataFrame | None = None) -> Figure:
    """Per model: V vs Seq vs Log-p (and TS-Log-p) mean TV; the V→Seq segment is labelled with K2S = Seq/V − 1."""
    df = table[table["kind"] == "model"]
    models, methods = _models(df)[::-1], _methods(df)
    fig = Figure(figsize=(7.5, 0.55 * len(models) + 1.6), layout="constrained")
    ax = fig.add_subplot()
    if df.empty:
        note(ax, "no leaderboard rows")
        return fig
    gaps = dict(zip(k2s["model"], k2s["k2s"], strict=True)) if k2s is not None else {}
    for i, model in enumerate(models):
        _k2s_segment(ax, i, df[df["model"] == model].set_index("method")["mean"], gaps.get(model))
    for method in methods:
        part = df[df["method"] == method].set_index("model").reindex(models)
        ax.errorbar(
            part["mean"],
            np.arange(len(models)),
            xerr=part["error"],
            fmt=method_marker(method),
            ms=7,
            color=method_color(method),
            label=method_name(method),
            zorder=3,
            capsize=2,
        )
    ax.set_yticks(np.arange(len(models)), [model_name(m) for m in models])
    ax.set_ylim(-0.6, len(models) - 0.4)
    ax.set_xlabel(f"mean {TV_LABEL}")
    ax.grid(axis="x", color="#E5E5E5")
    ax.grid(axis="y", visible=False)
    ax.set_title("Knowledge-to-simulation gap: describing (V) vs simulating (Seq) vs log-probs")
    fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncol=min(len(methods), 4))
    return fig


def _k2s_segment(ax: Axes, i: int, row: pd.Series, gap: float | None) -> None:
    """The V→Seq segment of the model on line ``i``, labelled with its K2S gap (computed when not given)."""
    if {"V", "Seq"} <= set(row.index):
        ax.plot([row["V"], row["Seq"]], [i, i], color="#999999", lw=2.5, zorder=1)
        if gap is None:
            gap = row["Seq"] / row["V"] - 1 if row["V"] > 0 else np.nan
        if np.isfinite(gap):
            ax.annotate(
                f"K2S {gap:+.0%}",
                (max(row["V"], row["Seq"]), i),
                xytext=(6, 5),
                textcoords="offset points",
                fontsize=8,
                color="#444444",
            )


# ---- 3. dataset × steering breakdown --------------------------------------------------------------------
def plot_breakdown(table: pd.DataFrame) -> Figure:
    """One heatmap per expression method: models × (dataset, steering) mean TV, including no steering."""
    datasets, steerings = list(DATASETS), list(TASK_STEERING.values())
    df = table[(table["kind"] == "model") & table["dataset"].isin(datasets) & table["steering"].isin(steerings)]
    methods = _methods(df) or ["-"]
    present = set(zip(df["dataset"], df["steering"], strict=True))
    cols = [(d, s) for d in datasets for s in steerings if (d, s) in present]
    ncols = 2 if len(methods) > 1 else 1
    nrows = -(-len(methods) // ncols)
    fig = Figure(figsize=(6.4 * ncols, (0.42 * max(df["model"].nunique(), 2) + 2.0) * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    vmin, vmax = (float(df["mean"].min()), float(df["mean"].max())) if not df.empty else (0.0, 1.0)
    image = None
    for ax, method in zip(axes, methods, strict=False):
        part = df[df["method"] == method]
        if part.empty:
            note(ax, "no per-dataset leaderboard rows")
            continue
        grid = part.pivot_table(index="model", columns=["dataset", "steering"], values="mean").reindex(
            index=_models(part), columns=pd.MultiIndex.from_tuples(cols)
        )
        image = _heatmap(ax, grid, vmin, vmax)
        ax.set_title(method_name(method), loc="left", pad=20, weight="bold")
    for ax in axes[len(methods) :]:
        ax.set_visible(False)
    if image is not None:
        fig.colorbar(image, ax=list(axes[: len(methods)]), shrink=0.6, aspect=30, label=f"mean {TV_LABEL}")
    fig.suptitle("Alignment by dataset and steering method (mean TV over questions × groups)")
    return fig


def _heatmap(ax: Axes, grid: pd.DataFrame, vmin: float, vmax: float) -> AxesImage:
    values = grid.to_numpy(dtype=float)
    image = ax.imshow(values, cmap="cividis_r", vmin=vmin, vmax=vmax, aspect="auto")
    mid = (vmin + vmax) / 2
    for (i, j), v in np.ndenumerate(values):
        text = "–" if np.isnan(v) else f"{v:.3f}"
        ax.text(j, i, text, ha="center", va="center", fontsize=7.5, color="white" if v > mid else "black")
    ax.set_yticks(range(len(grid.index)), [model_name(m) for m in grid.index])
    columns = cast(list[tuple[str, str]], grid.columns.to_list())
    ax.set_xticks(
        range(len(columns)),
        [STEERING_LABELS.get(s, s) for _, s in columns],
        rotation=30,
        ha="right",
        rotation_mode="anchor",
    )
    for k, dataset in enumerate(dict.fromkeys(d for d, _ in columns)):
        span = [j for j, (d, _) in enumerate(columns) if d == dataset]
        ax.text(float(np.mean(span)), -0.6, dataset_label(dataset), ha="center", va="bottom", fontsize=9)
        if k:
            ax.axvline(span[0] - 0.5, color="white", lw=3)
    ax.grid(False)
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    return image


# ---- 4. humans vs LLMs ----------------------------------------------------------------------------------
def plot_humans_vs_llms(table: pd.DataFrame, method: str = "V") -> Figure:
    """Grouped bars: humans and each model (scored with ``method``) by steering, ½ OQA + ½ NYT mean TV."""
    entities = _models(table) if not table.empty else []
    fig = Figure(figsize=(max(6.5, 1.25 * len(entities) + 2.5), 4.2), layout="constrained")
    ax = fig.add_subplot()
    if table.empty:
        note(ax, "no human or model rows for OpinionQA + NYT")
        return fig
    steerings = [s for s in TASK_STEERING.values() if s in set(table["steering"])]
    width = 0.8 / len(steerings)
    for j, steering in enumerate(steerings):
        rows = table[table["steering"] == steering].set_index("model").reindex(entities)
        x = np.arange(len(entities)) + (j - (len(steerings) - 1) / 2) * width
        ax.bar(
            x,
            rows["mean"],
            width,
            yerr=rows["error"],
            color=steering_color(steering),
            capsize=2,
            label=STEERING_LABELS.get(steering, steering),
            edgecolor="white",
            error_kw={"elinewidth": 0.8},
        )
    labels = [model_name(m) if m == "human" else f"{model_name(m)}\n({method})" for m in entities]
    ax.set_xticks(np.arange(len(entities)), labels)
    if "human" in entities:
        ax.get_xticklabels()[entities.index("human")].set_fontweight("bold")
        ax.axvline(entities.index("human") + 0.5, color="#BBBBBB", lw=1)
    ax.set_ylabel(f"mean {TV_LABEL}\n(½ OpinionQA + ½ NYT)")
    ax.set_title("Humans vs LLMs at estimating a group's opinion distribution")
    fig.legend(
        *ax.get_legend_handles_labels(),
        loc="outside lower center",
        ncol=len(steerings),
        title="steering method",
        title_fontsize=9,
    )
    return fig


# ---- 7. calibration curves ------------------------------------------------------------------------------
def plot_calibration(bins: pd.DataFrame, pairs: pd.DataFrame | None = None, max_points: int = 4000) -> Figure:
    """Reliability diagram per model: mean true probability vs mean model probability per bin, Log-p vs TS-Log-p."""
    models = _models(bins) if not bins.empty else []
    fig = Figure(figsize=(3.6 * max(len(models), 1) + 0.4, 4.1), layout="constrained")
    axes = fig.subplots(1, max(len(models), 1), sharey=True, squeeze=False)[0]
    if not models:
        note(axes[0], "no log-prob results")
        return fig
    for ax, model in zip(axes, models, strict=True):
        for variant in ("Log-p", "TS-Log-p"):
            if pairs is not None:
                pts = pairs[(pairs["model"] == model) & (pairs["variant"] == variant)]
                pts = pts.iloc[:: max(1, len(pts) // max_points)]
                ax.scatter(
                    pts["output"], pts["expected"], s=3, alpha=0.08, color=method_color(variant), lw=0, rasterized=True
                )
            b = bins[(bins["model"] == model) & (bins["variant"] == variant)]
            ax.plot(b["output"], b["expected"], "o-", color=method_color(variant), label=method_name(variant), ms=5)
        ax.plot([0, 1], [0, 1], ls="--", color="#777777", lw=1, label="perfect calibration")
        ax.set(xlim=(0, 1), ylim=(0, 1), aspect="equal", title=model_name(model), xlabel="model probability")
        ax.grid(axis="x", color="#E5E5E5")
    axes[0].set_ylabel("true (human) probability")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=3)
    fig.suptitle("Calibration of option probabilities (10 equal-width bins; OQA + NYT + GV, persona + few-shot)")
    return fig
