"""Behaviour pin: the CLIs write byte-identical files for fixed inputs (see ``tests/pinned_outputs.py``).

A refactor must not change a byte of an evaluation CSV, a seeded generation or a temperature fit. A change that
means to alter outputs refreshes the pins (``python tests/pinned_outputs.py --write``) and explains the diff.

    pytest tests/test_pinned_outputs.py
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.pinned_outputs import PINS, produce

REPO = Path(__file__).resolve().parents[1]

pytestmark = [pytest.mark.slow, pytest.mark.data]


@pytest.mark.skipif(not (REPO / "results" / "opinionqa").is_dir(), reason="needs the fetched release")
def test_outputs_are_byte_identical_to_the_pins(tmp_path: Path) -> None:
    pinned = json.loads(PINS.read_text(encoding="utf-8"))
    found = produce(REPO, REPO, tmp_path)
    assert sorted(found) == sorted(pinned), "different files written"
    changed = [path for path in pinned if found[path] != pinned[path]]
    assert not changed, f"{len(changed)} files differ, e.g. {changed[:5]}"
