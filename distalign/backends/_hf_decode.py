"""Continuous batching of free-text generation on the lean engine (docs/original.md §3.2).

:class:`DecodeLoop` keeps up to ``slots`` requests decoding together, each in its own row of a pre-allocated
:class:`~distalign.backends._hf_slots.SlotCache`. Every iteration: waiting requests take the free rows (their
prompts computed after the shared prefix, :class:`~distalign.backends._hf_fast.FastPrefill`), every row chooses
its next token (:func:`~distalign.backends._hf_rows.choose`), finished rows are answered at once and leave, and
one decoding step runs for the rows that remain. Nothing of a finished row is computed again, and throughput
does not depend on the longest reply. New requests come from ``more`` (the micro-batcher's queue), so a request
sent while others decode joins them at the next step.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Callable, Sequence
from typing import Any

import torch

from distalign.backends._batching import Job, deliver
from distalign.backends._hf_constrain import Grammars
from distalign.backends._hf_fast import FastPrefill
from distalign.backends._hf_rows import Row, choose
from distalign.backends._hf_slots import SlotCache
from distalign.backends.base import BackendError


class DecodeLoop:
    """Continuous batching over ``prefill``'s model (see the module docstring).

    Args:
        name: the backend's name (completions' ``model_id``, error messages).
        prefill: prompt passes with shared prefixes over the lean model.
        tokenizer: decodes the generated tokens.
        eos_ids: tokens that end a reply.
        grammars: builds the matchers of constrained requests (called once, on the first one).
    """

    def __init__(
        self, name: str, prefill: FastPrefill, tokenizer: Any, eos_ids: set[int], grammars: Callable[[], Grammars]
    ) -> None:
        self.name, self.prefill, self.lm, self.tokenizer = name, prefill, prefill.lm, tokenizer
        self.eos_ids, self._grammars_of = eos_ids, grammars
        self._grammars: Grammars | None = None
        self.cache: SlotCache | None = None
        self.steps = 0  # decoding steps run (for tests and benchmarks)

    def _cache(self, slots: int) -> SlotCache:
        if self.cache is None or self.cache.shape[0] != slots:
            lm = self.lm
            self.cache = SlotCache(len(lm.layers), slots, lm.kv_heads, lm.head_dim, lm.dtype, lm.device)
        return self.cache

    def run(
        self,
        jobs: Sequence[Job],
        more: Callable[[int], list[Job]],
        slots: int,
        between: Callable[[], None] = lambda: None,
    ) -> None:
        """Answer ``jobs`` and whatever ``more`` hands over while they run; every job is resolved.

        ``between`` runs before every step (the backend answers queued scoring requests there).
        """
        waiting: collections.deque[Job] = collections.deque(jobs)
        active: list[Row] = []
        try:
            with torch.inference_mode():
                self._loop(waiting, active, more, between, self._cache(slots))
        except Exception as exc:  # noqa: BLE001 - every request still in the loop gets the error
            error = BackendError(f"{self.name}: {type(exc).__name__}: {exc}")
            left = [row.job for row in active] + list(waiting)
            deliver(left, [error] * len(left), time.perf_counter())

    def _loop(
        self, waiting: collections.deque[Job], active: list[Row], more: Any, between: Any, cache: SlotCache
    ) -> None:
        logits: torch.Tensor | None = None
        slots = cache.shape[0]
        while True:
            between()
            free = slots - len(active)
            if free > len(waiting):
                waiting.extend(more(free - len(waiting)))
            admitted = [waiting.popleft() for _ in range(min(free, len(waiting)))]
            if admitted:
                logits = self._admit(admitted, active, cache, logits)
            if not active:
                return
            assert logits is not None
            tokens = choose(active, logits, self._grammars)
            done = [i for i, (row, t) in enumerate(zip(active, tokens, strict=True)) if row.accept(t, self.tokenizer)]
            self._retire(done, active, cache)
            logits = self._step(active, cache) if active else None

    def _admit(
        self, jobs: list[Job], active: list[Row], cache: SlotCache, logits: torch.Tensor | None
    ) -> torch.Tensor | None:
        """Rows for ``jobs`` (those whose constraint fails are answered with the error), their prompts computed."""
        rows = []
        for job in jobs:
            try:
                rows.append(Row(job, self.eos_ids, self._matcher(job)))
            except BackendError as exc:
                deliver([job], [exc], time.perf_counter())
        if not rows:
            return logits
        hidden, parts = self.prefill.run([r.job.ids for r in rows], keep=1)
        for row, (prefix, prefix_len, (_, _, n)) in zip(rows, parts, strict=True):
            row.prefix, row.prefix_len, row.cached = prefix, prefix_len, n
        cache.ensure(max(r.cached + r.request.max_tokens for r in [*active, *rows]) + 1)
        for k, (_, _, (kv, i, n)) in enumerate(parts):
            cache.put(len(active) + k, kv, i, n)
        active.extend(rows)
        new = self.lm.logits(hidden[:, -1])
        return new if logits is None else torch.cat([logits, new])

    def _matcher(self, job: Job) -> Any:
        if job.request.constraint is None:
            return None
        if self._grammars is None:
            self._grammars = self._grammars_of()
        return self._grammars.make(job.request.constraint)

    def _retire(self, done: list[int], active: list[Row], cache: SlotCache) -> None:
        """Answer the finished rows; the last active row moves into each freed cache row."""
        for i in sorted(done, reverse=True):
            row = active[i]
            deliver([row.job], [row.completion(self.name, self.tokenizer)], row.started)
            last = active.pop()
            if i < len(active):
                cache.move(len(active), i, last.cached)
                active[i] = last

    def _step(self, active: list[Row], cache: SlotCache) -> torch.Tensor:
        device = self.lm.device
        tokens = torch.tensor([row.tokens[-1] for row in active], dtype=torch.long, device=device)
        offsets = torch.tensor([row.cached for row in active], dtype=torch.long, device=device)
        positions = offsets + torch.tensor([row.prefix_len for row in active], dtype=torch.long, device=device)
        groups: dict[int, tuple[Any, list[int]]] = {}
        for i, row in enumerate(active):
            if row.prefix is not None:
                groups.setdefault(id(row.prefix), (row.prefix, []))[1].append(i)
        shared = [(kv, torch.tensor(index, device=device)) for kv, index in groups.values()]
        logits = self.lm.decode(tokens, positions, offsets, cache, shared)
        for row in active:
            row.cached += 1
        self.steps += 1
        return logits
