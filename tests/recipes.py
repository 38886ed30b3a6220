"""The README's five extension recipes as data: every file a recipe touches, with the exact text it adds.

``tests/test_extension.py`` applies each recipe to a scratch copy of the repository, runs the CLIs with their
default flags, and checks that the README shows each code snippet verbatim and states the number of files a recipe
touches; so the README's recipes are exactly what the test does.

An :class:`Edit` writes a new file (``where="new"``), appends to one, or puts ``text`` after, before or instead of
the line of an existing file that contains ``anchor``. Snippets marked ``shown`` are printed in docs/extending.md;
the others (data and template files) are described there in words. The texts themselves are in
:mod:`tests.recipe_texts`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from tests.recipe_texts import (
    COUNTS_PY,
    HELLINGER_PY,
    HELLINGER_TEST,
    PETS_DATA,
    PETS_PY,
    PETS_TEMPLATE,
    ROLEPLAY_PY,
    TOY_PY,
)


@dataclass(frozen=True)
class Edit:
    """One change to one file of the repository."""

    path: str
    text: str
    anchor: str = ""
    where: str = "new"  # new | after | before | replace | append
    shown: bool = True

    def apply(self, root: Path) -> None:
        """Make the change under ``root``."""
        target = root / self.path
        if self.where in ("new", "append"):
            target.parent.mkdir(parents=True, exist_ok=True)
            old = target.read_text(encoding="utf-8") if self.where == "append" else ""
            target.write_text(old + self.text, encoding="utf-8")
            return
        lines = target.read_text(encoding="utf-8").split("\n")
        (i,) = [n for n, line in enumerate(lines) if self.anchor in line]  # exactly one anchor line
        new = self.text.split("\n")
        at = {"after": slice(i + 1, i + 1), "before": slice(i, i), "replace": slice(i, i + 1)}[self.where]
        lines[at] = new
        target.write_text("\n".join(lines), encoding="utf-8")


@dataclass(frozen=True)
class Recipe:
    """A README extension recipe."""

    name: str
    edits: tuple[Edit, ...]

    @property
    def files(self) -> list[str]:
        """Every file the recipe touches, once."""
        return list(dict.fromkeys(e.path for e in self.edits))

    def apply(self, root: Path) -> None:
        """Apply every edit under ``root``."""
        for edit in self.edits:
            edit.apply(root)


# ---- a dataset -------------------------------------------------------------------------------------------
PAPER_GENERATED = ("model_logprobs", "sequence", "express_distribution")

DATASET = Recipe(
    "dataset",
    (
        Edit("distalign/datasets/pets.py", PETS_PY),
        Edit(
            "distalign/datasets/__init__.py",
            "from distalign.datasets.pets import Pets",
            "from distalign.datasets.opinionqa import OpinionQA",
            "after",
        ),
        Edit("distalign/datasets/__init__.py", '    "pets": Pets,', '    "globalvalues": GlobalValues,', "after"),
        Edit("pets/data.json", json.dumps(PETS_DATA, indent=1), shown=False),
        *(
            Edit(f"inputs/pets/{ot}/prompt_task{t}.txt", PETS_TEMPLATE, shown=False)
            for ot in PAPER_GENERATED
            for t in (0, 1, 2)
        ),
    ),
)

# ---- a steering method -----------------------------------------------------------------------------------
STEERING = Recipe(
    "steering",
    (
        Edit("distalign/steering/roleplay.py", ROLEPLAY_PY),
        Edit(
            "distalign/steering/__init__.py",
            "from distalign.steering.roleplay import roleplay",
            "from distalign.steering.persona import persona",
            "after",
        ),
        Edit(
            "distalign/steering/__init__.py",
            '    "roleplay": SteeringMethod(roleplay, 1),  # the persona examples',
            '    "fewshot": SteeringMethod(fewshot, None),',
            "after",
        ),
        Edit(
            "distalign/names.py",
            'TASK_STEERING = {0: "none", 1: "persona", 2: "context", 3: "fewshot", 4: "roleplay"}'
            "  # --task number -> steering method",
            "TASK_STEERING = {",
            "replace",
        ),
        Edit("distalign/names.py", '    "roleplay": "role-play",', '    "fewshot": "few-shot",', "after"),
    ),
)

# ---- an expression method --------------------------------------------------------------------------------
TEMPLATE_DIRS = ("opinion_surveys", "nytimes", "globalvalues")


def counts_template(repo: Path, folder: str, task: int) -> str:
    """The verbalize template of ``folder``, asking for counts: its example answers are counts of 100 already."""
    text = (repo / "inputs" / folder / "express_distribution" / f"prompt_task{task}.txt").read_text(encoding="utf-8")
    return text.replace("to a percentage}", "to a count out of 100}")


def method_recipe(repo: Path) -> Recipe:
    """The expression-method recipe (its templates derive from the repository's verbalize templates)."""
    return Recipe(
        "method",
        (
            Edit("distalign/expression/counts.py", COUNTS_PY),
            Edit(
                "distalign/expression/__init__.py",
                "from distalign.expression.counts import Counts",
                "from distalign.expression.base import",
                "after",
            ),
            Edit("distalign/expression/__init__.py", "    Counts(),", "    OptionLikelihood(),", "after"),
            Edit(
                "distalign/names.py", '    "express_counts": "Counts",', '    "option_likelihood": "Opt-LL",', "after"
            ),
            *(
                Edit(f"inputs/{d}/express_counts/prompt_task{t}.txt", counts_template(repo, d, t), shown=False)
                for d in TEMPLATE_DIRS
                for t in (0, 1, 2)
            ),
        ),
    )


# ---- a backend -------------------------------------------------------------------------------------------
BACKEND = Recipe(
    "backend",
    (
        Edit("distalign/backends/toy.py", TOY_PY),
        Edit(
            "distalign/backends/__init__.py",
            '    "toy": ("distalign.backends.toy", "make_backend", ""),',
            '    "vllm": ("distalign.backends.vllm",',
            "after",
        ),
    ),
)

# ---- a metric --------------------------------------------------------------------------------------------
METRIC = Recipe(
    "metric",
    (
        Edit("distalign/metrics.py", HELLINGER_PY, "@dataclass(frozen=True)", "before"),
        Edit(
            "distalign/metrics.py",
            '    "hellinger": Metric("hellinger", "H", "Hellinger distance", hellinger, hellinger_batch),',
            "wasserstein_batch, ordinal=True),",
            "after",
        ),
        Edit("tests/test_metrics.py", HELLINGER_TEST, where="append"),
    ),
)


def recipes(repo: Path) -> dict[str, Recipe]:
    """The five recipes by name."""
    return {r.name: r for r in (DATASET, STEERING, method_recipe(repo), BACKEND, METRIC)}
