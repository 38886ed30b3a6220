"""Prompt passes of the lean engine: shared prefixes computed once, then each row's own suffix.

:class:`FastPrefill` wraps a :class:`~distalign.backends._hf_llama.FastLM` and a
:class:`~distalign.backends._hf_slots.PrefixStore`. Rows are grouped by a shared token prefix of at least
``min_shared`` tokens (a group's instructions and few-shot examples; identical prompts of several samples); each
group's prefix is taken from the store or computed once (extending the longest stored one) and stored, then the
rows' suffixes run together, right-padded, attending to it. Used for the first-token log-probabilities (Log-p),
the option likelihoods and the prompts of rows joining the decoding loop (docs/original.md §3.2).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from distalign.backends._hf_compute import common_prefix, prefix_clusters
from distalign.backends._hf_llama import KV, FastLM
from distalign.backends._hf_slots import PrefixStore

Piece = tuple[KV, int, int]  # keys/values, row within them, length: a row's own tokens
Parts = tuple[KV | None, int, Piece]  # a row's shared prefix (keys/values, length) and its own tokens


class FastPrefill:
    """Prompt passes with shared prefixes (see the module docstring)."""

    def __init__(self, lm: FastLM, min_shared: int, store_size: int = 4) -> None:
        self.lm, self.min_shared = lm, min_shared
        self.store = PrefixStore(store_size)

    def _ids(self, rows: Sequence[Sequence[int]]) -> tuple[torch.Tensor, list[int]]:
        lengths = [len(r) for r in rows]
        ids = torch.zeros((len(rows), max(lengths)), dtype=torch.long)
        for i, row in enumerate(rows):
            ids[i, : len(row)] = torch.tensor(row, dtype=torch.long)
        return ids.to(self.lm.device), lengths

    def prefix(self, row: Sequence[int], shared: int, limit: int) -> tuple[int, KV | None]:
        """Keys and values of ``row``'s first ``shared`` tokens (stored ones reused, new ones stored)."""
        hit = self.store.find(row, limit)
        if shared < self.min_shared or (hit is not None and len(hit[0]) >= shared):
            return (len(hit[0]), hit[1]) if hit is not None else (0, None)
        start, base = (len(hit[0]), hit[1]) if hit is not None else (0, None)
        ids = torch.tensor([list(row[start:shared])], dtype=torch.long, device=self.lm.device)
        _, kv = self.lm.prefill(ids, start, base)
        if base is not None:
            kv = [
                (torch.cat([bk, k], dim=2), torch.cat([bv, v], dim=2))
                for (bk, bv), (k, v) in zip(base, kv, strict=True)
            ]
        self.store.add(tuple(row[:shared]), kv)
        return shared, kv

    def group(self, rows: Sequence[Sequence[int]], keep: int) -> tuple[torch.Tensor, list[Parts]]:
        """Hidden states at each row's last ``keep`` positions [rows, keep, hidden], and its cache parts."""
        limit = min(len(r) for r in rows) - keep
        if len(rows) > 1:
            limit = min(limit, common_prefix(rows))
        shared = min(self.store.shared_with_recent(rows), limit)
        start, kv = self.prefix(rows[0], shared, limit)
        ids, lengths = self._ids([r[start:] for r in rows])
        hidden, new = self.lm.prefill(ids, start, kv)
        picks = torch.stack([torch.arange(n - keep, n) for n in lengths]).to(self.lm.device)
        tail = hidden.gather(1, picks.unsqueeze(-1).expand(-1, -1, hidden.shape[-1]))
        return tail, [(kv, start, (new, i, n)) for i, n in enumerate(lengths)]

    def run(self, rows: Sequence[Sequence[int]], keep: int) -> tuple[torch.Tensor, list[Parts]]:
        """:meth:`group` over every cluster of rows sharing a prefix; results in the order of ``rows``."""
        clusters, rest = prefix_clusters(rows, self.min_shared) if len(rows) > 1 else ([], [0])
        alone = [i for i in rest if len(rest) == 1 or self.store.find(rows[i], len(rows[i]) - keep) is not None]
        plain = [i for i in rest if i not in alone]
        hidden: dict[int, torch.Tensor] = {}
        pieces: dict[int, Parts] = {}
        for members in [*clusters, *([i] for i in alone), *([plain] if plain else [])]:
            tail, parts = self.group([rows[i] for i in members], keep)
            hidden.update(zip(members, tail, strict=True))
            pieces.update(zip(members, parts, strict=True))
        order = range(len(rows))
        return torch.stack([hidden[i] for i in order]), [pieces[i] for i in order]

    def tail_logits(self, rows: Sequence[Sequence[int]], keep: int) -> torch.Tensor:
        """Float32 logits at each row's last ``keep`` positions, ``[rows, keep, vocab]``."""
        with torch.inference_mode():
            hidden, _ = self.run(rows, keep)
            return self.lm.logits(hidden)


def shared_length(rows: Sequence[Sequence[int]]) -> int:
    """Tokens every row shares (re-exported for tests).

    >>> shared_length([[1, 2, 3], [1, 2]])
    2
    """
    return common_prefix(rows)
