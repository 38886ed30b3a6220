"""Names, labels and orders: the original release's names at the CLI and file boundary, and how we show them.

The original scripts speak of ``task0/1/2/3``, ``model_logprobs``, ``express_distribution``, the template folder
``opinion_surveys`` and the model keys ``gpt-4``, ``anthropic_opus`` ... (docs/original.md §1, §4, §5); inside the
package we speak of steering methods and expression methods. Every translation between the two vocabularies,
and every display label and display order, lives here; the registries (:data:`distalign.datasets.DATASETS`,
:data:`distalign.expression.METHODS`, :data:`distalign.steering.STEERING`, :data:`distalign.backends.BACKENDS`)
say what exists. A name without a label here is shown as it is.

>>> task_dir(3, "easy_hard")
'task3_easy_hard'
>>> steering_of("task3_easy_hard")
'fewshot'
>>> resolve_model("gpt-4")
'openai/gpt-4-0613'
"""

from __future__ import annotations

import re

# --- datasets ---------------------------------------------------------------------------------------------------
OQA_WAVE = "Pew_American_Trends_Panel_disagreement_100"  # OQA result sub-folder ("wave", docs/original.md §5)
OQA_POOL = "Pew_American_Trends_Panel_disagreement_500"  # few-shot example pool (docs/original.md §2.1)
GV_WAVE = "globalvalues"
# Template folder of a dataset when it differs from its key (the original's name for OpinionQA).
PROMPT_DIRS = {"opinionqa": "opinion_surveys"}
# Display names; "three" (every dataset, equally weighted) and "both" (OQA + NYT) are the original's pooled rows.
DATASET_LABELS = {
    "opinionqa": "OpinionQA",
    "nytimes": "NYT Books",
    "globalvalues": "GlobalOpinionQA",
    "both": "OQA + NYT",
    "three": "all three",
}
ALL_DATASETS = "three"  # the headline's Dataset value: every dataset, weighted equally (docs/original.md §7.5)
_DATASET_ALIASES = {
    "oqa": "opinionqa",
    "nyt": "nytimes",
    "nytbooks": "nytimes",
    "gv": "globalvalues",
    "globalopinionqa": "globalvalues",
    "all": ALL_DATASETS,
    "allthree": ALL_DATASETS,
}

# --- steering (``--task``) ----------------------------------------------------------------------------------------
TASK_STEERING = {0: "none", 1: "persona", 2: "context", 3: "fewshot"}  # --task number -> steering method
STEERING_LABELS = {
    "none": "no steering",
    "persona": "persona",
    "context": "context given",
    "fewshot": "few-shot",
}
TASK3_TYPES = ("easy_hard", "easy")
HEADLINE_TASKS = ("task1", "task3_easy_hard")  # pooled in the headline leaderboard (docs/original.md §7.5)
_STEERING_ALIASES = {"nosteer": "none", "nosteering": "none", "context": "context", "contextgiven": "context"}

# --- expression methods (``--output_type``) -----------------------------------------------------------------------
# Short labels in display order (derived outputs included); a method without one is shown by its output type.
METHOD_LABELS = {
    "express_distribution": "V",
    "sequence": "Seq",
    "express_distribution_structured": "V-S",
    "sequence_structured": "Seq-S",
    "model_logprobs": "Log-p",
    "rescaled_model_logprobs": "TS-Log-p",
    "rescaled_model_logprobs_cv": "TS-Log-p CV",
    "independent_samples": "Samples",
    "option_likelihood": "Opt-LL",
}
METHOD_DESCRIPTIONS = {
    "V": "verbalize (V)",
    "Seq": "sequence (Seq)",
    "V-S": "verbalize, structured decoding (V-S)",
    "Seq-S": "sequence, structured decoding (Seq-S)",
    "Log-p": "log-probs (Log-p)",
    "TS-Log-p": "temperature-scaled log-probs, fit on the test data (TS-Log-p)",
    "TS-Log-p CV": "temperature-scaled log-probs, cross-fitted (TS-Log-p CV)",
    "Samples": "independent samples",
    "Opt-LL": "option likelihood",
}
PAPER_OUTPUT_TYPES = ("express_distribution", "sequence", "model_logprobs", "rescaled_model_logprobs")
PAPER_GENERATED = ("express_distribution", "sequence", "model_logprobs")  # the paper's generated methods
# Knowledge-to-simulation gaps (docs/original.md §7.5): k2s_gap.csv's Task Type -> (describing, simulating) methods,
# and the leaderboard's column label. The structured pair's row appears only where its results exist.
K2S_PAIRS = {
    "knowledge_to_sim_gap": ("express_distribution", "sequence"),
    "knowledge_to_sim_gap_structured": ("express_distribution_structured", "sequence_structured"),
}
K2S_LABELS = {"knowledge_to_sim_gap": "K2S", "knowledge_to_sim_gap_structured": "K2S-S"}
# Outputs derived from model_logprobs by temperature scaling (not generated; docs/original.md §3.5, §6).
RESCALED = {"paper": "rescaled_model_logprobs", "fixed": "rescaled_model_logprobs_cv"}
_METHOD_ALIASES = {
    "logprobs": "Log-p",
    "verbalize": "V",
    "verbalized": "V",
    "verbalize_structured": "V-S",
    "samples": "Samples",
    "logprobs_ts": "TS-Log-p",
    "logprobs_ts_cv": "TS-Log-p CV",
    "ts": "TS-Log-p",
}

