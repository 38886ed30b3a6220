"""Structured (constrained) twins of the free-text methods: the same prompt, only the decoding is constrained.

A :class:`ConstrainedMethod` sends the prompt of its free-text twin (``prompt_of``: same templates, same example
answers, same golden prompts) with a :class:`~distalign.types.Constraint` the backend enforces while decoding: a
JSON schema or a regular expression the whole reply must match. The difference between a method and its twin
therefore measures format-following alone. The method lists the constraint forms it can use in order of
preference; the first one the backend declares (``Capabilities.constraints``) is sent, and a backend that enforces
none of them makes the pair "n/a". Each record stores the form used (``constraint``, written by
:func:`distalign.generate.records.record_of` from the request).

Constrained replies end where the format ends (the grammar completes), so they carry no stop sequences, and their
budget is at least what the format needs (``--max_tokens`` when that is more).
"""

from __future__ import annotations

import json
from abc import abstractmethod
from typing import Any

from distalign.expression.base import FreeTextMethod, MethodConfig, request_meta, seed_for, temperature_for
from distalign.types import Capabilities, Constraint, Message, Request, SurveyItem

FORM_NAMES = {"json_schema": "JSON schema", "regex": "regular expression"}


def schema_text(schema: dict[str, Any]) -> str:
    """A JSON schema as compact JSON text, keys in the order given (the same schema gives the same cache key).

    >>> schema_text({"type": "object", "required": ["A"]})
    '{"type":"object","required":["A"]}'
    """
    return json.dumps(schema, separators=(",", ":"))


class ConstrainedMethod(FreeTextMethod):
    """A free-text method whose reply is constrained while decoding.

    Attributes:
        forms: the constraint kinds this method can send, preferred first.
    """

    forms: tuple[str, ...] = ("json_schema",)

    @abstractmethod
    def constraint(self, item: SurveyItem, kind: str) -> Constraint:
        """The constraint of ``kind`` for ``item``'s letters."""

    @abstractmethod
    def budget(self, item: SurveyItem, kind: str) -> int:
        """Tokens the constrained reply needs at most (whitespace allowed by the format included)."""

    def form(self, caps: Capabilities | None) -> str:
        """The constraint kind sent to a backend with ``caps`` (the preferred one when unknown)."""
        usable = [kind for kind in self.forms if caps is None or kind in caps.constraints]
        return usable[0] if usable else ""

    def unsupported(self, caps: Capabilities) -> str | None:
        """Why a backend enforcing none of :attr:`forms` cannot run this method."""
        if self.form(caps):
            return None
        wanted = " or ".join(FORM_NAMES.get(k, k) for k in self.forms)
        return f"the backend enforces no {wanted} while decoding (structured outputs)"

    def requests(
        self,
        item: SurveyItem,
        messages: tuple[Message, ...],
        cfg: MethodConfig,
        *,
        caps: Capabilities | None = None,
        task: str = "",
    ) -> list[Request]:
        """One constrained request at the run's temperature, without stop sequences."""
        kind = self.form(caps)
        if not kind:
            raise ValueError(f"{self.output_type}: {self.unsupported(caps or Capabilities())}")
        return [
            Request(
                messages,
                max_tokens=max(cfg.max_tokens, self.budget(item, kind)),
                temperature=temperature_for(cfg, caps),
                seed=seed_for(cfg, caps),
                constraint=self.constraint(item, kind),
                meta=request_meta(item, self.output_type, task),
            )
        ]
