"""The evaluation path imports no model SDK: openai, anthropic, torch and transformers load only to call a model.

Evaluating the released generations asks the backends what a model supports (Claude has no log-probabilities,
for an "n/a" line); that look-up must not import the SDKs (seconds of imports). Checked in a fresh interpreter.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("openai", "anthropic", "torch", "transformers", "vllm")
PROBE = """
import json, sys
sys.argv = ["lm_steering_eval.py", "--help"]
import lm_steering_eval
from distalign.backends import model_capabilities
from distalign.evaluation.leaderboards import build
from distalign.evaluation.pooling import declared_unsupported
notes = [declared_unsupported(m, "model_logprobs") for m in ("anthropic_haiku", "anthropic_opus", "gpt-4")]
caps = [model_capabilities(m).logprobs for m in ("openai/gpt-4o-2024-08-06", "anthropic/claude-3-haiku-20240307")]
print(json.dumps({"loaded": sorted({m.split(".")[0] for m in sys.modules}), "notes": notes, "caps": caps}))
"""


def test_evaluation_and_capability_lookups_import_no_sdk() -> None:
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=REPO, capture_output=True, text=True, check=True)
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["notes"][0] and found["notes"][1] and not found["notes"][2]  # Claude has no log-probabilities
    assert found["caps"] == [True, False]
    assert not [m for m in HEAVY if m in found["loaded"]], f"SDKs imported: {set(HEAVY) & set(found['loaded'])}"