# --- models -------------------------------------------------------------------------------------------------------
# The paper's model keys (result folder names) -> provider/model names of the backends.
MODEL_ALIASES = {
    "gpt-3.5-turbo-0125": "openai/gpt-3.5-turbo-0125",
    "gpt-4": "openai/gpt-4-0613",
    "anthropic_haiku": "anthropic/claude-3-haiku-20240307",
    "anthropic_opus": "anthropic/claude-3-opus-20240229",
    "llama3-70b": "hf/meta-llama/Meta-Llama-3-70B-Instruct",
}
PAPER_MODELS = tuple(MODEL_ALIASES)
BUILTIN_MODEL = "local/smollm2-135m-instruct"
MODEL_LABELS = {
    "gpt-3.5-turbo-0125": "GPT-3.5 Turbo",
    "gpt-4": "GPT-4",
    "anthropic_haiku": "Claude 3 Haiku",
    "anthropic_opus": "Claude 3 Opus",
    "llama3-70b": "Llama 3 70B",
    "human": "Humans",
    "local__smollm2-135m-instruct": "SmolLM2-135M\n(built-in)",
}


def _squash(name: str) -> str:
    return re.sub(r"[\s_\-]", "", str(name).strip().lower())


def task_dirs() -> tuple[str, ...]:
    """Every task folder the pipeline writes, from :data:`TASK_STEERING` (few-shot: one per selection rule)."""
    return tuple(task_dir(n, rule) for n in TASK_STEERING for rule in (TASK3_TYPES if n == 3 else ("",)))


def task_dir(task: int, task3_type: str = "easy_hard") -> str:
    """Result folder name of a task number (``task3`` carries its example-selection rule)."""
    if task not in TASK_STEERING:
        raise ValueError(f"unknown task {task!r}; valid: {sorted(TASK_STEERING)}")
    if task == 3:
        if task3_type not in TASK3_TYPES:
            raise ValueError(f"unknown task3_type {task3_type!r}; valid: {list(TASK3_TYPES)}")
        return f"task3_{task3_type}"
    return f"task{task}"


def steering_of(task_folder: str) -> str:
    """Internal steering name of a result folder name (``task1`` -> ``persona``)."""
    head = task_folder.split("_", 1)[0]
    if not head.startswith("task") or not head[4:].isdigit() or int(head[4:]) not in TASK_STEERING:
        raise ValueError(f"not a task folder: {task_folder!r}")
    return TASK_STEERING[int(head[4:])]


def steering_key(name: str) -> str:
    """Steering method of a task folder, steering name or label in any spelling; unknown names are kept.

    >>> steering_key("task0"), steering_key("task3_easy_hard"), steering_key("Few-shot"), steering_key("x")
    ('none', 'fewshot', 'fewshot', 'x')
    >>> steering_key("task1_task3")  # the pooled headline is not one steering method
    'task1_task3'
    """
    text = str(name).strip()
    if re.fullmatch(r"task\d+(_[a-z_]+\d*)?", text) and "_task" not in text:
        try:
            return steering_of(text)
        except ValueError:
            return text
    key = _squash(text)
    for steering, label in STEERING_LABELS.items():
        if key in (_squash(steering), _squash(label)):
            return steering
    return _STEERING_ALIASES.get(key, text)


def method_label(name: str) -> str:
    """Short label of an expression method given by any of its names (unknown names are kept).

    >>> method_label("express_distribution"), method_label("logprobs_ts"), method_label("V"), method_label("new")
    ('V', 'TS-Log-p', 'V', 'new')
    """
    if name in METHOD_LABELS:
        return METHOD_LABELS[name]
    key = _squash(name)
    for label in METHOD_LABELS.values():
        if key == _squash(label):
            return label
    return _METHOD_ALIASES.get(str(name).strip().lower(), name)


def dataset_key(name: str) -> str:
    """Dataset key of any dataset spelling (``OQA``, ``OpinionQA``, ``nyt``, ``GV`` ...); unknown names are kept.

    >>> dataset_key("OQA"), dataset_key("NYT Books"), dataset_key("global_values"), dataset_key("three")
    ('opinionqa', 'nytimes', 'globalvalues', 'three')
    """
    key = _squash(name)
    for dataset, label in DATASET_LABELS.items():
        if key in (_squash(dataset), _squash(label)):
            return dataset
    return _DATASET_ALIASES.get(key, str(name).strip())


def dataset_label(name: str) -> str:
    """Display name of a dataset key (``opinionqa`` -> ``OpinionQA``); unknown keys are shown as they are."""
    return DATASET_LABELS.get(name, name)


def resolve_model(name: str) -> str:
    """``provider/model`` name of a model given by either name (paper keys are aliases)."""
    return MODEL_ALIASES.get(name, name)


def model_dir(name: str) -> str:
    """Result folder name of a model generated by this package: ``provider/model`` with ``/`` -> ``__``.

    Paper keys resolve to their snapshot first. The paper's folders (``gpt-4``, ``anthropic_opus`` ...) hold the
    released generations, which only the evaluation reads: a new run of the same snapshot writes beside them,
    never into them (nor does it take their answers for its own).

    >>> model_dir("openai/gpt-4-0613"), model_dir("gpt-4"), model_dir("local/smollm2-135m-instruct")
    ('openai__gpt-4-0613', 'openai__gpt-4-0613', 'local__smollm2-135m-instruct')
    """
    return resolve_model(name).replace("/", "__")


def model_label(folder: str) -> str:
    """``provider/model`` name of a result folder's model (inverse of :func:`model_dir` for new models)."""
    return folder if folder in MODEL_ALIASES else folder.replace("__", "/")
