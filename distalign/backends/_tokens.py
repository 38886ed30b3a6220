"""Tokenizer helpers shared by the in-process backends (transformers, vLLM); no torch needed.

* :func:`letter_token_ids`: every vocabulary entry that decodes to an option letter once stripped of
  whitespace (``"A"``, ``" A"``, byte-level ``"ĠA"``, a newline before the letter). Summing their
  probabilities gives the exact first-token probability of answering that letter, whatever
  tokenization the model prefers.
* :func:`render_prompt`: the model's chat template with the generation prompt, or a plain join for base
  models without one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from distalign.types import LETTERS, Message


def letter_token_ids(tokenizer: Any, letters: Iterable[str] = LETTERS) -> dict[str, tuple[int, ...]]:
    """``letter -> token ids`` of every single token that decodes to the letter (stripped).

    ``tokenizer`` is a Hugging Face tokenizer (``batch_decode`` and ``len``) or anything with the same
    two methods.
    """
    wanted = set(letters)
    ids = list(range(len(tokenizer)))
    texts = tokenizer.batch_decode([[i] for i in ids], skip_special_tokens=False)
    out: dict[str, list[int]] = {letter: [] for letter in wanted}
    for i, text in zip(ids, texts, strict=True):
        core = text.strip()
        if core in wanted:
            out[core].append(i)
    return {letter: tuple(v) for letter, v in sorted(out.items())}


def render_prompt(tokenizer: Any, messages: Sequence[Message]) -> tuple[str, bool]:
    """The prompt text and whether it came from a chat template (then it already holds special tokens).

    Models with a chat template get it applied with ``add_generation_prompt=True``, so the next token
    is the assistant's first answer token. Base models get the message contents joined by blank lines.
    """
    chat = [{"role": m.role, "content": m.content} for m in messages]
    if getattr(tokenizer, "chat_template", None):
        return str(tokenizer.apply_chat_template(chat, add_generation_prompt=True, tokenize=False)), True
    return "\n\n".join(m.content for m in messages), False


def sample_seed(seed: int | None, sample_index: int) -> int:
    """The sampling seed of one request: its seed (0 when unset) plus its sample index.

    >>> sample_seed(None, 3), sample_seed(10, 2)
    (3, 12)
    """
    return (seed or 0) + sample_index
