"""One generation request inside a decoding loop of the transformers backend: its tokens, its draw, its end.

:class:`Row` holds what one request has generated so far, its seeded CPU generator (seed + sample index, so the
draw does not depend on the other rows), its grammar matcher when the request carries a
:class:`~distalign.types.Constraint`, and why it ended: the end-of-sequence token, a stop sequence, a complete
grammar (``stop``) or ``max_tokens`` (``length``). :func:`choose` picks the next token of every row of a batch
from its logits: constrained rows masked first, greedy rows at temperature 0, the others drawn at their
temperature (docs/original.md §3.2).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import torch

from distalign.backends._batching import Job
from distalign.backends._hf_compute import sample, seeded_generator
from distalign.backends._hf_constrain import Grammars, advance
from distalign.types import Completion


class Row:
    """The state of one generation request (see the module docstring)."""

    def __init__(self, job: Job, eos_ids: set[int], matcher: Any = None) -> None:
        self.job, self.request, self.eos_ids, self.matcher = job, job.request, eos_ids, matcher
        self.tokens: list[int] = []
        self.text: str | None = None  # set when a stop sequence cut the text
        self.reason = ""
        self.generator = seeded_generator(job.request)
        self.started = time.perf_counter()
        self.cached = len(job.ids)  # positions in the row's own KV cache (the lean engine's decoding loop)
        self.prefix: Any = None  # the shared prefix's keys and values the row attends to first (lean engine)
        self.prefix_len = 0

    @property
    def temperature(self) -> float:
        """The sampling temperature (``None`` in the request means 1)."""
        return 1.0 if self.request.temperature is None else self.request.temperature

    def accept(self, token: int, tokenizer: Any) -> bool:
        """Take the chosen token; ``True`` when the row has finished."""
        if token in self.eos_ids:
            self.reason = "stop"
            return True
        self.tokens.append(token)
        complete = self.matcher is not None and advance(self.matcher, token)
        if self.request.stop and self._cut(tokenizer.decode(self.tokens, skip_special_tokens=True)):
            return True
        if complete:
            self.reason = "stop"
        elif len(self.tokens) >= self.request.max_tokens:
            self.reason = "length"
        return bool(self.reason)

    def _cut(self, text: str) -> bool:
        cut = min((at for s in self.request.stop if s and (at := text.find(s)) >= 0), default=-1)
        if cut < 0:
            return False
        self.text, self.reason = text[:cut], "stop"
        return True

    def completion(self, name: str, tokenizer: Any) -> Completion:
        """The row's completion (an unfinished row ends at its budget: ``length``)."""
        text = self.text if self.text is not None else tokenizer.decode(self.tokens, skip_special_tokens=True)
        return Completion(
            text=text,
            model_id=name,
            input_tokens=len(self.job.ids),
            output_tokens=len(self.tokens),
            finish_reason=self.reason or "length",
        )


def choose(rows: Sequence[Row], logits: torch.Tensor, grammars: Grammars | None) -> list[int]:
    """The next token of each row from its float32 logits ``[rows, vocab]`` (masked in place for grammars)."""
    logits = logits.cpu()
    constrained = [(i, row.matcher) for i, row in enumerate(rows) if row.matcher is not None]
    if constrained and grammars is not None:
        grammars.mask(logits, constrained)
    greedy = logits.argmax(dim=-1).tolist()
    return [
        greedy[i] if row.temperature <= 0 else sample(logits[i], row.temperature, row.generator)
        for i, row in enumerate(rows)
    ]
