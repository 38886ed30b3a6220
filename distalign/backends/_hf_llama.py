"""A lean forward pass of Llama-family models over the loaded transformers model's own weights.

The transformers forward is general and pays for it on a small CPU model: a KV cache that is concatenated at
every decoding step (more than half of a step's time for the built-in model), masks rebuilt per layer, a dozen
Python calls per layer. :class:`FastLM` runs the same mathematics (RMSNorm, rotary embeddings from the model's own
rotary module, grouped-query attention through ``scaled_dot_product_attention``, SwiGLU) with the query, key and
value projections fused into one matrix product and the gate and up projections into another (the original
weights become views of the fused ones, so memory does not grow), on two kinds of input:

* :meth:`FastLM.prefill`: right-padded token rows after an optional shared prefix whose keys and values were
  computed once; returns the hidden states and each layer's new keys and values;
* :meth:`FastLM.decode`: one token per row of a :class:`~distalign.backends._hf_slots.SlotCache` (each row at
  its own position), written into its pre-allocated cache in place.

Supported: ``model_type`` llama, mistral and qwen2 without a sliding window, plain ``torch.nn.Linear`` weights
(:func:`unsupported` says why another model is not; it then runs through the transformers forward).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

ARCHS = ("llama", "mistral", "qwen2")
KV = list[tuple[torch.Tensor, torch.Tensor]]  # per layer: keys, values [rows, kv_heads, tokens, head_dim]


def unsupported(model: Any) -> str:
    """Why :class:`FastLM` cannot run ``model`` ("" when it can)."""
    cfg = getattr(model, "config", None)
    kind = getattr(cfg, "model_type", None)
    if kind not in ARCHS:
        return f"architecture {kind!r} (the lean path knows {', '.join(ARCHS)})"
    if getattr(cfg, "sliding_window", None) is not None and getattr(cfg, "use_sliding_window", True):
        return "sliding-window attention"
    if getattr(cfg, "pretraining_tp", 1) != 1:
        return "pretraining_tp > 1"
    layers = model.model.layers
    linears = [
        p for layer in layers for m in (layer.self_attn, layer.mlp) for p in m.children() if hasattr(p, "weight")
    ]
    if any(type(p) is not torch.nn.Linear for p in linears):
        return "quantized or replaced linear layers"
    biased = [layer.self_attn.o_proj.bias for layer in layers] + [p.bias for layer in layers for p in _mlp(layer)]
    if any(b is not None for b in biased):
        return "biases outside the query/key/value projections"
    return ""


def _mlp(layer: Any) -> list[Any]:
    return [layer.mlp.gate_proj, layer.mlp.up_proj, layer.mlp.down_proj]


@dataclass
class Layer:
    """One decoder layer's weights (views into the loaded model's parameters)."""

    ln1: torch.Tensor
    qkv: torch.Tensor
    qkv_bias: torch.Tensor | None
    o: torch.Tensor
    ln2: torch.Tensor
    gate_up: torch.Tensor
    down: torch.Tensor
    act: Any


def _fuse(modules: list[Any]) -> torch.Tensor:
    """One weight matrix stacking ``modules``' weights; each module's weight becomes a view of it."""
    fused = torch.cat([m.weight.data for m in modules], dim=0).contiguous()
    at = 0
    for m in modules:
        n = m.weight.shape[0]
        m.weight.data = fused[at : at + n]
        at += n
    return fused


def _layer(layer: Any) -> Layer:
    attn, mlp = layer.self_attn, layer.mlp
    bias = None
    if attn.q_proj.bias is not None:
        bias = torch.cat([attn.q_proj.bias.data, attn.k_proj.bias.data, attn.v_proj.bias.data])
    return Layer(
        ln1=layer.input_layernorm.weight.data,
        qkv=_fuse([attn.q_proj, attn.k_proj, attn.v_proj]),
        qkv_bias=bias,
        o=attn.o_proj.weight.data,
        ln2=layer.post_attention_layernorm.weight.data,
        gate_up=_fuse([mlp.gate_proj, mlp.up_proj]),
        down=mlp.down_proj.weight.data,
        act=mlp.act_fn,
    )


def rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotary position embedding of ``x`` [..., head_dim] (the transformers ``rotate_half`` convention)."""
    half = x.shape[-1] // 2
    return x * cos + torch.cat((-x[..., half:], x[..., :half]), dim=-1) * sin


