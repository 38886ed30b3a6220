"""A small results folder for the report tests: a new run with request logs, a released-style model, hostile replies.

* ``fake/oracle`` and ``fake/garbage`` generated on the tiny three-dataset data of ``tests/eval_fixtures.py``
  (no steering and persona; Log-p, Seq and V): result files, request logs; garbage never parses;
* ``released__model``: result files in the released layout (no ``parse_ok``, no log), whose V reply on one
  question is :data:`HOSTILE` (it does not parse, so it is a failure showing its raw reply);
* the request log of ``fake/garbage`` has its first V reply replaced by :data:`HOSTILE` too (the log path);
* then the evaluation (fixed mode, 200 resamples) writes its CSVs into the results folder.
"""

from __future__ import annotations

import json
from pathlib import Path

from distalign.evaluation import evaluate
from distalign.evaluation.leaderboards import build, write
from distalign.generate import RunConfig, run
from distalign.report import Paths, build_report
from tests.eval_fixtures import make_data, oqa_truth, record, result_file

REPO = Path(__file__).resolve().parents[1]
HOSTILE = '<script>window.__pwned = 1</script>"><img src=x onerror="window.__pwned = 2">'
RELEASED = "released__model"


def generate(data: Path, results: Path) -> None:
    """The fake models' run: every dataset, no steering and persona, the paper's three methods."""
    cfg = RunConfig(
        datasets=("opinionqa", "nytimes", "globalvalues"),
        tasks=(0, 1),
        models=("fake/oracle", "fake/garbage"),
        output_types=("model_logprobs", "sequence", "express_distribution"),
        results_dir=results,
        data_dir=data,
        prompts_dir=REPO / "inputs",
        cache_path=None,
        progress=False,
    )
    run(cfg)


def released(results: Path) -> None:
    """A released-style model on OpinionQA persona: V replies as text (one hostile), no log."""
    for dem, group in (("Democrat", "POLPARTY"), ("Republican", "POLPARTY")):
        records = {
            "q1": record(None, HOSTILE if dem == "Democrat" else '{"A": 0.2, "B": 0.3, "C": 0.5}'),
            "q2": record(None, '{"A": 0.5, "B": 0.5}', oqa_truth(group, dem, "q2")),
        }
        result_file(results, "opinionqa", "express_distribution", RELEASED, "task1", group, dem, records)


def poison_log(results: Path) -> None:
    """Replace the reply of the garbage model's first logged V request by :data:`HOSTILE`."""
    path = results / "logs" / "fake__garbage.jsonl"
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    first = next(i for i, line in enumerate(lines) if line["output_type"] == "express_distribution")
    lines[first]["response"] = HOSTILE
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")


def make_results(root: Path) -> Paths:
    """Data, results, evaluation and the report's paths under ``root`` (the report itself is not built)."""
    data, results = make_data(root / "data"), root / "results"
    generate(data, results)
    released(results)
    poison_log(results)
    write(build(evaluate(results, data, "fixed", seed=0, human=False), 200), results)
    return Paths(results, results, results / "figures", data, results / "report")


def make_report(root: Path) -> Paths:
    """:func:`make_results`, then the report."""
    paths = make_results(root)
    build_report(paths, log=lambda _: None)
    return paths
