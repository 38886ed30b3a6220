"""Pre-allocated KV cache rows and a store of shared prompt prefixes for :class:`~distalign.backends._hf_llama.FastLM`.

:class:`SlotCache` keeps, per layer, one keys and one values tensor of shape [slots, kv_heads, width, head_dim],
allocated once and widened only when a longer row arrives. Rows ``0..n-1`` are the active ones: a finished row's
slot is refilled by the last active row (:meth:`SlotCache.move`), so a decoding step works on a contiguous view and
never copies the cache of the rows that stay.

:class:`PrefixStore` remembers the keys and values of the few most recent shared prefixes (a group's instructions
and few-shot examples), so rows that arrive later, alone or in another batch, compute only their own suffix.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import torch

from distalign.backends._hf_compute import common_prefix

KV = list[tuple[torch.Tensor, torch.Tensor]]
WIDTH_STEP = 128  # the cache widens in steps of this many positions


class SlotCache:
    """Keys and values of up to ``slots`` rows, per layer."""

    def __init__(self, layers: int, slots: int, kv_heads: int, head_dim: int, dtype: torch.dtype, device: torch.device):
        self.shape = (slots, kv_heads, 0, head_dim)
        self.layers, self.dtype, self.device = layers, dtype, device
        self.keys: list[torch.Tensor] = []
        self.values: list[torch.Tensor] = []
        self.width = 0

    def ensure(self, width: int) -> None:
        """Room for ``width`` positions per row (existing rows kept)."""
        if width <= self.width:
            return
        width = -(-width // WIDTH_STEP) * WIDTH_STEP
        slots, heads, _, dim = self.shape
        for store in (self.keys, self.values):
            for i in range(self.layers):
                grown = torch.zeros((slots, heads, width, dim), dtype=self.dtype, device=self.device)  # no NaN
                if store[i:]:
                    grown[:, :, : self.width] = store[i][:, :, : self.width]
                    store[i] = grown
                else:
                    store.append(grown)
        self.width = width

    def put(self, slot: int, kv: KV, row: int, length: int) -> None:
        """Write ``slot``'s keys and values: the first ``length`` positions of row ``row`` of ``kv``."""
        for i, (k, v) in enumerate(kv):
            self.keys[i][slot, :, :length] = k[row, :, :length]
            self.values[i][slot, :, :length] = v[row, :, :length]

    def move(self, source: int, target: int, length: int) -> None:
        """Copy row ``source``'s first ``length`` positions into row ``target``."""
        for store in (self.keys, self.values):
            for tensor in store:
                tensor[target, :, :length] = tensor[source, :, :length]


class PrefixStore:
    """The keys and values of recent shared prefixes, most recent last (at most ``size``)."""

    def __init__(self, size: int = 4) -> None:
        self.size = size
        self.entries: OrderedDict[tuple[int, ...], KV] = OrderedDict()
        self.recent: list[Sequence[int]] = []  # the last prompts seen, to spot a prefix shared across batches

    def find(self, row: Sequence[int], limit: int) -> tuple[tuple[int, ...], KV] | None:
        """The longest stored prefix of ``row`` no longer than ``limit`` tokens."""
        best = None
        for prefix, kv in self.entries.items():
            n = len(prefix)
            if n <= limit and (best is None or n > len(best[0])) and tuple(row[:n]) == prefix:
                best = (prefix, kv)
        if best is not None:
            self.entries.move_to_end(best[0])
        return best

    def add(self, prefix: tuple[int, ...], kv: KV) -> None:
        """Remember ``prefix``; the least recently used entry goes when there are too many."""
        self.entries[prefix] = kv
        self.entries.move_to_end(prefix)
        while len(self.entries) > self.size:
            self.entries.popitem(last=False)

    def shared_with_recent(self, rows: Sequence[Sequence[int]]) -> int:
        """Longest prefix the ``rows`` share with each other, or a single row with a recently seen prompt."""
        if len(rows) > 1:
            n = common_prefix(rows)
        else:
            n = max((common_prefix([rows[0], r]) for r in self.recent), default=0)
        self.recent = [*self.recent, *rows][-8:]
        return n
