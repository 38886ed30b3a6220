"""House style of the figures: colour-blind-safe colours, display names and the one tolerant name parser.

Colours come from the Okabe–Ito palette and mean the same thing in every figure: one colour per expression
method, one per steering method, black for humans and the ground truth. Models are ordered and labelled here;
an unknown model keeps its folder name, so new models appear without code changes.
"""

from __future__ import annotations

import re
from typing import Any

import matplotlib as mpl

from distalign.names import METHOD_LABELS, OUTPUT_TYPES, model_label

# Okabe & Ito (2008), "Color Universal Design".
OKABE_ITO = {"black": "#000000", "orange": "#E69F00", "sky": "#56B4E9", "green": "#009E73", "yellow": "#F0E442",
             "blue": "#0072B2", "vermillion": "#D55E00", "purple": "#CC79A7", "grey": "#999999"}
METHOD_ORDER = ("V", "Seq", "Log-p", "TS-Log-p", "TS-Log-p CV", "Samples", "Opt-LL")
METHOD_COLORS = {"V": OKABE_ITO["blue"], "Seq": OKABE_ITO["orange"], "Log-p": OKABE_ITO["vermillion"],
                 "TS-Log-p": OKABE_ITO["green"], "TS-Log-p CV": OKABE_ITO["sky"], "Samples": OKABE_ITO["purple"],
                 "Opt-LL": OKABE_ITO["yellow"]}
METHOD_MARKERS = {"V": "o", "Seq": "s", "Log-p": "D", "TS-Log-p": "^", "TS-Log-p CV": "<", "Samples": "v",
                  "Opt-LL": "P"}
METHOD_NAMES = {"V": "verbalize (V)", "Seq": "sequence (Seq)", "Log-p": "log-probs (Log-p)",
                "TS-Log-p": "temperature-scaled log-probs, fit on the test data (TS-Log-p)",
                "TS-Log-p CV": "temperature-scaled log-probs, cross-fitted (TS-Log-p CV)",
                "Samples": "independent samples", "Opt-LL": "option likelihood"}
STEERING_ORDER = ("none", "persona", "fewshot")
STEERING_NAMES = {"none": "no steering", "persona": "persona", "fewshot": "few-shot"}
STEERING_COLORS = {"none": "#BBBBBB", "persona": OKABE_ITO["purple"], "fewshot": OKABE_ITO["sky"]}
HUMAN_COLOR = OKABE_ITO["black"]
PARTY_COLORS = {"Democrat": OKABE_ITO["blue"], "Republican": OKABE_ITO["vermillion"]}
DATASET_ORDER = ("opinionqa", "nytimes", "globalvalues")
DATASET_NAMES = {"opinionqa": "OpinionQA", "nytimes": "NYT Books", "globalvalues": "GlobalOpinionQA",
                 "both": "OQA + NYT", "three": "all three"}
MODEL_ORDER = ("gpt-3.5-turbo-0125", "gpt-4", "anthropic_haiku", "anthropic_opus", "llama3-70b")
MODEL_NAMES = {"gpt-3.5-turbo-0125": "GPT-3.5 Turbo", "gpt-4": "GPT-4", "anthropic_haiku": "Claude 3 Haiku",
               "anthropic_opus": "Claude 3 Opus", "llama3-70b": "Llama 3 70B", "human": "Humans",
               "local__smollm2-135m-instruct": "SmolLM2-135M\n(built-in)"}
TV_LABEL = "TV ↓ (lower is better)"
_EXTRA_COLORS = (OKABE_ITO["yellow"], OKABE_ITO["grey"], OKABE_ITO["black"])

RC: Any = {  # typed Any: matplotlib stubs type rc keys as a Literal union
      "figure.dpi": 100, "savefig.dpi": 200, "font.size": 10, "axes.titlesize": 11, "axes.labelsize": 10,
      "legend.fontsize": 9, "legend.frameon": False, "axes.spines.top": False, "axes.spines.right": False,
      "axes.grid": True, "axes.grid.axis": "y", "grid.color": "#E5E5E5", "grid.linewidth": 0.8,
      "axes.axisbelow": True, "font.family": "DejaVu Sans", "pdf.fonttype": 42}


