"""House style of the figures: colour-blind-safe colours, markers, and how labelled names are drawn.

Colours come from the Okabe–Ito palette and mean the same thing in every figure: one colour per expression
method, one per steering method, black for humans and the ground truth. Names, labels and orders come from
:mod:`distalign.names` (and the registries); an unknown model, method or steering keeps its own name and gets a
spare colour, so new ones appear without code changes.
"""

from __future__ import annotations

import re
from typing import Any

import matplotlib as mpl

from distalign.names import METHOD_DESCRIPTIONS, METHOD_LABELS, MODEL_LABELS, PAPER_MODELS, method_label, model_label

# Okabe & Ito (2008), "Color Universal Design".
OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky": "#56B4E9",
    "green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "purple": "#CC79A7",
    "grey": "#999999",
}
METHOD_COLORS = {
    "V": OKABE_ITO["blue"],
    "Seq": OKABE_ITO["orange"],
    "V-S": "#80B9D8",  # the structured twins: V's and Seq's colours, half-way to white
    "Seq-S": "#F3CF80",
    "Log-p": OKABE_ITO["vermillion"],
    "TS-Log-p": OKABE_ITO["green"],
    "TS-Log-p CV": OKABE_ITO["sky"],
    "Samples": OKABE_ITO["purple"],
    "Opt-LL": OKABE_ITO["yellow"],
}
METHOD_MARKERS = {
    "V": "o",
    "Seq": "s",
    "V-S": "h",
    "Seq-S": "p",
    "Log-p": "D",
    "TS-Log-p": "^",
    "TS-Log-p CV": "<",
    "Samples": "v",
    "Opt-LL": "P",
}
STEERING_COLORS = {
    "none": "#BBBBBB",
    "persona": OKABE_ITO["purple"],
    "context": OKABE_ITO["green"],
    "fewshot": OKABE_ITO["sky"],
}
HUMAN_COLOR = OKABE_ITO["black"]
PARTY_COLORS = {"Democrat": OKABE_ITO["blue"], "Republican": OKABE_ITO["vermillion"]}
TV_LABEL = "TV ↓ (lower is better)"
_EXTRA_COLORS = (OKABE_ITO["yellow"], OKABE_ITO["grey"], OKABE_ITO["black"])

RC: Any = {  # typed Any: matplotlib stubs type rc keys as a Literal union
    "figure.dpi": 100,
    "savefig.dpi": 200,
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "legend.fontsize": 9,
    "legend.frameon": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "axes.grid.axis": "y",
    "grid.color": "#E5E5E5",
    "grid.linewidth": 0.8,
    "axes.axisbelow": True,
    "font.family": "DejaVu Sans",
    "pdf.fonttype": 42,
}


def style() -> Any:
    """Apply the house rcParams inside a ``with`` block (a matplotlib rc context)."""
    return mpl.rc_context(RC)


def method_color(method: str) -> str:
    """The colour of an expression method (unknown methods get the spare colours, stably)."""
    if method in METHOD_COLORS:
        return METHOD_COLORS[method]
    return _EXTRA_COLORS[sum(map(ord, method)) % len(_EXTRA_COLORS)]


def steering_color(steering: str) -> str:
    """The colour of a steering method (unknown ones get the spare colours, stably)."""
    if steering in STEERING_COLORS:
        return STEERING_COLORS[steering]
    return _EXTRA_COLORS[sum(map(ord, steering)) % len(_EXTRA_COLORS)]


def method_marker(method: str) -> str:
    """The marker of an expression method in dot plots (shape as well as colour tells methods apart)."""
    return METHOD_MARKERS.get(method, "X")


def method_name(method: str) -> str:
    """The long name of a method label in legends (``V`` -> ``verbalize (V)``)."""
    return METHOD_DESCRIPTIONS.get(method, method)


def method_sort_key(method: str) -> tuple[int, str]:
    """Label order of :data:`distalign.names.METHOD_LABELS` first (V, Seq, Log-p, ...), then alphabetically."""
    order = list(METHOD_LABELS.values())
    return (order.index(method) if method in order else len(order), method)


def model_sort_key(model: str) -> tuple[int, str]:
    """Humans, then the paper's models in paper order, then new models alphabetically."""
    if model == "human":
        return (-1, model)
    return (PAPER_MODELS.index(model) if model in PAPER_MODELS else len(PAPER_MODELS), model)


def model_name(model: str) -> str:
    """Display name of a model folder (``gpt-4`` -> ``GPT-4``; new models: ``provider/model``)."""
    if model in MODEL_LABELS:
        return MODEL_LABELS[model]
    label = model_label(model)
    return label.replace("/", "/\n", 1) if len(label) > 18 else label  # long names wrap under their bar


_NAME_RE = re.compile(r"^\s*(?P<model>.+?)\s*[(\[](?P<method>[^()\[\]]+)[)\]]\s*$")


def split_model_method(name: str) -> tuple[str, str]:
    """(model, method label) of a leaderboard ``Model Name``; the one place that parses these names.

    Accepts ``"<model> (<method>)"`` with any method name, ``"<model> [<method>]"``, ``"<model>|<method>"``,
    and a bare model (method ``""``: humans, simulated rows).

    >>> split_model_method("gpt-4 (V)"), split_model_method("openai/gpt-4o (express_distribution)")
    (('gpt-4', 'V'), ('openai/gpt-4o', 'V'))
    >>> split_model_method("llama3-70b|rescaled_model_logprobs"), split_model_method("human")
    (('llama3-70b', 'TS-Log-p'), ('human', ''))
    """
    match = _NAME_RE.match(name)
    if match:
        return match["model"], method_label(match["method"].strip())
    if "|" in name:
        model, method = name.split("|", 1)
        return model.strip(), method_label(method.strip())
    return name.strip(), ""
