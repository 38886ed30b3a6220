"""What the report reads: the evaluation's outputs, its settings, the figures and the provenance of data and code.

The report never recomputes a score: every number on the leaderboard, pairwise and explorer pages comes from the
CSVs that ``lm_steering_eval.py`` wrote (:mod:`distalign.evaluation.leaderboards`). The run's mode, seed and number
of resamples come from the settings line of ``leaderboard.md``; the provenance is the sha256 of the data manifest
that verified the release (:mod:`distalign.data.manifest`) and the code version (package version and git commit).
"""

from __future__ import annotations

import base64
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from distalign import __version__
from distalign.data.manifest import MANIFEST, sha256_file
from distalign.files import DataError

HEADLINE = "leaderboard_distrib_alignment.csv"
EVERYTHING = "leaderboard_distrib_alignment_all.csv"
CELLS = "eval_disagreement_bootstrapping.csv"
POSITIONS = "eval_positions.csv"
K2S = "k2s_gap.csv"
PAIRWISE = "pairwise_differences.csv"
SKIPS = "eval_skips.csv"
MARKDOWN = "leaderboard.md"
NUMERIC = (
    *("Alignment Mean", "Alignment Error", "N", "n_parse_fail", "parse_fail_rate", "point_estimate"),
    *("K2S Mean", "V Mean", "Seq Mean", "Difference", "CI Low", "CI High", "count", "n", "TV"),
)
SETTINGS = re.compile(
    r"^Mode: \*\*(?P<mode>[\w-]+)\*\*(?: · metric \*\*(?P<metric>[\w-]+)\*\*)? · seed (?P<seed>-?\d+) · "
    r"(?P<resamples>\d+) bootstrap resamples\.$",
    re.MULTILINE,
)
PRODUCER = "python lm_steering_eval.py --output_dir <this folder>"


@dataclass(frozen=True)
class Settings:
    """The evaluation run's settings, as its ``leaderboard.md`` states them ("unknown" when it does not)."""

    mode: str = "unknown"
    metric: str = "tv"
    seed: str = "unknown"
    resamples: str = "unknown"


@dataclass
class EvalOutputs:
    """The evaluation's tables (``k2s``, ``pairwise`` and ``skips`` are ``None`` when their file is absent)."""

    headline: pd.DataFrame
    everything: pd.DataFrame
    cells: pd.DataFrame
    k2s: pd.DataFrame | None
    pairwise: pd.DataFrame | None
    skips: pd.DataFrame | None
    settings: Settings


def read_table(path: Path, required: bool = True) -> pd.DataFrame | None:
    """One evaluation CSV: text columns kept as written (a model called "NA" stays "NA"), scores as numbers."""
    if not path.exists():
        if required:
            raise DataError(f"{path} not found (written by {PRODUCER})")
        return None
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    for column in NUMERIC:
        if column in frame.columns:
            frame[column] = pd.to_numeric(frame[column].replace("", None), errors="coerce")
    return frame


def settings_of(markdown: str) -> Settings:
    """The settings line of ``leaderboard.md`` (:mod:`distalign.evaluation.markdown` writes it).

    >>> settings_of("Mode: **fixed** · metric **jsd** · seed 3 · 200 bootstrap resamples.")
    Settings(mode='fixed', metric='jsd', seed='3', resamples='200')
    >>> settings_of("nothing here").mode
    'unknown'
    """
    match = SETTINGS.search(markdown)
    if match is None:
        return Settings()
    return Settings(match["mode"], match["metric"] or "tv", match["seed"], match["resamples"])


def read_outputs(eval_dir: Path) -> EvalOutputs:
    """Every evaluation output the report uses; a missing required CSV raises naming it and its producer."""
    md = eval_dir / MARKDOWN
    required = {name: read_table(eval_dir / name) for name in (HEADLINE, EVERYTHING, CELLS)}
    return EvalOutputs(
        headline=_present(required[HEADLINE]),
        everything=_present(required[EVERYTHING]),
        cells=with_positions(_present(required[CELLS]), read_table(eval_dir / POSITIONS, required=False)),
        k2s=read_table(eval_dir / K2S, required=False),
        pairwise=read_table(eval_dir / PAIRWISE, required=False),
        skips=read_table(eval_dir / SKIPS, required=False),
        settings=settings_of(md.read_text(encoding="utf-8")) if md.exists() else Settings(),
    )


def with_positions(cells: pd.DataFrame, positions: pd.DataFrame | None) -> pd.DataFrame:
    """The eval CSV with the ``positions`` column of ``eval_positions.csv`` (same rows, same order), if it matches."""
    if positions is None or len(positions) != len(cells):
        return cells
    keys = [c for c in positions.columns if c != "positions"]
    if not positions[keys].equals(cells[keys]):
        return cells  # written by another run: the explorer says so instead of showing wrong questions
    return cells.assign(positions=positions["positions"].to_numpy())


def _present(frame: pd.DataFrame | None) -> pd.DataFrame:
    assert frame is not None  # read_table raises for a missing required file
    return frame


@dataclass(frozen=True)
class Provenance:
    """Where the numbers come from: the data manifest's digest and the code version."""

    manifest_sha256: str
    version: str
    commit: str


def provenance() -> Provenance:
    """The data manifest's sha256, the package version and the git commit of the code ("" outside a checkout)."""
    try:
        done = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        commit = done.stdout.strip() if done.returncode == 0 else ""
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return Provenance(sha256_file(MANIFEST), __version__, commit)


@dataclass(frozen=True)
class Figure:
    """One figure of :mod:`distalign.figures`, embedded as a data URI."""

    name: str
    caption: str
    uri: str


def figures(figures_dir: Path, registry: dict[str, str]) -> list[Figure]:
    """The PNGs in ``figures_dir``: the registered figures in registry order, then any others by name."""
    found = {p.stem: p for p in sorted(figures_dir.glob("*.png"))} if figures_dir.is_dir() else {}
    names = [n for n in registry if n in found] + sorted(set(found) - set(registry))
    return [
        Figure(n, registry.get(n, n), "data:image/png;base64," + base64.b64encode(found[n].read_bytes()).decode())
        for n in names
    ]
