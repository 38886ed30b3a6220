"""The main job's stamp (:mod:`distalign.stages`): derived stages rerun exactly when something they read changed."""

from __future__ import annotations

import os
from pathlib import Path

from distalign import stages

REPO = Path(__file__).resolve().parents[1]


def results(tmp_path: Path) -> Path:
    root = tmp_path / "results"
    cell = root / "opinionqa/model_logprobs/m/task1/POLPARTY"
    cell.mkdir(parents=True)
    (cell / "Democrat.json").write_text('{"Q1": {}}')
    (root / "figures").mkdir()
    (root / "figures/a.png").write_bytes(b"png")
    (root / "leaderboard.md").write_text("| board |\n")
    return root


def test_fresh_only_after_a_record_and_until_something_changes(tmp_path: Path) -> None:
    root = results(tmp_path)
    args = (root, tmp_path, REPO, "fixed 0 1000")
    assert not stages.fresh(*args)
    stages.record(*args)
    assert stages.fresh(*args)
    assert not stages.fresh(root, tmp_path, REPO, "paper 0 1000")  # other settings
    (root / ".cache").mkdir()
    (root / ".cache/responses.sqlite").write_bytes(b"x")  # bookkeeping does not count
    assert stages.fresh(*args)


def test_a_new_record_or_a_deleted_output_makes_it_stale(tmp_path: Path) -> None:
    root = results(tmp_path)
    args = (root, tmp_path, REPO, "")
    stages.record(*args)
    (root / "figures/a.png").unlink()
    assert not stages.fresh(*args)
    stages.record(*args)
    cell = root / "opinionqa/model_logprobs/m/task1/POLPARTY/Democrat.json"
    os.utime(cell, ns=(1, 1))
    assert not stages.fresh(*args)


def test_cli_exit_codes(tmp_path: Path) -> None:
    root = results(tmp_path)
    argv = ["--results_dir", str(root), "--data_dir", str(tmp_path), "--settings", "s"]
    assert stages.main(["fresh", *argv]) == 1
    assert stages.main(["record", *argv]) == 0 and stages.main(["fresh", *argv]) == 0
