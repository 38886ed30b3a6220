"""The evaluation shared with a forked worker gives what one process gives: same rows, same tally, same order."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from distalign.evaluation import evaluate
from distalign.evaluation.workers import forked, parallel_ok

REPO = Path(__file__).resolve().parents[1]


def _boom() -> int:
    raise ValueError("worker failed on purpose")


def test_forked_returns_the_result_and_raises_the_error() -> None:
    assert forked(lambda: {"rows": [1.5, 2.5]})() == {"rows": [1.5, 2.5]}
    with pytest.raises(ValueError, match="on purpose"):
        forked(_boom)()


def test_workers_can_be_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISTALIGN_EVAL_WORKERS", "1")
    assert not parallel_ok(10_000)
    assert not parallel_ok(3, minimum=16)


@pytest.mark.slow
@pytest.mark.data
@pytest.mark.skipif(not (REPO / "results" / "opinionqa").is_dir(), reason="needs the fetched release")
@pytest.mark.skipif(not parallel_ok(1000), reason="one core or no fork: nothing to compare")
@pytest.mark.parametrize("mode", ["paper", "fixed"])
def test_two_processes_equal_one(mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    shared = evaluate(REPO / "results", REPO, mode)
    monkeypatch.setenv("DISTALIGN_EVAL_WORKERS", "1")
    single = evaluate(REPO / "results", REPO, mode)
    assert shared.rows == single.rows
    assert list(shared.tally.counts.items()) == list(single.tally.counts.items())  # same counts, same order
    assert os.environ["DISTALIGN_EVAL_WORKERS"] == "1"