class FastLM:
    """The lean forward of a loaded Llama-family model (see the module docstring)."""

    def __init__(self, model: Any) -> None:
        cfg = model.config
        self.model = model
        self.heads = cfg.num_attention_heads
        self.kv_heads = cfg.num_key_value_heads
        self.head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
        self.groups = self.heads // self.kv_heads
        self.eps = float(cfg.rms_norm_eps)
        self.scale = self.head_dim**-0.5
        self.layers = [_layer(layer) for layer in model.model.layers]
        self.embed = model.model.embed_tokens.weight.data
        self.norm = model.model.norm.weight.data
        self.lm_head = model.lm_head.weight.data
        self.rotary = model.model.rotary_emb
        self.device, self.dtype = self.embed.device, self.embed.dtype

    def _norm(self, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        return F.rms_norm(x, (x.shape[-1],), weight, self.eps)

    def _qkv(self, layer: Layer, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Query, key, value of ``x`` [rows, tokens, hidden] as [rows, heads, tokens, head_dim]."""
        rows, tokens = x.shape[0], x.shape[1]
        qkv = F.linear(self._norm(x, layer.ln1), layer.qkv, layer.qkv_bias)
        qkv = qkv.view(rows, tokens, self.heads + 2 * self.kv_heads, self.head_dim).transpose(1, 2)
        q, k, v = qkv.split((self.heads, self.kv_heads, self.kv_heads), dim=1)
        return q, k, v

    def _finish_layer(self, layer: Layer, x: torch.Tensor, attn: torch.Tensor) -> torch.Tensor:
        """Output projection, residual, MLP, residual; ``attn`` is [rows, tokens, heads * head_dim]."""
        x = x + F.linear(attn, layer.o)
        gate, up = F.linear(self._norm(x, layer.ln2), layer.gate_up).chunk(2, dim=-1)
        return x + F.linear(layer.act(gate) * up, layer.down)

    def _attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Grouped-query attention; ``q`` [rows, heads, tokens, d], ``k``/``v`` [rows, kv_heads, keys, d].

        Each key/value head serves its ``groups`` query heads as one [groups * tokens] block, so keys and values
        are never repeated; ``mask`` is [rows or 1, 1, groups * tokens, keys] (``True``: attend).
        """
        rows, _, tokens, d = q.shape
        grouped = q.reshape(rows, self.kv_heads, self.groups * tokens, d)
        out = F.scaled_dot_product_attention(grouped, k, v, attn_mask=mask, scale=self.scale)
        return out.view(rows, self.heads, tokens, d).transpose(1, 2).reshape(rows, tokens, self.heads * d)

    def prefill(self, ids: torch.Tensor, start: int, prefix: KV | None = None) -> tuple[torch.Tensor, KV]:
        """Hidden states [rows, tokens, hidden] of right-padded ``ids`` at positions ``start``, ``start + 1``, ...

        ``prefix`` holds the keys and values of the ``start`` tokens before them (one row, shared by all rows).
        Returns the final-normed hidden states and each layer's keys and values of ``ids``.
        """
        rows, tokens = ids.shape
        positions = torch.arange(start, start + tokens, device=self.device).expand(rows, tokens)
        x = F.embedding(ids, self.embed)
        cos, sin = (t.unsqueeze(1) for t in self.rotary(x, positions))
        causal = torch.ones(tokens, tokens, dtype=torch.bool, device=self.device).tril()
        mask = torch.cat([torch.ones(tokens, start, dtype=torch.bool, device=self.device), causal], dim=1)
        mask = mask.repeat(self.groups, 1)[None, None]
        new: KV = []
        for i, layer in enumerate(self.layers):
            q, k, v = self._qkv(layer, x)
            q, k = rotate(q, cos, sin), rotate(k, cos, sin)
            new.append((k, v))
            if prefix is not None:
                pk, pv = prefix[i]
                k = torch.cat([pk.expand(rows, -1, -1, -1), k], dim=2)
                v = torch.cat([pv.expand(rows, -1, -1, -1), v], dim=2)
            x = self._finish_layer(layer, x, self._attend(q, k, v, mask))
        return self._norm(x, self.norm), new

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """Float32 logits of final-normed hidden states."""
        return F.linear(hidden, self.lm_head).float()

    def decode(
        self, tokens: torch.Tensor, positions: torch.Tensor, offsets: torch.Tensor, cache: Any, shared: Shared
    ) -> torch.Tensor:
        """Logits [rows, vocab] of one new token per row of ``cache`` (rows ``0..len(tokens) - 1``).

        ``positions[i]`` is row ``i``'s position in its sequence; ``offsets[i]`` where its new key and value go in
        its cache row, which holds its own tokens only: the rows of each ``shared`` entry (a prefix's keys and
        values, the rows' indices) attend to that prefix first, read once for all of them (:func:`cascade`).
        """
        rows = tokens.shape[0]
        width = int(offsets.max()) + 1
        x = F.embedding(tokens, self.embed).unsqueeze(1)
        cos, sin = (t.unsqueeze(1) for t in self.rotary(x, positions.unsqueeze(1)))
        mask = (torch.arange(width, device=self.device)[None, :] <= offsets[:, None])[:, None, None, :]
        heads = torch.arange(self.kv_heads, device=self.device)
        flat = ((torch.arange(rows, device=self.device)[:, None] * self.kv_heads + heads) * cache.width).add_(
            offsets[:, None]
        )  # where each row's new key of each head goes in the cache seen as [slots * heads * width, head_dim]
        flat = flat.view(-1)
        for i, layer in enumerate(self.layers):
            q, k, v = self._qkv(layer, x)
            q, k = rotate(q, cos, sin), rotate(k, cos, sin)
            ck, cv = cache.keys[i], cache.values[i]
            ck.view(-1, self.head_dim).index_copy_(0, flat, k.reshape(-1, self.head_dim))
            cv.view(-1, self.head_dim).index_copy_(0, flat, v.reshape(-1, self.head_dim))
            grouped = q.view(rows, self.kv_heads, self.groups, self.head_dim)
            prefixes = [(kv[i], index) for kv, index in shared]
            attn = cascade(grouped * self.scale, ck[:rows, :, :width], cv[:rows, :, :width], mask, prefixes)
            x = self._finish_layer(layer, x, attn.reshape(rows, 1, self.heads * self.head_dim))
        return self.logits(self._norm(x[:, 0], self.norm))


Shared = list[tuple[KV, torch.Tensor]]  # a shared prefix's keys and values per layer, the indices of its rows


def _partial(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Unnormalised attention: running max, sum of weights and weighted values (float32)."""
    scores = q @ k.float().transpose(-1, -2)
    top = scores.amax(-1, keepdim=True)
    weights = (scores - top).exp_()
    return top, weights.sum(-1, keepdim=True), weights @ v.float()


def cascade(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor, prefixes: list[tuple[Any, torch.Tensor]]
) -> torch.Tensor:
    """Decoding attention over a shared prefix and each row's own keys, merged exactly (log-sum-exp).

    ``q`` [rows, kv_heads, groups, d] (already scaled); ``k``/``v`` [rows, kv_heads, width, d] each row's own
    keys with ``mask`` [rows, 1, 1, width]; each prefix ``((pk, pv), index)`` holds keys and values
    [1, kv_heads, prefix, d] that the rows ``index`` attend to before their own: all of those rows' queries meet
    them in one product, so a prefix is read once per step, not once per row. Returns [rows, kv_heads, groups, d].
    """
    rows, heads, groups, dim = q.shape
    q32 = q.float()
    scores = (q32 @ k.float().transpose(-1, -2)).masked_fill_(~mask, float("-inf"))
    top = scores.amax(-1, keepdim=True)
    weights = (scores - top).exp_()
    total, out = weights.sum(-1, keepdim=True), weights @ v.float()
    for (pk, pv), index in prefixes:
        n = index.numel()
        stacked = q32.index_select(0, index).transpose(0, 1).reshape(heads, n * groups, dim)
        parts = _partial(stacked, pk[0], pv[0])
        p_top, p_total, p_out = (t.view(heads, n, groups, -1).transpose(0, 1) for t in parts)
        o_top = top.index_select(0, index)
        both = torch.maximum(o_top, p_top)
        a, b = (o_top - both).exp_(), (p_top - both).exp_()
        out.index_copy_(0, index, out.index_select(0, index) * a + p_out * b)
        total.index_copy_(0, index, total.index_select(0, index) * a + p_total * b)
    return (out / total).to(q.dtype)
