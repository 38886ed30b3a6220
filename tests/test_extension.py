"""The README's five extension recipes, performed literally in scratch copies of the repository.

Each recipe of ``tests/recipes.py`` (a dataset, a steering method, an expression method, an in-process backend
with its own key variable, a metric) is applied to its own copy of the repository (the tracked files, with the
fetched data folders linked in). Then the CLIs run there with their default flags: generation with ``fake/oracle``
or the new backend, ``temperature_scaling.py``, ``lm_steering_eval.py`` and ``python -m distalign.figures``; and
the new thing must show where a user looks: result files, temperature fits, the evaluation CSV,
``leaderboard.md``, a figure. ``docs/extending.md`` shows every code snippet verbatim and, like the README, the
number of files each recipe touches (:func:`test_docs_show_each_recipe`).

    pytest tests/test_extension.py
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.recipes import Recipe, recipes

REPO = Path(__file__).resolve().parents[1]
DATA = ("opinions_qa", "nytimes", "Global_Values")
HEADINGS = {
    "dataset": "A dataset",
    "steering": "A steering method",
    "method": "An expression method",
    "backend": "A backend",
    "metric": "A metric",
}
needs_data = pytest.mark.skipif(not (REPO / "opinions_qa" / "data").is_dir(), reason="needs the fetched data")


def scratch(tmp_path: Path, recipe: Recipe) -> Path:
    """A copy of the repository's tracked files with the data linked in, after the recipe's edits."""
    root = tmp_path / "repo"
    files = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    for rel in filter(None, files.decode().split("\0")):
        if (REPO / rel).is_file():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / rel, root / rel)
    for folder in DATA:
        shutil.rmtree(root / folder, ignore_errors=True)
        (root / folder).symlink_to(REPO / folder)
    recipe.apply(root)
    return root


def cli(root: Path, *args: str, env: dict[str, str] | None = None, codes: tuple[int, ...] = (0,)) -> str:
    """Run a command of the scratch copy (its own package first on the path); return what it printed."""
    full = {**os.environ, "PYTHONPATH": str(root), **(env or {})}
    done = subprocess.run([sys.executable, *args], cwd=root, env=full, capture_output=True, text=True)
    assert done.returncode in codes, f"{args} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


def pipeline(root: Path, *generate: str, env: dict[str, str] | None = None, figures: bool = True) -> str:
    """Generation with ``generate``, then every later stage with its default flags."""
    out = cli(root, "lm_steering.py", *generate, "--no_progress", env=env)
    scaled = cli(root, "temperature_scaling.py", env=env, codes=(0, 1))  # 1: no Log-p results, nothing to fit
    assert "Traceback" not in scaled
    cli(root, "lm_steering_eval.py", "--quiet", env=env)
    if figures:
        cli(root, "-m", "distalign.figures", env=env)
    return out


def rows(path: Path, **match: str) -> list[dict[str, str]]:
    """The CSV rows whose columns equal ``match``."""
    with open(path, encoding="utf-8") as fh:
        return [r for r in csv.DictReader(fh) if all(r[k] == v for k, v in match.items())]


def figure_texts(root: Path, name: str) -> list[str]:
    """Every text (tick labels, titles, annotations) of a figure, rendered by the scratch copy."""
    code = (
        f"import json; from distalign import figures; fig = figures.build({name!r}, 'results', '.'); "
        "print(json.dumps([t.get_text() for t in fig.findobj(lambda a: hasattr(a, 'get_text'))]))"
    )
    return json.loads(cli(root, "-c", code).strip().splitlines()[-1])


@pytest.fixture(scope="module")
def all_recipes() -> dict[str, Recipe]:
    return recipes(REPO)


def test_docs_show_each_recipe(all_recipes: dict[str, Recipe]) -> None:
    guide = (REPO / "docs" / "extending.md").read_text(encoding="utf-8")
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for name, recipe in all_recipes.items():
        section = guide.split(f"**{HEADINGS[name]}**", 1)[1].split("\n**", 1)[0]
        assert f"Files touched: {len(recipe.files)} " in section, f"{name}: the guide must say {len(recipe.files)}"
        assert f"| {HEADINGS[name].lower()} | {len(recipe.files)} |" in readme, f"{name}: README table row"
        for edit in recipe.edits:
            if edit.shown:
                assert edit.text.strip() in section, f"{name}: docs/extending.md lacks the snippet for {edit.path}"


@pytest.mark.slow
@needs_data
def test_dataset_recipe(tmp_path: Path, all_recipes: dict[str, Recipe]) -> None:
    root = scratch(tmp_path, all_recipes["dataset"])
    pipeline(root, "--dataset", "pets", "--task", "0", "1", "3", "--models", "fake/oracle")
    results = root / "results"
    assert json.loads((results / "pets/model_logprobs/fake__oracle/task1/AREA/Rural.json").read_text())["DOGS"]
    assert {r["task"] for r in rows(results / "temperature_scaling_fixed.csv", dataset="pets")} == {
        "task0",
        "task1",
        "task3_easy_hard",
    }
    assert rows(results / "eval_disagreement_bootstrapping.csv", Dataset="pets", **{"Output Type": "sequence"})
    assert rows(results / "leaderboard_distrib_alignment_all.csv", Dataset="pets")
    assert "pets" in (results / "leaderboard.md").read_text()
    assert "pets" in figure_texts(root, "breakdown")


@pytest.mark.slow
@needs_data
def test_steering_recipe(tmp_path: Path, all_recipes: dict[str, Recipe]) -> None:
    root = scratch(tmp_path, all_recipes["steering"])
    pipeline(root, "--dataset", "opinionqa", "--task", "4", "--models", "fake/oracle", "--limit", "2")
    results = root / "results"
    log = [json.loads(line) for line in (results / "logs/fake__oracle.jsonl").read_text().splitlines()]
    assert log and all(r["task"] == "task4" for r in log)
    assert log[0]["messages"][1]["content"].startswith('You are a member of the group "')
    assert rows(results / "temperature_scaling_fixed.csv", task="task4")
    assert rows(results / "eval_disagreement_bootstrapping.csv", **{"Task Type": "task4"})
    assert rows(results / "leaderboard_distrib_alignment_all.csv", **{"Task Type": "task4"})
    assert "role-play" in figure_texts(root, "breakdown")


@pytest.mark.slow
@needs_data
def test_method_recipe(tmp_path: Path, all_recipes: dict[str, Recipe]) -> None:
    root = scratch(tmp_path, all_recipes["method"])
    pipeline(
        root,
        "--dataset",
        "opinionqa",
        "--task",
        "1",
        "3",
        "--models",
        "fake/oracle",
        "--limit",
        "2",
        "--output_type",
        "express_counts",
    )
    results = root / "results"
    files = sorted((results / "opinionqa/express_counts/fake__oracle").rglob("*.json"))
    records = [rec for f in files for rec in json.loads(f.read_text()).values()]
    assert len(records) == 24 and all(r["parse_ok"] for r in records)
    assert rows(results / "eval_disagreement_bootstrapping.csv", **{"Output Type": "express_counts"})
    assert re.search(r"\| Model +\| +Counts \|", (results / "leaderboard.md").read_text())
    assert "Counts" in figure_texts(root, "leaderboard")


@pytest.mark.slow
@needs_data
def test_backend_recipe(tmp_path: Path, all_recipes: dict[str, Recipe]) -> None:
    root = scratch(tmp_path, all_recipes["backend"])
    token = "toy-" + os.urandom(12).hex()
    out = pipeline(
        root,
        "--dataset",
        "opinionqa",
        "--task",
        "1",
        "--models",
        "toy/echo",
        "--limit",
        "2",
        env={"TOY_TOKEN": token},
        figures=False,
    )
    assert "toy/echo: requests: 24 sent" in out and "($0.00)" in out  # declared unpriced
    results = root / "results"
    marker = json.loads((results / "opinionqa/model_logprobs/toy__echo/_na.json").read_text())
    assert marker["reason"] == "the model returns no token log-probabilities"
    leaks = [p for p in results.rglob("*") if p.is_file() and token.encode() in p.read_bytes()]
    assert not leaks, f"the key reached {leaks}"
    stored = json.loads(next((results / "opinionqa/sequence/toy__echo").rglob("*.json")).read_text())
    assert all("[redacted]" in r["response"][0] for r in stored.values())
    board = (results / "leaderboard.md").read_text()
    assert "| toy/echo " in board and "n/a" in board


@pytest.mark.slow
@needs_data
def test_metric_recipe(tmp_path: Path, all_recipes: dict[str, Recipe]) -> None:
    root = scratch(tmp_path, all_recipes["metric"])
    cli(root, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_metrics.py")
    cli(root, "lm_steering.py", "--dataset", "opinionqa", "--models", "fake/oracle", "--limit", "2", "--no_progress")
    cli(root, "lm_steering_eval.py", "--quiet", "--metric", "hellinger")
    results = root / "results"
    assert "Hellinger distance" in (results / "leaderboard.md").read_text()
    assert {r["metric"] for r in rows(results / "eval_disagreement_bootstrapping.csv")} == {"hellinger"}
