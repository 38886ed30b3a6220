"""The transformers forward path of the Hugging Face backend: left-padded, shared-prefix, and generation.

:class:`HFForward` is the base of :class:`~distalign.backends.hf.HFBackend`: it runs the loaded model over token
rows (explicit position ids, so padding does not change the numbers) and computes a prefix that many rows share
once, its KV cache repeated per row (docs/original.md §3.2), and generates a padded batch until its last row ends.
Architectures the lean engine (:mod:`distalign.backends._hf_llama`) does not know run here. The tensor helpers
live in :mod:`distalign.backends._hf_compute`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from distalign.backends._batching import Job
from distalign.backends._hf_compute import cache_of, common_prefix, left_pad, prefix_clusters
from distalign.backends._hf_constrain import Grammars
from distalign.backends._hf_rows import Row, choose
from distalign.backends.base import BackendError
from distalign.types import Completion


class HFForward:
    """Forward passes over ``model``; the backend sets the attributes below when it loads the model."""

    name: str
    model: Any
    tokenizer: Any
    device: torch.device
    pad_id: int
    eos_ids: set[int]
    _grammars: Grammars | None
    min_shared_prefix: int  # tokens rows must share before their common prefix is computed once for all of them
    _cache_kw: str  # the model's keyword for a KV cache ("cache" or "past_key_values")

    def _forward(self, rows: Sequence[Sequence[int]], keep: int, use_cache: bool = False) -> Any:
        """Left-padded forward pass keeping the logits of the last ``keep`` positions."""
        ids, mask = left_pad(rows, self.pad_id)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        with torch.inference_mode():
            return self.model(
                input_ids=ids.to(self.device),
                attention_mask=mask.to(self.device),
                position_ids=positions.to(self.device),
                logits_to_keep=keep,
                use_cache=use_cache,
            )

    def tail_logits(self, rows: Sequence[Sequence[int]], keep: int) -> torch.Tensor:
        """Logits at the last ``keep`` positions of each row, ``[rows, keep, vocab]``.

        Rows that share a long token prefix (a run's instructions and few-shot examples for one group)
        have it computed once per cluster; the other rows go through one left-padded pass.
        """
        clusters, rest = prefix_clusters(rows, self.min_shared_prefix)
        parts: dict[int, torch.Tensor] = {}
        for cluster in clusters:
            sub = [rows[i] for i in cluster]
            shared = min(common_prefix(sub), min(len(r) for r in sub) - keep)
            if shared < self.min_shared_prefix:
                rest.extend(cluster)
                continue
            parts.update(zip(cluster, self._tail_with_prefix(sub, keep, shared), strict=True))
        if rest:
            padded = self._forward([rows[i] for i in rest], keep=keep).logits
            parts.update(zip(rest, padded, strict=True))
        return torch.stack([parts[i] for i in range(len(rows))])

    def _tail_with_prefix(self, rows: Sequence[Sequence[int]], keep: int, shared: int) -> torch.Tensor:
        """Tail logits through :meth:`_prefix_pass`."""
        return self._prefix_pass(rows, keep, shared)[0]

    def _prefix_pass(
        self, rows: Sequence[Sequence[int]], keep: int, shared: int
    ) -> tuple[torch.Tensor, Any, torch.Tensor, torch.Tensor]:
        """The shared prefix once (its KV cache repeated per row), then the right-padded suffixes.

        Returns the logits at each row's last ``keep`` real positions, the KV cache, the attention mask
        and each row's suffix length.
        """
        suffixes = [list(r[shared:]) for r in rows]
        width = max(len(x) for x in suffixes)
        ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), shared + width), dtype=torch.long)
        mask[:, :shared] = 1
        for i, x in enumerate(suffixes):
            ids[i, : len(x)] = torch.tensor(x, dtype=torch.long)
            mask[i, shared : shared + len(x)] = 1
        wanted = sorted({p for x in suffixes for p in range(len(x) - keep, len(x))})
        positions = torch.arange(shared, shared + width).expand(len(rows), width)
        with torch.inference_mode():
            prefix = torch.tensor([list(rows[0][:shared])], dtype=torch.long, device=self.device)
            cache = cache_of(self.model(input_ids=prefix, use_cache=True, logits_to_keep=1))
            cache.batch_repeat_interleave(len(rows))
            out = self.model(
                input_ids=ids.to(self.device),
                attention_mask=mask.to(self.device),
                position_ids=positions.to(self.device),
                use_cache=True,
                logits_to_keep=torch.tensor(wanted, device=self.device),
                **{self._cache_kw: cache},
            )
        at = {p: k for k, p in enumerate(wanted)}
        picks = [
            torch.tensor([at[p] for p in range(len(x) - keep, len(x))], device=out.logits.device) for x in suffixes
        ]
        logits = torch.stack([out.logits[i, picks[i]] for i in range(len(rows))])
        return logits, cache_of(out), mask, torch.tensor([len(x) for x in suffixes])

    def _prefill(self, rows: Sequence[Sequence[int]]) -> tuple[torch.Tensor, Any, torch.Tensor, torch.Tensor]:
        """Last-position logits, KV cache, attention mask and last position ids of the prompts."""
        shared = min(common_prefix(rows), min(len(r) for r in rows) - 1)
        if len(rows) > 1 and shared >= self.min_shared_prefix:
            logits, cache, mask, lengths = self._prefix_pass(rows, 1, shared)
            return logits[:, -1, :], cache, mask, (shared + lengths - 1).unsqueeze(1)
        out = self._forward(rows, keep=1, use_cache=True)
        mask = left_pad(rows, self.pad_id)[1]
        return out.logits[:, -1, :], cache_of(out), mask, mask.sum(-1, keepdim=True) - 1

    def _step(
        self, last: Sequence[int], mask: torch.Tensor, positions: torch.Tensor, past: Any
    ) -> tuple[Any, torch.Tensor, torch.Tensor]:
        """One decoding step: each row's ``last`` token through the model, with the KV cache ``past``.

        Returns the model output and the attention mask and position ids grown by one.
        """
        mask = torch.cat([mask, torch.ones((len(last), 1), dtype=torch.long)], dim=1)
        positions = positions + 1
        with torch.inference_mode():
            out = self.model(
                input_ids=torch.tensor([[t] for t in last], dtype=torch.long, device=self.device),
                attention_mask=mask.to(self.device),
                position_ids=positions.to(self.device),
                use_cache=True,
                logits_to_keep=1,
                **{self._cache_kw: past},
            )
        return out, mask, positions

    def _row(self, job: Job) -> Row | BackendError:
        try:
            return Row(
                job, self.eos_ids, self.grammars().make(job.request.constraint) if job.request.constraint else None
            )
        except BackendError as exc:
            return exc

    def _generate(self, jobs: list[Job]) -> list[Completion | BaseException]:
        """The transformers path: one padded batch decoding until its last row ends."""
        made = [self._row(j) for j in jobs]
        rows = [r for r in made if isinstance(r, Row)]
        if rows:
            self._generate_rows(rows)
        return [r.completion(self.name, self.tokenizer) if isinstance(r, Row) else r for r in made]

    def _generate_rows(self, rows: list[Row]) -> None:
        logits, cache, mask, positions = self._prefill([r.job.ids for r in rows])
        live = list(range(len(rows)))
        while True:
            tokens = choose([rows[i] for i in live], logits[live].float(), self._grammars)
            live = [i for i, t in zip(live, tokens, strict=True) if not rows[i].accept(t, self.tokenizer)]
            if not live:
                return
            last = [r.tokens[-1] if r.tokens else self.pad_id for r in rows]
            out, mask, positions = self._step(last, mask, positions, cache)
            logits, cache = out.logits[:, -1, :], cache_of(out)

    def grammars(self) -> Grammars:
        """The llguidance matchers' factory (the backend defines it)."""
        raise NotImplementedError
