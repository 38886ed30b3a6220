"""The original release's names at the CLI and file boundary, translated in this one place (SPEC §1, §4, §5).

The original scripts speak of ``task0/1/2/3``, ``model_logprobs``, ``express_distribution`` and the model
keys ``gpt-4``, ``anthropic_opus``...; inside the package we speak of steering methods and expression
methods. Every translation between the two vocabularies lives here.

>>> task_dir(3, "easy_hard")
'task3_easy_hard'
>>> steering_of("task3_easy_hard")
'fewshot'
>>> resolve_model("gpt-4")
'openai/gpt-4-0613'
"""

from __future__ import annotations

# --- datasets -------------------------------------------------------------------------------------
DATASETS = ("opinionqa", "nytimes", "globalvalues")
OQA_WAVE = "Pew_American_Trends_Panel_disagreement_100"  # OQA result sub-folder ("wave") of SPEC §5
OQA_POOL = "Pew_American_Trends_Panel_disagreement_500"  # few-shot example pool (SPEC §2.1)
GV_WAVE = "globalvalues"
# Template folder of a dataset when it differs from its key (the original's name for OpinionQA).
PROMPT_DIRS = {"opinionqa": "opinion_surveys", "nytimes": "nytimes", "globalvalues": "globalvalues"}
DATASET_LABELS = {"opinionqa": "OpinionQA", "nytimes": "NYT Books", "globalvalues": "GlobalOpinionQA"}

# --- steering (``--task``) ---------------------------------------------------------------------------
TASK_STEERING = {0: "none", 1: "persona", 2: "context", 3: "fewshot"}
STEERING_LABELS = {"none": "no steering", "persona": "persona", "context": "context given", "fewshot": "few-shot"}
TASK3_TYPES = ("easy_hard", "easy")
HEADLINE_TASKS = ("task1", "task3_easy_hard")  # pooled in the headline leaderboard (SPEC §7.5)
# Every task folder the pipeline writes; others (the release's exploratory ``task3_easy_hard_v1``) are ignored.
TASK_DIRS = ("task0", "task1", "task2", "task3_easy_hard", "task3_easy")


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


# --- expression methods (``--output_type``) ---------------------------------------------------------------
OUTPUT_TYPES = {
    "model_logprobs": "logprobs",
    "sequence": "sequence",
    "express_distribution": "verbalize",
    "independent_samples": "samples",
    "option_likelihood": "option_likelihood",
    "rescaled_model_logprobs": "logprobs_ts",
    "rescaled_model_logprobs_cv": "logprobs_ts_cv",
}
METHOD_LABELS = {
    "express_distribution": "V",
    "sequence": "Seq",
    "model_logprobs": "Log-p",
    "rescaled_model_logprobs": "TS-Log-p",
    "rescaled_model_logprobs_cv": "TS-Log-p CV",
    "independent_samples": "Samples",
    "option_likelihood": "Opt-LL",
}
PAPER_OUTPUT_TYPES = ("express_distribution", "sequence", "model_logprobs", "rescaled_model_logprobs")
GENERATED_OUTPUT_TYPES = ("model_logprobs", "sequence", "express_distribution", "independent_samples",
                          "option_likelihood")

# --- models -------------------------------------------------------------------------------------------
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


def resolve_model(name: str) -> str:
    """``provider/model`` name of a model given by either name (paper keys are aliases)."""
    return MODEL_ALIASES.get(name, name)


def model_dir(name: str) -> str:
    """Result folder name of a model: the paper key when it has one, else ``provider/model`` with ``/`` -> ``__``.

    >>> model_dir("openai/gpt-4-0613"), model_dir("local/smollm2-135m-instruct")
    ('gpt-4', 'local__smollm2-135m-instruct')
    """
    full = resolve_model(name)
    for key, target in MODEL_ALIASES.items():
        if target == full:
            return key
    return full.replace("/", "__")


def model_label(folder: str) -> str:
    """Display name of a result folder's model (inverse of :func:`model_dir` for new models)."""
    return folder if folder in MODEL_ALIASES else folder.replace("__", "/")
