"""The expression-method interface: how a model is asked for a distribution and how its reply is read (SPEC §3).

An expression method (``--output_type``) knows three things: whether a backend can support it (checked
before a run; an unsupported pair becomes an "n/a: <reason>" row), which requests to send for one prompt,
and how to turn the completions into a :class:`~distalign.types.Parsed` distribution (pure parsers of
:mod:`distalign.parsers`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from distalign.types import Capabilities, Completion, Message, Parsed, Request, SurveyItem


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
    """

    output_type: str

    @abstractmethod
    def unsupported(self, caps: Capabilities) -> str | None:
        """Why a backend with ``caps`` cannot run this method (``None`` when it can)."""

    @abstractmethod
    def requests(self, item: SurveyItem, messages: tuple[Message, ...], cfg: MethodConfig) -> list[Request]:
        """The requests for one prompt (several for independent samples)."""

    @abstractmethod
    def parse(self, item: SurveyItem, completions: list[Completion]) -> Parsed:
        """The distribution over ``item.letters`` from the completions of :meth:`requests`, in order."""
