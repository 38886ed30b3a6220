"""Generation settings: the run configuration, the plug-in points and their validation (docs/original.md §1, §4).

:class:`RunConfig` holds the CLI flags of ``lm_steering.py``; :class:`Plugins` holds the functions generation
calls into (prompt builders, expression methods, backends), so tests can pass stand-ins.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from distalign import steering
from distalign.backends import BackendOptions, get_backend, model_capabilities
from distalign.backends.base import Backend
from distalign.datasets import SurveyDataset
from distalign.expression import METHODS, get_method
from distalign.expression.base import ExpressionMethod
from distalign.names import TASK_STEERING, task_dir
from distalign.types import Capabilities, Message, SurveyItem


@dataclass(frozen=True)
class RunConfig:
    """Everything a generation run needs (the CLI flags of ``lm_steering.py``).

    Attributes:
        datasets: dataset keys.
        tasks: steering task numbers (0 none, 1 persona, 2 context, 3 few-shot).
        models: model names (``provider/model`` or paper keys).
        output_types: expression methods (``model_logprobs``, ``sequence``, ...).
        task3_type: few-shot example selection (``easy_hard`` or ``easy``).
        groups: demographic groups (``None``: the paper's, ``ds.demographics()``).
        all_demographics: evaluate every demographic of the chosen groups, not only the paper's.
        results_dir: result root (``results``).
        data_dir: data root (the folder holding ``opinions_qa/`` ...).
        prompts_dir: prompt templates root.
        limit: only the first ``limit`` questions of each dataset.
        seed: seed of sampling, few-shot examples and fake answers.
        concurrency: requests in flight per model.
        max_retries: retries of a transient failure.
        timeout: seconds per HTTP attempt (see :func:`attempt_timeout`).
        cache_path: response cache (``None``: no cache).
        ficticious_group: replace group names by Foo/Bar/Baz (OQA ablation, docs/original.md §4.4).
        shuffled_labels: shuffle the option order of context lines (task2/3 ablation).
        n_samples: samples per prompt for ``independent_samples``.
        temperature: sampling temperature.
        max_tokens: generation budget of the free-text methods (sequence, express_distribution).
        batch_api: send pending requests through the provider's batch API first.
        backend_options: options passed to the backends.
        log_dir: request logs (``None``: ``<results_dir>/logs``).
        flush_every: rewrite a result file after this many new records.
        flush_seconds: ... or when its last write is this old.
        progress: show a progress bar.
        overwrite: replace stored records made with other settings (else the run refuses them).
    """

    datasets: tuple[str, ...]
    tasks: tuple[int, ...]
    models: tuple[str, ...]
    output_types: tuple[str, ...]
    task3_type: str = "easy_hard"
    groups: tuple[str, ...] | None = None
    all_demographics: bool = False
    results_dir: Path = Path("results")
    data_dir: Path = Path(".")
    prompts_dir: Path = Path("inputs")
    limit: int | None = None
    seed: int = 0
    concurrency: int = 8
    max_retries: int = 5
    timeout: float = 120.0
    cache_path: Path | None = Path("results/.cache/responses.sqlite")
    ficticious_group: bool = False
    shuffled_labels: bool = False
    n_samples: int = 30
    temperature: float | None = 1.0
    max_tokens: int = 256
    batch_api: bool = False
    backend_options: BackendOptions = field(default_factory=BackendOptions)
    log_dir: Path | None = None
    flush_every: int = 100
    flush_seconds: float = 5.0
    progress: bool = True
    overwrite: bool = False


@dataclass(frozen=True)
class Plugins:
    """The functions generation calls into; tests pass stand-ins, the CLI uses :func:`default_plugins`."""

    build_messages: Callable[[SurveyDataset, SurveyItem, str, Any], tuple[Message, ...]]
    persona_name: Callable[[SurveyItem, Any], str]
    steering_config: Callable[..., Any]
    get_method: Callable[[str], ExpressionMethod]
    get_backend: Callable[[str, BackendOptions], Backend] = get_backend
    capabilities: Callable[[str, BackendOptions], Capabilities] | None = None

    def caps(self, model: str, options: BackendOptions) -> Capabilities:
        """Capabilities of ``model`` without loading it (see :func:`distalign.backends.model_capabilities`)."""
        return (self.capabilities or model_capabilities)(model, options)


def default_plugins() -> Plugins:
    """The real prompt builders and expression methods."""
    return Plugins(steering.build_messages, steering.persona_name, steering.SteeringConfig, get_method)


def key_values(items: list[str]) -> tuple[tuple[str, str], ...]:
    """``KEY=VALUE`` strings (``--backend_arg``) as pairs.

    >>> key_values(["latency_ms=5", "url=http://x?a=b"])
    (('latency_ms', '5'), ('url', 'http://x?a=b'))
    """
    pairs = []
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--backend_arg expects KEY=VALUE, got {item!r}")
        pairs.append((key, value))
    return tuple(pairs)


def validate(cfg: RunConfig) -> None:
    """Reject bad settings before any work."""
    for ot in cfg.output_types:
        if ot not in METHODS:
            raise ValueError(f"unknown output type {ot!r}; valid: {', '.join(sorted(METHODS))}")
    for task in cfg.tasks:
        task_dir(task, cfg.task3_type)
        steering.get_steering(TASK_STEERING[task])
    if cfg.limit is not None and cfg.limit < 1:
        raise ValueError(f"--limit must be at least 1, got {cfg.limit}")
    if cfg.n_samples < 1 or cfg.concurrency < 1 or cfg.max_retries < 0:
        raise ValueError("--n_samples and --concurrency must be >= 1, --max_retries >= 0")
