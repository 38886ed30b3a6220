"""Forward passes of the Hugging Face backend: left-padded, shared-prefix, prefill and one decoding step.

:class:`HFForward` is the base of :class:`~distalign.backends.hf.HFBackend`: it runs the loaded model over token
rows (explicit position ids, so padding does not change the numbers) and computes a prefix that many rows share
once, its KV cache repeated per row (docs/original.md §3.2). The tensor helpers live in
:mod:`distalign.backends._hf_compute`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from distalign.backends._hf_compute import Generation, cache_of, common_prefix, left_pad, prefix_clusters


class HFForward:
    """Forward passes over ``model``; the backend sets the attributes below when it loads the model."""

    model: Any
    device: torch.device
    pad_id: int
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

    def _step(self, state: Generation, past: Any) -> Any:
        """One decoding step: each row's last token through the model, with the KV cache ``past``."""
        state.mask = torch.cat([state.mask, torch.ones((len(state.jobs), 1), dtype=torch.long)], dim=1)
        state.positions = state.positions + 1
        last = torch.tensor([[t[-1] if t else self.pad_id] for t in state.tokens], dtype=torch.long)
        with torch.inference_mode():
            return self.model(
                input_ids=last.to(self.device),
                attention_mask=state.mask.to(self.device),
                position_ids=state.positions.to(self.device),
                use_cache=True,
                logits_to_keep=1,
                **{self._cache_kw: past},
            )
