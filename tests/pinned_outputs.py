"""Pinned outputs: sha256 of what the CLIs write for fixed inputs, so a refactor can prove it changed no byte.

What is pinned (every path relative to the work folder):

* ``paper/*`` and ``fixed/*``: ``lm_steering_eval.py`` over the released generations in both modes (seed 0);
* ``run/**``: a seeded ``fake/oracle`` + ``fake/garbage`` generation over the three datasets (3 questions,
  tasks 0-3, every generated method), its fixed-mode temperature scaling and its fixed-mode evaluation;
* ``ablation/**``: few-shot ``easy`` with the fictitious-group and shuffled-labels ablations (OpinionQA).

Request logs and the response cache hold times and are not pinned. The CLIs run as subprocesses with
command-line flags that every version of this repository accepts, so the same script measures old and new code::

    python tests/pinned_outputs.py --repo . --write       # refresh tests/golden/outputs.json (review the diff)
    python tests/pinned_outputs.py --repo /tmp/old --data .  # digests of another checkout on this data
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
PINS = HERE / "golden" / "outputs.json"
UNPINNED = ("logs", ".cache", ".batch")


def _cli(repo: Path, *args: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(repo), "PYTHONHASHSEED": "0"}
    subprocess.run([sys.executable, *args], cwd=repo, env=env, check=True, stdout=subprocess.DEVNULL)


# The pinned command lines, in order; each word is formatted with ``data`` (the data root) and ``work``.
COMMANDS = (
    "lm_steering_eval.py --results_dir {data}/results --data_dir {data} --output_dir {work}/paper --mode paper "
    "--seed 0 --quiet",
    "lm_steering_eval.py --results_dir {data}/results --data_dir {data} --output_dir {work}/fixed --mode fixed "
    "--seed 0 --quiet",
    "lm_steering.py --dataset opinionqa nytimes globalvalues --task 0 1 2 3 --models fake/oracle fake/garbage "
    "--output_type model_logprobs sequence express_distribution independent_samples option_likelihood --limit 3 "
    "--n_samples 4 --results_dir {work}/run --data_dir {data} --no_progress --seed 0",
    "temperature_scaling.py --results_dir {work}/run --data_dir {data} --mode fixed --datasets opinionqa nytimes "
    "globalvalues --folds 2",
    "lm_steering_eval.py --results_dir {work}/run --data_dir {data} --output_dir {work}/run/eval --no_human --quiet "
    "--n_bootstrap 200",
    "lm_steering.py --dataset opinionqa --task 2 3 --task3_type easy --models fake/oracle --output_type sequence "
    "express_distribution --limit 2 --ficticious_group_ablation --shuffled_incontext_labels --results_dir "
    "{work}/ablation --data_dir {data} --no_progress --seed 3",
)


def produce(repo: Path, data: Path, work: Path) -> dict[str, str]:
    """Run the pinned commands of checkout ``repo`` on data root ``data`` into ``work``; {relative path: sha256}."""
    for command in COMMANDS:
        _cli(repo, *(word.format(data=data, work=work) for word in command.split()))
    return digests(work)


def digests(work: Path) -> dict[str, str]:
    """{relative path: sha256} of every pinned file under ``work``."""
    out = {}
    for path in sorted(p for p in work.rglob("*") if p.is_file()):
        rel = path.relative_to(work)
        if rel.parts[0] in UNPINNED or any(part in UNPINNED for part in rel.parts):
            continue
        out[rel.as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def main(argv: list[str] | None = None) -> int:
    """Print (or ``--write``) the digests of a checkout."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--repo", type=Path, default=HERE.parent)
    p.add_argument("--data", type=Path, help="data root holding the fetched release (default: --repo)")
    p.add_argument("--write", action="store_true", help=f"write {PINS.relative_to(HERE.parent)}")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        found = produce(args.repo.resolve(), (args.data or args.repo).resolve(), Path(tmp))
    text = json.dumps(found, indent=1, sort_keys=True) + "\n"
    if args.write:
        PINS.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
