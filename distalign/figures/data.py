"""Tables behind the figures: read the evaluation CSVs and result files into tidy DataFrames (docs/original.md §7, §8).

Every function returns a long-format DataFrame (one row per plotted value) that the plot functions in
:mod:`distalign.figures.plots` draw without further computation. A missing input raises
:class:`MissingInput`, which the CLI turns into "skip <figure>: <reason>". Randomness (bootstrap error
bars) comes from a seed argument.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from distalign.bootstrap import bootstrap
from distalign.datasets import DATASETS
from distalign.figures.style import split_model_method
from distalign.files import DataError, read_json
from distalign.names import HEADLINE_TASKS, K2S_PAIRS, RESCALED, dataset_key, method_label, steering_key
from distalign.results import ResultKey, read_results, result_path

N_BOOT = 1000
LIKERT = (1, 2, 3, 4)


class MissingInput(DataError):
    """An input file of a figure is absent; the message names it and how to produce it."""


def read_csv(path: Path | str, producer: str = "python lm_steering_eval.py") -> pd.DataFrame:
    """Read an evaluation CSV, or raise :class:`MissingInput` saying which command writes it."""
    path = Path(path)
    if not path.exists():
        raise MissingInput(f"{path} not found (written by {producer})")
    return pd.read_csv(path)


def _col(df: pd.DataFrame, *names: str) -> pd.Series:
    """The first of ``names`` that is a column (case-insensitive), else a :class:`DataError` listing them."""
    lower = {c.lower(): c for c in df.columns}
    for name in names:
        if name.lower() in lower:
            return df[lower[name.lower()]]
    raise DataError(f"none of the columns {list(names)} in {list(df.columns)}")


# ---- leaderboards --------------------------------------------------------------------------------------
def leaderboard_table(board: pd.DataFrame) -> pd.DataFrame:
    """Tidy leaderboard rows: kind (model/simulated/human), model, method, dataset, steering, mean, error.

    Simulated reference rows (``simulated``) carry their type (``ground_truth``, ``uniform``...) as ``method``.
    """
    names = [split_model_method(str(n)) for n in _col(board, "Model Name", "Model")]
    task = _col(board, "Task Type", "Task").astype(str)
    out = pd.DataFrame(
        {
            "model": [m for m, _ in names],
            "method": [k for _, k in names],
            "dataset": [dataset_key(d) for d in _col(board, "Dataset").astype(str)],
            "task": task.to_numpy(),
            "steering": [steering_key(t) for t in task],
            "mean": pd.to_numeric(_col(board, "Alignment Mean", "Mean", "TV"), errors="coerce").to_numpy(),
            "error": pd.to_numeric(_col(board, "Alignment Error", "Error"), errors="coerce").to_numpy(),
        }
    )
    sim = out["model"].str.lower().eq("simulated")
    out.loc[sim & out["method"].eq(""), "method"] = out.loc[sim & out["method"].eq(""), "task"]
    out["kind"] = np.where(sim, "simulated", np.where(out["model"].str.lower().eq("human"), "human", "model"))
    return out.dropna(subset=["mean"]).reset_index(drop=True)


def k2s_table(k2s: pd.DataFrame) -> pd.DataFrame:
    """Model -> K2S gap (Seq/V − 1) from ``k2s_gap.csv`` (the paper's pair; the structured pair's rows are left out)."""
    if "Task Type" in k2s.columns:
        k2s = k2s[k2s["Task Type"].astype(str) == next(iter(K2S_PAIRS))]
    models = [split_model_method(str(n))[0] for n in _col(k2s, "Model Name", "Model")]
    return pd.DataFrame({"model": models, "k2s": pd.to_numeric(_col(k2s, "K2S Mean", "K2S"), errors="coerce")})


# ---- humans vs LLMs (Table 2) ----------------------------------------------------------------------------
def eval_pools(evaluation: pd.DataFrame) -> pd.DataFrame:
    """Per-(model, method, dataset, steering) pools of per-question TVs from the evaluation CSV."""
    tvs = [json.loads(s) if isinstance(s, str) else [] for s in _col(evaluation, "all_tvs")]
    df = pd.DataFrame(
        {
            "model": _col(evaluation, "Model").astype(str).to_numpy(),
            "method": [method_label(str(m)) for m in _col(evaluation, "Output Type")],
            "dataset": [dataset_key(d) for d in _col(evaluation, "Dataset").astype(str)],
            "steering": [steering_key(t) for t in _col(evaluation, "Task Type").astype(str)],
            "tvs": tvs,
        }
    )
    df = df[df["model"].str.lower() != "simulated"]
    return df.groupby(["model", "method", "dataset", "steering"], sort=False)["tvs"].sum().reset_index()


def humans_vs_llms(
    evaluation: pd.DataFrame,
    method: str = "V",
    datasets: Sequence[str] = ("opinionqa", "nytimes"),
    seed: int = 0,
    n_boot: int = N_BOOT,
) -> pd.DataFrame:
    """½·OQA + ½·NYT mean TV with bootstrap error per (model or human, steering): the paper's Table 2.

    Models are scored with ``method`` (humans estimated a distribution, so verbalize is the like-for-like
    method). A (model, steering) with a dataset missing is left out.
    """
    pools = eval_pools(evaluation)
    pools = pools[pools["dataset"].isin(datasets) & ((pools["method"] == method) | (pools["model"] == "human"))]
    rows = []
    for (model, steering), part in pools.groupby(["model", "steering"], sort=False):
        data = {
            d: np.asarray([v for v in tv if v == v], float) for d, tv in zip(part["dataset"], part["tvs"], strict=True)
        }
        data = {d: x for d, x in data.items() if x.size}
        if set(data) != set(datasets):
            continue
        est = bootstrap(data, dict.fromkeys(data, 1 / len(data)), n_boot, seed, f"figure|{model}|{steering}")
        rows.append({"model": model, "steering": steering, "mean": est.mean, "error": est.error})
    return pd.DataFrame(rows, columns=["model", "steering", "mean", "error"])


# ---- NYT: stereotyping and partisan books --------------------------------------------------------------
def _boot_vectors(units: np.ndarray, rng: np.random.Generator, n_boot: int = N_BOOT) -> tuple[np.ndarray, np.ndarray]:
    """Mean over units (rows) and the half-width of the bootstrap 95% interval, resampling units."""
    idx = rng.integers(0, len(units), size=(n_boot, len(units)))
    stats = units[idx].mean(axis=1)
    lo, hi = np.percentile(stats, [2.5, 97.5], axis=0)
    return units.mean(axis=0), (hi - lo) / 2


def nyt_counts(data_dir: Path | str) -> dict[str, dict[str, list[int]]]:
    """Map book -> {demographic: respondent counts per Likert rating 1-4} from ``nytimes/POLPARTY_data.json``."""
    path = Path(data_dir) / "nytimes" / "POLPARTY_data.json"
    if not path.exists():
        raise MissingInput(f"{path} not found (python -m distalign.data fetch)")
    out = {}
    for book, rec in read_json(path).items():
        out[book] = {g: [int(v) for v in rec[g].values()] for g in ("Democrat", "Republican") if g in rec}
    return out


def verbalized_marginals(results_dir: Path | str, group: str, task: str) -> dict[str, np.ndarray]:
    """Map model -> mean verbalized Likert distribution over books (NYT, one group, one task).

    Parse failures (null or all-zero vectors) are skipped and each vector is renormalised to sum 1.
    """
    out = {}
    for model_dir in sorted((Path(results_dir) / "nytimes" / "express_distribution").glob("*")):
        path = result_path(
            results_dir, ResultKey("nytimes", "express_distribution", model_dir.name, task, "POLPARTY", group)
        )
        if not path.exists():
            continue
        vecs = [
            np.array([float(x) for x in rec["avg_actual_results"].values()])
            for rec in read_results(path).values()
            if rec.get("avg_actual_results")
        ]
        vecs = [v / v.sum() for v in vecs if len(v) == len(LIKERT) and v.sum() > 0]
        if vecs:
            out[model_dir.name] = np.mean(vecs, axis=0)
    return out


def stereotype_table(
    results_dir: Path | str, data_dir: Path | str, groups: Iterable[str] = ("Democrat", "Republican"), seed: int = 0
) -> pd.DataFrame:
    """Mean Likert distribution per group: ground truth, human estimates, and the model average (docs/original.md §8.2).

    Columns: group, source (truth/human/model), steering, rating, mean, error, n (books or models).
    """
    counts = nyt_counts(data_dir)
    humans_path = Path(results_dir) / "human_annotations" / "all_q_ID_to_TV.json"
    humans = read_json(humans_path)["humans"] if humans_path.exists() else {}
    rng, rows = np.random.default_rng(seed), []
    for group in groups:
        truth = np.array([np.array(c[group]) / sum(c[group]) for c in counts.values() if sum(c.get(group, [])) > 0])
        rows += _series(group, "truth", "", *_boot_vectors(truth, rng), len(truth))
        for steering, key in (("persona", "persona"), ("fewshot", "fewshot")):
            if group in humans:
                h = humans[group]
                rows += _series(group, "human", steering, np.array(h[f"{key}_avg"]), np.array(h[f"{key}_bs"]), 4)
            models = verbalized_marginals(results_dir, group, "task1" if steering == "persona" else "task3_easy_hard")
            if models:
                rows += _series(
                    group, "model", steering, *_boot_vectors(np.array(list(models.values())), rng), len(models)
                )
    return pd.DataFrame(rows)


def _series(group: str, source: str, steering: str, mean: np.ndarray, error: np.ndarray, n: int) -> list[dict]:
    return [
        {
            "group": group,
            "source": source,
            "steering": steering,
            "rating": r,
            "mean": float(m),
            "error": float(e),
            "n": n,
        }
        for r, m, e in zip(LIKERT, mean, error, strict=True)
    ]


def book_gaps(data_dir: Path | str, n_each: int = 4, seed: int = 0, n_boot: int = N_BOOT) -> pd.DataFrame:
    """The books with the largest positive and negative Republican − Democrat mean-rating gap.

    Columns: book, title, author, group, mean, error (bootstrap 95% half-width over raters), gap, n.
    """
    rng, rows = np.random.default_rng(seed), []
    for book, by_group in nyt_counts(data_dir).items():
        stats = {}
        for group, cnt in by_group.items():
            ratings = np.repeat(np.array(LIKERT, float), cnt)[:, None]
            mean, err = _boot_vectors(ratings, rng, n_boot)
            stats[group] = (float(mean[0]), float(err[0]), len(ratings))
        if set(stats) == {"Democrat", "Republican"}:
            title, _, author = re.sub(r"'S\b", "'s", book).partition(" By ")
            gap = stats["Republican"][0] - stats["Democrat"][0]
            rows += [
                {"book": book, "title": title, "author": author, "group": g, "mean": m, "error": e, "gap": gap, "n": n}
                for g, (m, e, n) in stats.items()
            ]
    df = pd.DataFrame(rows)
    order = df.drop_duplicates("book").sort_values("gap", ascending=False)["book"].tolist()
    keep = order[:n_each] + order[-n_each:]
    return df[df["book"].isin(keep)].assign(rank=lambda d: d["book"].map(keep.index)).sort_values(["rank", "group"])


# ---- calibration -----------------------------------------------------------------------------------------
def calibration_pairs(
    results_dir: Path | str, models: Sequence[str] | None = None, tasks: Sequence[str] = HEADLINE_TASKS
) -> pd.DataFrame:
    """(true option probability, model option probability) pairs of raw and temperature-scaled log-probs.

    Pooled over datasets, ``tasks`` and groups; one row per option. Columns: model, variant (Log-p or TS-Log-p),
    dataset, expected, output. Null or NaN model vectors are skipped.
    """
    root, frames = Path(results_dir), []
    found = sorted({p.name for p in root.glob("*/model_logprobs/*") if p.is_dir()})
    for model in models if models is not None else found:
        for output_type in ("model_logprobs", RESCALED["paper"]):
            for dataset in DATASETS:
                for task in tasks:
                    for path in sorted((root / dataset / output_type / model / task).rglob("*.json")):
                        frames.append(_pairs(path, model, method_label(output_type), dataset))
    frames = [f for f in frames if len(f)]
    if not frames:
        raise MissingInput(f"no model_logprobs results under {root}")
    return pd.concat(frames, ignore_index=True)


def _pairs(path: Path, model: str, variant: str, dataset: str) -> pd.DataFrame:
    exp, out = [], []
    for rec in read_results(path).values():
        p, q = rec.get("avg_actual_results"), rec.get("expected_results")
        if not p or not q or len(p) != len(q) or any(v is None or v != v for v in p.values()):
            continue
        exp += [float(v) for v in q.values()]
        out += [float(v) for v in p.values()]
    return pd.DataFrame({"model": model, "variant": variant, "dataset": dataset, "expected": exp, "output": out})


def calibration_bins(pairs: pd.DataFrame, bins: int = 10) -> pd.DataFrame:
    """Mean expected and mean output per equal-width bin of the model probability, per (model, variant)."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    b = np.clip(np.digitize(pairs["output"], edges[1:-1]), 0, bins - 1)
    grouped = pairs.assign(bin=b).groupby(["model", "variant", "bin"])
    return grouped.agg(expected=("expected", "mean"), output=("output", "mean"), n=("output", "size")).reset_index()
