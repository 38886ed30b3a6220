"""The expression-method interface: how a model is asked for a distribution and how its reply is read.

An expression method (``--output_type``, docs/original.md §3) knows four things: whether a backend can support
it (checked before a run; an unsupported pair becomes an "n/a: <reason>" row), how its prompts word the answer
(the answer field of the examples' format, the task sentence, an example answer drawn from a true distribution,
the template folder), which requests to send for one prompt, and how to turn the completions into a
:class:`~distalign.types.Parsed` distribution (pure parsers of :mod:`distalign.parsers`).

Capability rules shared by all methods (:func:`temperature_for`, :func:`seed_for`): a backend that rejects a
``temperature`` parameter is not unsupported; its requests send ``temperature=None`` (the backend default)
instead. A backend without sampling seeds gets ``seed=None``. Every request carries :func:`request_meta`.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from distalign.prompts import STOP_SEQUENCES, NotPromptable
from distalign.types import Audience, Capabilities, Completion, Message, Parsed, Request, SurveyItem


@dataclass(frozen=True)
class MethodConfig:
    """Sampling settings shared by all methods of a run.

    Attributes:
        temperature: sampling temperature (the paper: 1.0); ``None`` leaves it to the backend.
        seed: base sampling seed passed to backends that accept one.
        n_samples: independent samples per prompt for ``independent_samples``.
        max_tokens: generation budget for free-text methods.
        top_logprobs: alternatives requested for ``model_logprobs`` (capped by the backend's maximum).
    """

    temperature: float | None = 1.0
    seed: int | None = 0
    n_samples: int = 30
    max_tokens: int = 256
    top_logprobs: int = 20


class ExpressionMethod(ABC):
    """One way of expressing a distribution.

    Attributes:
        output_type: the CLI/file name (``model_logprobs``, ``sequence``, ``express_distribution``, ...).
        answer_field: what an answer is, in a few words (the examples' format description).
        prompt_of: the output type whose prompts this method shares ("": its own): same templates, same
            example answers, so two methods that differ only in how the reply is read see the same prompt.
        templated: its prompts show the five format examples of a template file.
        output_tokens: expected generated tokens per request (cost estimates of ``--dry_run``).
    """

    output_type: str
    answer_field: str = ""
    prompt_of: str = ""
    templated: bool = True
    output_tokens: int = 16

    @property
    def prompt_key(self) -> str:
        """The output type whose prompt this method sees (seeds its example answers)."""
        return self.prompt_of or self.output_type

    @property
    def template_dir(self) -> str | None:
        """Template folder under ``<prompts_dir>/<dataset dir>/`` (``None``: no template)."""
        return self.prompt_key if self.templated else None

    @abstractmethod
    def task_sentence(self, audience: Audience | None, target: str) -> str:
        """What to reply to ``target`` (the question), in this method's format, for ``audience`` (or anyone)."""

    @abstractmethod
    def example_answer(self, item: SurveyItem, rng: np.random.Generator) -> str:
        """An answer to ``item`` in this format, drawn from its true distribution (few-shot examples)."""

    def expected_output_tokens(self, n_options: int) -> int:
        """Expected generated tokens of one request for a question with ``n_options`` options."""
        return self.output_tokens

    def record_extra(self, item: SurveyItem, completions: list[Completion]) -> dict[str, Any]:
        """Method-specific fields of a result record beyond the parsed distribution (none by default)."""
        return {}

    @abstractmethod
    def unsupported(self, caps: Capabilities) -> str | None:
        """Why a backend with ``caps`` cannot run this method (``None`` when it can)."""

    @abstractmethod
    def requests(
        self,
        item: SurveyItem,
        messages: tuple[Message, ...],
        cfg: MethodConfig,
        *,
        caps: Capabilities | None = None,
        task: str = "",
    ) -> list[Request]:
        """The requests for one prompt (several for independent samples).

        Args:
            item: the cell asked about (its letters, options, truth for ``meta``).
            messages: the prompt (:func:`distalign.steering.build_messages`).
            cfg: the run's sampling settings.
            caps: the backend's capabilities; ``None`` sends ``cfg`` as it is.
            task: the task folder, recorded in ``meta`` when given.
        """

    @abstractmethod
    def parse(self, item: SurveyItem, completions: list[Completion]) -> Parsed:
        """The distribution over ``item.letters`` from the completions of :meth:`requests`, in order."""


class FreeTextMethod(ExpressionMethod):
    """A method that asks for one free-text reply and reads it with a pure parser (Seq, V).

    Subclasses set ``output_type`` and ``parser`` (``(text, letters) -> Parsed``).
    """

    parser: Callable[[str, tuple[str, ...]], Parsed]

    def unsupported(self, caps: Capabilities) -> str | None:
        """Any text-generating backend will do."""
        return None

    def requests(
        self,
        item: SurveyItem,
        messages: tuple[Message, ...],
        cfg: MethodConfig,
        *,
        caps: Capabilities | None = None,
        task: str = "",
    ) -> list[Request]:
        """One free-text request at the run's temperature and token budget."""
        return [
            Request(
                messages,
                max_tokens=cfg.max_tokens,
                temperature=temperature_for(cfg, caps),
                stop=STOP_SEQUENCES,
                seed=seed_for(cfg, caps),
                meta=request_meta(item, self.output_type, task),
            )
        ]

    def parse(self, item: SurveyItem, completions: list[Completion]) -> Parsed:
        """The parser's reading of the one reply (a wrong completion count is a failure)."""
        if problem := count_problem(completions):
            return Parsed(None, False, problem)
        return type(self).parser(completions[0].text, item.letters)


def people(audience: Audience | None) -> str:
    """Who answers, in the plural (``people`` without steering)."""
    return audience.members if audience else "people"


def random_person(audience: Audience | None) -> str:
    """One randomly chosen respondent (``a randomly chosen member of the group "X"``)."""
    return f"a randomly chosen {audience.one if audience else 'person'}"


def one_answer_sentence(audience: Audience | None, target: str) -> str:
    """The task sentence of the single-answer methods (one letter, as one respondent)."""
    return (
        f"Answer {target} as {random_person(audience)} would: reply with the letter of that person's answer, "
        "and nothing else."
    )


def one_draw(item: SurveyItem, rng: np.random.Generator) -> int:
    """The index of one option drawn from the item's true distribution."""
    p = truth_probs(item)
    return int(rng.choice(len(p), p=p))


def truth_probs(item: SurveyItem) -> np.ndarray:
    """The item's true distribution, normalised (example answers are drawn from it)."""
    if item.truth is None or item.truth.total <= 0:
        raise NotPromptable(f"{item.qid!r}: no distribution to draw an example answer from")
    return np.asarray(item.truth.probs, dtype=float) / item.truth.total


def temperature_for(cfg: MethodConfig, caps: Capabilities | None) -> float | None:
    """The temperature to send: ``None`` when the backend rejects the parameter.

    >>> temperature_for(MethodConfig(temperature=1.0), Capabilities(temperature=False)) is None
    True
    """
    return None if caps is not None and not caps.temperature else cfg.temperature


def seed_for(cfg: MethodConfig, caps: Capabilities | None, offset: int = 0) -> int | None:
    """The sampling seed to send (``cfg.seed + offset``): ``None`` when unset or not accepted.

    >>> seed_for(MethodConfig(seed=7), None, 2), seed_for(MethodConfig(seed=7), Capabilities(seed=False))
    (9, None)
    """
    if cfg.seed is None or (caps is not None and not caps.seed):
        return None
    return cfg.seed + offset


def request_meta(item: SurveyItem, output_type: str, task: str = "") -> tuple[tuple[str, str], ...]:
    """Bookkeeping of a request (never sent): the cell, and the truth as a JSON list when there is one.

    >>> dict(request_meta(SurveyItem("nytimes", "B", "B", ("x",), "SEX", "Male", "Male"), "sequence"))["qid"]
    'B'
    """
    meta = [
        ("dataset", item.dataset),
        ("qid", item.qid),
        ("group", item.group),
        ("demographic", item.demographic),
        ("output_type", output_type),
    ]
    if task:
        meta.append(("task", task))
    if item.truth is not None:
        meta.append(("truth", json.dumps(list(item.truth.probs))))
    return tuple(meta)


def count_problem(completions: list[Completion], n: int = 1) -> str:
    """Why ``completions`` is not ``n`` completions long ("" when it is)."""
    return "" if len(completions) == n else f"expected {n} completion{'s' * (n != 1)}, got {len(completions)}"
