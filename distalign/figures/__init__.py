"""The paper's figures as pure functions, and their builders (docs/original.md §8).

    python -m distalign.figures --results_dir results --out results/figures

Three layers: :mod:`~distalign.figures.data` turns the evaluation CSVs and result files into tidy tables,
:mod:`~distalign.figures.plots` draws a table into a matplotlib Figure (no I/O, no randomness), and
:mod:`~distalign.figures.build` names each figure and wires the two (``FIGURES``). ``analysis/figures.ipynb``
calls :func:`build` once per figure. A missing input skips that figure with a note.
"""

from distalign.figures.build import FIGURES, build, build_all, ensure_evaluation, render, save
from distalign.figures.data import MissingInput

__all__ = ["FIGURES", "MissingInput", "build", "build_all", "ensure_evaluation", "render", "save"]
