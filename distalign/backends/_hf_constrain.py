"""Constrained decoding for the in-process transformers backend, with llguidance (pinned, ``distalign[hf]``).

A request's :class:`~distalign.types.Constraint` (a JSON schema or a regular expression) becomes an llguidance
``LLMatcher`` over the model's tokenizer. Before every sampled token the matchers of the constrained rows fill
one bit mask of allowed tokens (computed together, in llguidance's own threads); disallowed logits become
``-inf``, so sampling stays the request's seeded draw over what the grammar allows. The end-of-sequence token is
allowed only where the grammar may end, and a row stops as soon as its grammar is complete. The library is
imported on the first constrained request only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from distalign.backends.base import BackendError
from distalign.types import Constraint

INSTALL = "pip install llguidance==1.9.1 (or the 'hf' extra: pip install 'distalign[hf]')"
# JSON as json.dumps writes it (``{"A": 40, "B": 60}``): no free whitespace for a small model to loop in; a schema's
# own "x-guidance" options take precedence.
JSON_STYLE = {"whitespace_flexible": False, "item_separator": ", ", "key_separator": ": "}
_SHIFTS = torch.arange(32, dtype=torch.int32)


def import_llguidance() -> Any:
    """The ``llguidance`` module, or a :class:`BackendError` saying how to install it."""
    try:
        import llguidance
        import llguidance.hf
    except ImportError as e:
        raise BackendError(f"constrained decoding needs llguidance, which is not installed: {INSTALL}") from e
    return llguidance


def grammar(llg: Any, constraint: Constraint) -> str:
    """The llguidance grammar of a constraint."""
    if constraint.kind == "json_schema":
        return str(llg.LLMatcher.grammar_from_json_schema(constraint.spec, defaults=JSON_STYLE))
    return str(llg.LLMatcher.grammar_from_regex(constraint.spec))


class Grammars:
    """Matchers for one tokenizer: ``make`` one per constrained row, ``mask`` the logits of several at once."""

    def __init__(self, tokenizer: Any, vocab: int, eos_ids: Sequence[int]) -> None:
        self.llg = import_llguidance()
        self.tokenizer = self.llg.hf.from_tokenizer(tokenizer, n_vocab=vocab, eos_token=sorted(eos_ids) or None)
        self.vocab = vocab
        self.executor = self.llg.LLExecutor()

    def make(self, constraint: Constraint) -> Any:
        """A fresh matcher; an invalid schema or pattern raises a :class:`BackendError` naming the problem."""
        try:
            matcher = self.llg.LLMatcher(self.tokenizer, grammar(self.llg, constraint), log_level=0)
        except (ValueError, RuntimeError) as e:
            raise BackendError(f"invalid {constraint.kind} constraint: {e}") from e
        if matcher.is_error():
            raise BackendError(f"invalid {constraint.kind} constraint: {matcher.get_error()}")
        return matcher

    def mask(self, logits: torch.Tensor, rows: Sequence[tuple[int, Any]]) -> None:
        """Set the logits of tokens that ``(row, matcher)`` pairs do not allow to ``-inf``, in place."""
        if not rows:
            return
        words = (self.vocab + 31) // 32
        bitmask = torch.full((len(rows), words), -1, dtype=torch.int32)
        pairs = [(m, i) for i, (_, m) in enumerate(rows)]  # what llguidance.torch.fill_next_token_bitmask_par does,
        self.executor.unsafe_compute_mask_ptr(pairs, bitmask.data_ptr(), words * 4, len(rows))  # minus torch.compile
        allowed = ((bitmask.unsqueeze(-1) >> _SHIFTS) & 1).bool().view(len(rows), -1)
        index = torch.tensor([row for row, _ in rows], device=logits.device)
        width = min(logits.shape[-1], allowed.shape[-1])
        sub = logits.index_select(0, index)
        sub[:, :width].masked_fill_(~allowed[:, :width].to(logits.device), float("-inf"))
        sub[:, width:] = float("-inf")
        logits.index_copy_(0, index, sub)


def advance(matcher: Any, token: int) -> bool:
    """Feed ``token`` to ``matcher``; ``True`` when the grammar is complete (nothing but the end may follow)."""
    if not matcher.consume_token(token):
        raise BackendError(f"constrained decoding: the grammar rejected token {token}: {matcher.get_error()}")
    return bool(matcher.is_stopped())