def style() -> Any:
    """Apply the house rcParams inside a ``with`` block (a matplotlib rc context)."""
    return mpl.rc_context(RC)


def method_color(method: str) -> str:
    """The colour of an expression method (unknown methods get the spare colours, stably)."""
    if method in METHOD_COLORS:
        return METHOD_COLORS[method]
    return _EXTRA_COLORS[sum(map(ord, method)) % len(_EXTRA_COLORS)]


def method_marker(method: str) -> str:
    """The marker of an expression method in dot plots (shape as well as colour tells methods apart)."""
    return METHOD_MARKERS.get(method, "X")


def method_sort_key(method: str) -> tuple[int, str]:
    """Paper order first (V, Seq, Log-p, TS-Log-p), then any other method alphabetically."""
    return (METHOD_ORDER.index(method) if method in METHOD_ORDER else len(METHOD_ORDER), method)


def model_sort_key(model: str) -> tuple[int, str]:
    """Humans, then the paper's models in paper order, then new models alphabetically."""
    if model == "human":
        return (-1, model)
    return (MODEL_ORDER.index(model) if model in MODEL_ORDER else len(MODEL_ORDER), model)


def model_name(model: str) -> str:
    """Display name of a model folder (``gpt-4`` -> ``GPT-4``; new models: ``provider/model``)."""
    if model in MODEL_NAMES:
        return MODEL_NAMES[model]
    label = model_label(model)
    return label.replace("/", "/\n", 1) if len(label) > 18 else label  # long names wrap under their bar


_METHOD_ALIASES = {**METHOD_LABELS, **{v: METHOD_LABELS[k] for k, v in OUTPUT_TYPES.items()},
                   **{m.lower(): m for m in METHOD_ORDER}, "verbalize": "V", "verbalized": "V", "seq": "Seq",
                   "logprobs": "Log-p", "log-p": "Log-p", "ts-log-p": "TS-Log-p", "ts": "TS-Log-p"}


def method_label(name: str) -> str:
    """Short label of an expression method given by any of its names (unknown names are kept).

    >>> method_label("express_distribution"), method_label("logprobs_ts"), method_label("V"), method_label("new")
    ('V', 'TS-Log-p', 'V', 'new')
    """
    return _METHOD_ALIASES.get(name, _METHOD_ALIASES.get(name.lower(), name))


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


def steering_name(task: str) -> str:
    """Steering method of a task folder or steering label (``task3_easy_hard`` -> ``fewshot``).

    >>> steering_name("task0"), steering_name("task3_easy_hard"), steering_name("few-shot"), steering_name("x")
    ('none', 'fewshot', 'fewshot', 'x')
    """
    key = str(task).strip().lower().replace("-", "").replace("_", "").replace(" ", "")
    aliases = {"task0": "none", "nosteer": "none", "nosteering": "none", "none": "none", "task1": "persona",
               "persona": "persona", "fewshot": "fewshot"}
    if key.startswith("task3"):
        return "fewshot"
    return aliases.get(key, str(task))


def dataset_key(name: str) -> str:
    """Dataset key of any dataset spelling (``OQA``, ``OpinionQA``, ``nyt``, ``GV`` ...); unknown names kept.

    >>> dataset_key("OQA"), dataset_key("NYT Books"), dataset_key("global_values"), dataset_key("three")
    ('opinionqa', 'nytimes', 'globalvalues', 'three')
    """
    key = str(name).strip().lower().replace("_", "").replace(" ", "")
    aliases = {"oqa": "opinionqa", "opinionqa": "opinionqa", "nyt": "nytimes", "nytimes": "nytimes",
               "nytbooks": "nytimes", "gv": "globalvalues", "globalvalues": "globalvalues",
               "globalopinionqa": "globalvalues"}
    return aliases.get(key, str(name).strip())
