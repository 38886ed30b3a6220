"""Settings stored with every record, and the check that keeps a rerun from reusing answers made otherwise.

Each record that generation writes carries ``settings``: the model as resolved (``provider/model``; paper keys
such as ``gpt-4`` resolve to their snapshot), the expression method, and what its requests asked for: temperature,
seed, max_tokens, the number of samples, and ``prompt_sha256`` (the first 16 hex digits of the sha256 of the
first request's messages, which covers the template, the steering and the wording).

Before a run counts a stored record as done, :func:`check` compares the record's settings with those of the
requests this run would send for its question (every field; the prompt digest on the cell's first stored
question). A mismatch, or a record without settings, is never reused: the run stops with a message
naming the file and the difference, and the flags to overwrite (``--overwrite``) or to write beside
(``--output_dir``). With ``--overwrite`` the mismatching records are dropped and generated again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from typing import Any

from distalign.generate.records import ResultFile
from distalign.names import resolve_model
from distalign.types import Message, Request

FIELD = "settings"
PROMPT = "prompt_sha256"
HINT = "pass --overwrite to replace them, or --output_dir DIR to write the new ones beside them"


class SettingsMismatch(ValueError):
    """Stored records were made with other settings than this run's; the message names the file and the change."""


def prompt_sha256(messages: Sequence[Message]) -> str:
    """The first 16 hex digits of the sha256 of the messages (role and content, in order).

    >>> prompt_sha256([Message("user", "hi")]) == prompt_sha256([Message("system", "hi")])
    False
    """
    text = json.dumps([[m.role, m.content] for m in messages], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def settings_of(model: str, output_type: str, requests: Sequence[Request]) -> dict[str, Any]:
    """The settings of a record answered by ``requests`` (one per sample).

    >>> r = Request((Message("user", "q"),), max_tokens=5, temperature=0.7, seed=3)
    >>> s = settings_of("gpt-4", "sequence", [r, r])
    >>> s["model"], s["temperature"], s["seed"], s["max_tokens"], s["samples"]
    ('openai/gpt-4-0613', 0.7, 3, 5, 2)
    """
    first = requests[0]
    return {
        "model": resolve_model(model),
        "method": output_type,
        "temperature": first.temperature,
        "seed": first.seed,
        "max_tokens": first.max_tokens,
        "samples": len(requests),
        PROMPT: prompt_sha256(first.messages),
    }


def differences(stored: Any, expected: dict[str, Any], with_prompt: bool) -> list[str]:
    """How stored settings differ from this run's (``with_prompt``: the prompt digest too).

    >>> differences({"temperature": 1.0, "seed": 0}, {"temperature": 0.7, "seed": 0}, True)
    ['temperature 1.0 (this run: 0.7)']
    >>> differences(None, {"seed": 0}, True)
    ['no stored settings (released, or written by an older version)']
    """
    if not isinstance(stored, dict):
        return ["no stored settings (released, or written by an older version)"]
    return [
        f"{name} {stored.get(name)!r} (this run: {value!r})" if name != PROMPT else "the prompt text differs"
        for name, value in expected.items()
        if (with_prompt or name != PROMPT) and stored.get(name) != value
    ]


def check(rf: ResultFile, expected_of: Callable[[str, bool], dict[str, Any] | None], overwrite: bool) -> None:
    """Refuse (or, with ``overwrite``, drop) the stored records of ``rf`` made with other settings.

    ``expected_of(qid, with_prompt)`` gives this run's settings for a question (``None`` when it cannot be
    prompted); only with ``with_prompt`` must its prompt digest be right (the prompt is built for one question).

    Raises:
        SettingsMismatch: a record's settings differ and ``overwrite`` is off.
    """
    known = set(rf.order)
    bad: dict[str, list[str]] = {}
    first = True  # the prompt digest is compared on the first question this run can prompt
    for qid in [q for q in rf.records if q in known]:  # other keys are kept as they are, never reused
        expected = expected_of(qid, first)  # per question: a structured method's budget follows its options
        if expected is None:
            continue
        if diff := differences(rf.records[qid].get(FIELD), expected, first):
            bad[qid] = diff
        first = False
    if not bad:
        return
    if overwrite:
        rf.drop(bad)
        return
    example = "; ".join(next(iter(bad.values())))
    raise SettingsMismatch(
        f"{rf.path}: {len(bad)} of {len(rf.records)} stored records were made with other settings ({example}); "
        f"they are not reused: {HINT}"
    )
