"""The figure registry: name -> (one-line description, builder from the results folder to a Figure).

A builder reads its inputs through :mod:`distalign.figures.data` and draws with
:mod:`distalign.figures.plots` (the NYT figures with :mod:`distalign.figures.plots_nyt`); :func:`build_all`
saves every figure it can as PNG and PDF and reports the ones whose inputs are missing instead of failing.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless; must precede any pyplot import elsewhere

from matplotlib.figure import Figure  # noqa: E402

from distalign.figures import data, plots, plots_nyt  # noqa: E402
from distalign.figures.style import style  # noqa: E402

LEADERBOARD = "leaderboard_distrib_alignment.csv"
LEADERBOARD_ALL = "leaderboard_distrib_alignment_all.csv"
K2S = "k2s_gap.csv"
EVAL = "eval_disagreement_bootstrapping.csv"


@dataclass(frozen=True)
class Inputs:
    """Where a builder finds its inputs, and the seed of its bootstrap error bars.

    ``results_dir`` holds the result files and ``human_annotations/``; ``eval_dir`` the evaluation CSVs
    (default: ``results_dir``); ``data_dir`` the data root with ``nytimes/``.
    """

    results_dir: Path
    data_dir: Path
    seed: int = 0
    eval_dir: Path | None = None

    @property
    def csvs(self) -> Path:
        """The folder of the evaluation CSVs."""
        return self.eval_dir if self.eval_dir is not None else self.results_dir


def _leaderboard(i: Inputs) -> Figure:
    return plots.plot_leaderboard(data.leaderboard_table(data.read_csv(i.csvs / LEADERBOARD)))


def _k2s(i: Inputs) -> Figure:
    table = data.leaderboard_table(data.read_csv(i.csvs / LEADERBOARD))
    k2s = data.k2s_table(data.read_csv(i.csvs / K2S)) if (i.csvs / K2S).exists() else None
    return plots.plot_k2s_gap(table, k2s)


def _breakdown(i: Inputs) -> Figure:
    return plots.plot_breakdown(data.leaderboard_table(data.read_csv(i.csvs / LEADERBOARD_ALL)))


def _humans(i: Inputs) -> Figure:
    return plots.plot_humans_vs_llms(data.humans_vs_llms(data.read_csv(i.csvs / EVAL), seed=i.seed))


def _stereotyping(i: Inputs) -> Figure:
    return plots_nyt.plot_stereotyping(data.stereotype_table(i.results_dir, i.data_dir, seed=i.seed))


def _books(i: Inputs) -> Figure:
    return plots_nyt.plot_partisan_books(data.book_gaps(i.data_dir, seed=i.seed))


def _calibration(i: Inputs) -> Figure:
    pairs = data.calibration_pairs(i.results_dir)
    return plots.plot_calibration(data.calibration_bins(pairs), pairs)


FIGURES: dict[str, tuple[str, Callable[[Inputs], Figure]]] = {
    "leaderboard": (
        "models × expression methods, mean TV with bootstrap errors and simulated references",
        _leaderboard,
    ),
    "k2s_gap": ("knowledge-to-simulation gap per model: V vs Seq vs Log-p", _k2s),
    "breakdown": ("mean TV per dataset × steering method (incl. no steering), one heatmap per method", _breakdown),
    "humans_vs_llms": ("humans vs LLMs (V) on OpinionQA + NYT by steering method (Table 2)", _humans),
    "nyt_stereotyping": ("NYT: mean Likert distribution per party, truth vs human vs model estimates", _stereotyping),
    "nyt_partisan_books": ("NYT: books with the largest Republican − Democrat rating gaps", _books),
    "calibration": ("calibration curves of raw vs temperature-scaled log-probs per model", _calibration),
}


def build(
    name: str,
    results_dir: Path | str = "results",
    data_dir: Path | str = ".",
    seed: int = 0,
    eval_dir: Path | str | None = None,
) -> Figure:
    """Build one figure by name (raises :class:`~distalign.figures.data.MissingInput` if an input is absent)."""
    if name not in FIGURES:
        raise ValueError(f"unknown figure {name!r}; valid: {', '.join(FIGURES)}")
    inputs = Inputs(Path(results_dir), Path(data_dir), seed, Path(eval_dir) if eval_dir is not None else None)
    with style():
        return FIGURES[name][1](inputs)


def save(fig: Figure, out_dir: Path | str, name: str, formats: tuple[str, ...] = ("png", "pdf")) -> list[Path]:
    """Save ``fig`` as ``<out_dir>/<name>.<fmt>`` for each format; returns the paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / f"{name}.{fmt}" for fmt in formats]
    with style():
        for path in paths:
            tmp = path.with_name(f".{path.name}.tmp")
            fig.savefig(tmp, format=path.suffix[1:], bbox_inches="tight", pad_inches=0.08)
            tmp.replace(path)
    return paths


def render(
    name: str,
    results_dir: Path | str,
    out_dir: Path | str,
    data_dir: Path | str = ".",
    seed: int = 0,
    eval_dir: Path | str | None = None,
    log: Callable[[str], None] = print,
) -> list[Path]:
    """Build and save one figure; returns its paths, or ``[]`` after logging why its input is missing."""
    try:
        fig = build(name, results_dir, data_dir, seed, eval_dir)
    except data.MissingInput as e:
        log(f"skip {name}: {e}")
        return []
    paths = save(fig, out_dir, name)
    log(f"wrote {paths[0]} ({FIGURES[name][0]})")
    return paths


def build_all(
    results_dir: Path | str,
    out_dir: Path | str,
    data_dir: Path | str = ".",
    seed: int = 0,
    names: list[str] | None = None,
    log: Callable[[str], None] = print,
    eval_dir: Path | str | None = None,
) -> dict[str, list[Path]]:
    """Build and save every figure (or ``names``); a figure with a missing input is skipped with a note."""
    saved = {name: render(name, results_dir, out_dir, data_dir, seed, eval_dir, log) for name in names or FIGURES}
    return {name: paths for name, paths in saved.items() if paths}


def ensure_evaluation(
    results_dir: Path | str,
    data_dir: Path | str,
    eval_dir: Path | str | None = None,
    mode: str = "paper",
    seed: int = 0,
    log: Callable[[str], None] = print,
) -> bool:
    """Run the evaluator (``lm_steering_eval.py``) when an evaluation CSV is missing from ``eval_dir``.

    Returns whether every CSV is there afterwards; without the evaluator it logs a note and returns False
    (the figures that need the CSVs are then skipped).
    """
    eval_dir = Path(eval_dir if eval_dir is not None else results_dir)
    if all((eval_dir / name).exists() for name in (LEADERBOARD, LEADERBOARD_ALL, K2S, EVAL)):
        return True
    script = Path(__file__).resolve().parents[2] / "lm_steering_eval.py"
    if not script.exists():
        log(f"no evaluation CSVs in {eval_dir} and no evaluator at {script}: the leaderboard figures are skipped")
        return False
    log(f"evaluating {results_dir} ({mode} mode) -> {eval_dir}")
    cmd = [
        sys.executable,
        str(script),
        "--results_dir",
        str(results_dir),
        "--data_dir",
        str(data_dir),
        "--output_dir",
        str(eval_dir),
        "--mode",
        mode,
        "--seed",
        str(seed),
        "--quiet",
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        log(f"the evaluator failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    return done.returncode == 0
