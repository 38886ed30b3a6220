"""The README's fixed-mode leaderboard is what the code computes: every paper-model cell, to the printed digit.

The Quick start table lists, for the five paper models, mean ± half-width of V, Seq, Log-p, TS-Log-p and the
cross-fitted TS-Log-p CV, and the K2S gap, from the released generations (fixed mode, seed 0, 1000 resamples).
This test recomputes them: the released files are linked into a scratch results folder, the fixed-mode
temperature scaling writes ``rescaled_model_logprobs_cv`` there, and the evaluation builds the headline.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from distalign.calibration import calibrate
from distalign.datasets import DATASETS
from distalign.evaluation import evaluate
from distalign.evaluation.leaderboards import build
from distalign.names import METHOD_LABELS, PAPER_MODELS

REPO = Path(__file__).resolve().parents[1]
COLUMNS = ("V", "Seq", "Log-p", "TS-Log-p", "TS-Log-p CV")
needs_data = pytest.mark.skipif(not (REPO / "results/opinionqa/model_logprobs").is_dir(), reason="needs the data")


def readme_table() -> dict[str, list[str]]:
    """Model -> its cells in the Quick start's fixed-mode table."""
    text = (REPO / "README.md").read_text(encoding="utf-8").split("The leaderboard it printed (fixed mode", 1)[1]
    lines = text.split("| Model | V | Seq | Log-p | TS-Log-p | TS-Log-p CV | K2S |", 1)[1].splitlines()[2:]
    rows = {}
    for line in lines:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        rows[cells[0]] = cells[1:]
    return rows


@pytest.mark.slow
@pytest.mark.data
@needs_data
def test_readme_fixed_mode_leaderboard_is_reproduced(tmp_path: Path) -> None:
    results = tmp_path / "results"
    for dataset in DATASETS:
        for folder in (REPO / "results" / dataset).iterdir():
            if folder.name != "rescaled_model_logprobs_cv":
                (results / dataset).mkdir(parents=True, exist_ok=True)
                (results / dataset / folder.name).symlink_to(folder)
    calibrate(results, results, REPO, models=[m for m in PAPER_MODELS if "anthropic" not in m], mode="fixed")
    head = build(evaluate(results, REPO, "fixed", 0, human=False), 1000).headline
    table = readme_table()
    assert set(PAPER_MODELS) <= set(table)
    labels = {label: method for method, label in METHOD_LABELS.items()}
    for model in PAPER_MODELS:
        mine = head[head["model"] == model].set_index("output_type")
        for column, printed in zip(COLUMNS, table[model], strict=False):
            method = labels[column]
            if printed == "n/a":
                assert method not in mine.index or mine.loc[method, "note"].startswith("n/a"), (model, column)
                continue
            mean, error = mine.loc[method, "Alignment Mean"], mine.loc[method, "Alignment Error"]
            assert f"{mean:.4f} ± {error:.4f}" == printed, (model, column)
        v, seq = mine.loc["express_distribution", "Alignment Mean"], mine.loc["sequence", "Alignment Mean"]
        assert f"{seq / v - 1:.3f}" == table[model][-1], (model, "K2S")
