"""Parsers: raw model output -> distribution over option letters (docs/original.md §3, §11.1.4-6, §11.2).

Two families, all pure functions that never raise on any text and never ``eval``:

* ``paper_*``: the original release's semantics, quirks included, for the paper-mode evaluation
  (verbalized dicts truncated to integer percents, sequence letters counted anywhere in the string and
  divided by its length, no renormalisation).
* ``parse_*``: the tolerant, safe parsers used for new generations and the fixed-mode evaluation. They
  return a :class:`~distalign.types.Parsed`: a distribution that sums to one, or an explicit failure
  (``parse_ok=False``) with the reason and the raw text kept. Which letters of a reply are answers is decided
  in :mod:`distalign.answers` (re-exported here).
"""

from __future__ import annotations

import ast
import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import replace

from distalign.answers import answer_tokens as answer_tokens  # re-exported, as first_answer and letter_of
from distalign.answers import first_answer, letter_of, sequence_answers
from distalign.types import Distribution, Parsed

SEQUENCE_LENGTH = 30  # answers asked for by the sequence method

# ---------------------------------------------------------------------------------------------------
# Paper semantics (docs/original.md §3.1, §3.3)
# ---------------------------------------------------------------------------------------------------
_BARE_KEY = re.compile(r"(?<=[{,])\s*([A-Za-z_]\w*)\s*:")


def _literal_dict(text: str) -> dict | None:
    """The original's dict reading: ``"`` -> ``'``, quote bare keys, read as a Python literal."""
    patched = _BARE_KEY.sub(lambda m: f"'{m.group(1)}':", text.replace('"', "'"))
    try:
        value = ast.literal_eval(patched.strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def _paper_value(value: object, floats_ok: bool) -> float:
    """One verbalized value the original way: drop the last char (``%``), truncate to int, x 0.01."""
    if floats_ok and isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return float(value)
        except OverflowError:  # an integer beyond float range: unparseable, like any other bad value
            return 0.0
    try:
        return int(float(str(value)[:-1])) * 0.01
    except (ValueError, OverflowError):
        return 0.0


def paper_verbalize(text: str, letters: Sequence[str], floats_ok: bool = False) -> list[float]:
    """The original verbalize parser (``floats_ok=True``: the GlobalValues variant that keeps numbers).

    Unparseable text and unparseable values become 0; no renormalisation.

    >>> paper_verbalize("{'A': '45%', B: '3%', 'C': '52%'}", "ABC")
    [0.45, 0.03, 0.52]
    >>> paper_verbalize("{'A': 0.15, 'B': 0.85}", "AB")
    [0.0, 0.0]
    >>> paper_verbalize("{'A': 0.15, 'B': '85%'}", "AB", floats_ok=True)
    [0.15, 0.85]
    >>> paper_verbalize("{'A': '40%', 'B': '60%'}.", "AB")
    [0.0, 0.0]
    """
    d = _literal_dict(text) or {}
    return [_paper_value(d[k], floats_ok) if k in d else 0.0 for k in letters]


def paper_sequence(text: str, letters: Sequence[str], truncate: bool = True) -> list[float]:
    """The original sequence parser: count of ``L`` and ``l`` over the string length.

    The string is the text after the first ``"Answer: "``, spaces removed, cut to 30 characters for
    OQA/NYT (``truncate=False`` for GlobalValues).

    >>> paper_sequence("A B A C", "ABC")
    [0.5, 0.25, 0.25]
    >>> [round(x, 4) for x in paper_sequence("Here: AB", "ABC")]
    [0.1429, 0.1429, 0.0]
    """
    _, sep, tail = text.partition("Answer: ")
    s = (tail if sep else text).replace(" ", "")
    if truncate:
        s = s[:SEQUENCE_LENGTH]
    if not s:
        return [0.0] * len(letters)
    return [(s.count(L) + s.count(L.lower())) / len(s) for L in letters]


# ---------------------------------------------------------------------------------------------------
# Tolerant parsers (fixed mode and new generations)
# ---------------------------------------------------------------------------------------------------
def _failure(reason: str, text: str) -> Parsed:
    return Parsed(None, False, reason, text)


def _normalized(letters: Sequence[str], values: Sequence[float]) -> Distribution:
    total = sum(values)
    return Distribution(tuple(letters), tuple(v / total for v in values))


_FENCE = re.compile(r"```(?:json|python)?", re.IGNORECASE)
_PAIR = re.compile(
    r"""["']?\b([A-Za-z])\b["']?\s*[:=]\s*(?:["']\s*)?(\d+(?:\.\d*)?|\.\d+)\s*(%|/\s*(\d+(?:\.\d*)?))?\s*["']?"""
)


def _object_span(text: str) -> str | None:
    """The first ``{...}`` block (balanced braces) in ``text``, or ``None``."""
    start = text.find("{")
    depth = 0
    for i in range(max(start, 0), len(text)):
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        if start >= 0 and depth == 0:
            return text[start : i + 1]
    return None


def _pairs(block: str) -> list[tuple[str, float, bool]]:
    """(key, value, is_percent) for each ``key: value`` pair; ``a/b`` fractions are divided out."""
    out = []
    for m in _PAIR.finditer(block):
        value = float(m.group(2))
        if m.group(4) is not None:
            denominator = float(m.group(4))
            value = value / denominator if denominator else math.nan
        out.append((m.group(1), value, m.group(3) == "%"))
    return out


def parse_verbalized(text: str, letters: Sequence[str]) -> Parsed:
    """A verbalized distribution, tolerant of quoting, percent or fraction values, code fences and prose.

    Values are percentages when any carries ``%`` or they sum to more than 1.5, else probabilities; the
    result is renormalised to sum to one and the raw total is kept in ``extra``.

    >>> parse_verbalized('Sure! {"A": 0.2, "B": 0.8}.', "AB").dist.probs
    (0.2, 0.8)
    >>> parse_verbalized("{'A': '45%', B: 55%}", "AB").dist.probs
    (0.45, 0.55)
    >>> parse_verbalized("{A: 1/4, B: 3/4}", "AB").dist.probs
    (0.25, 0.75)
    >>> parse_verbalized("I cannot answer that.", "AB").reason
    'no {...} object in the response'
    """
    block = _object_span(_FENCE.sub("", text))
    if block is None:
        return _failure("no {...} object in the response", text)
    pairs = [(k.upper(), v, pct) for k, v, pct in _pairs(block)]
    found = {k: v for k, v, _ in pairs if k in letters}
    if not found or any(not math.isfinite(v) for v in found.values()):
        return _failure("no letter: value pairs for the shown options", text)
    percent = any(pct for _, _, pct in pairs) or sum(found.values()) > 1.5
    values = [found.get(L, 0.0) / (100.0 if percent else 1.0) for L in letters]
    total = sum(values)
    if total <= 0:
        return _failure("all values are zero", text)
    notes = _verbalize_notes(letters, found, {k for k, _, _ in pairs}, total)
    return Parsed(_normalized(letters, values), True, notes, text, (("raw_total", round(total, 6)),))


def _verbalize_notes(letters: Sequence[str], found: dict, keys: set[str], total: float) -> str:
    notes = []
    if missing := [L for L in letters if L not in found]:
        notes.append(f"missing letters {''.join(missing)} set to 0")
    if extra := sorted(keys - set(letters)):
        notes.append(f"ignored keys {''.join(extra)}")
    if abs(total - 1) > 0.02:
        notes.append(f"values summed to {total:.3g}, renormalised")
    return "; ".join(notes)


def parse_sequence(text: str, letters: Sequence[str], n: int = SEQUENCE_LENGTH) -> Parsed:
    """Frequencies of the first ``n`` answer tokens of a sequence reply.

    >>> p = parse_sequence("A A B C", "ABC")
    >>> p.dist.probs, p.reason
    ((0.5, 0.25, 0.25), 'too short: 4 of 30 answers')
    >>> parse_sequence("I'd rather not.", "AB").parse_ok
    False

    Letters inside prose are not answers (:func:`distalign.answers.sequence_answers`):

    >>> parse_sequence("A 30-option letter separated by spaces.", "ABCD").reason
    'no answer letters in the response'
    >>> parse_sequence("A. Some", "ABCD").parse_ok, parse_sequence("I think A", "ABCD").reason
    (False, 'too short: 1 of 30 answers')
    """
    answers, invalid = sequence_answers(text, letters)
    if not answers:
        return _failure("no answer letters in the response", text)
    used = answers[:n]
    counts = [float(used.count(L)) for L in letters]
    notes = []
    if len(used) < n:
        notes.append(f"too short: {len(used)} of {n} answers")
    if invalid:
        notes.append(f"{invalid} invalid letters ignored")
    extra = (("n_answers", float(len(used))), ("n_invalid", float(invalid)))
    return Parsed(_normalized(letters, counts), True, "; ".join(notes), text, extra)


def parse_answer_list(text: str, letters: Sequence[str], n: int = SEQUENCE_LENGTH) -> Parsed:
    """A structured sequence reply: the letters in the sequence syntax, or a JSON object ``{"answers": [...]}``.

    The JSON form's list items are read as a sequence reply of those items; the raw text is kept.

    >>> parse_answer_list('{"answers": ["A", "B", "B", "E"]}', "ABC").dist.probs
    (0.3333333333333333, 0.6666666666666666, 0.0)
    >>> parse_answer_list("A B B", "ABC").dist.probs
    (0.3333333333333333, 0.6666666666666666, 0.0)
    >>> parse_answer_list('{"answers": 3}', "AB").reason
    'no "answers" list of letters in the JSON object'
    """
    try:
        value = json.loads(text) if text.lstrip().startswith("{") else None
    except (ValueError, RecursionError):
        value = None  # not JSON after all: read as sequence syntax
    if not isinstance(value, dict):
        return parse_sequence(text, letters, n)
    items = value.get("answers")
    if not isinstance(items, list) or not all(isinstance(x, str) for x in items):
        return _failure('no "answers" list of letters in the JSON object', text)
    return replace(parse_sequence(" ".join(items), letters, n), response=text)


def parse_logprobs(top: Iterable[tuple[str, float]], letters: Sequence[str]) -> Parsed:
    """First-token log-probabilities -> distribution over letters, summing every tokenization of a letter.

    The covered probability mass (before renormalisation) and the letters never seen are kept in
    ``extra``; zero mass is a failure.

    >>> p = parse_logprobs([(" A", math.log(0.5)), ("A", math.log(0.2)), ("B", math.log(0.1))], "ABC")
    >>> [round(x, 3) for x in p.dist.probs], dict(p.extra)["covered_mass"], dict(p.extra)["missing_letters"]
    ([0.875, 0.125, 0.0], 0.8, 'C')
    """
    mass = dict.fromkeys(letters, 0.0)
    for token, logprob in top:
        letter = letter_of(token)
        if letter in mass and math.isfinite(logprob):
            mass[letter] += math.exp(min(logprob, 0.0))  # a log-probability above 0 is noise (or a broken server)
    covered = sum(mass.values())
    missing = "".join(L for L, p in mass.items() if p == 0.0)
    extra = (("covered_mass", round(covered, 6)), ("missing_letters", missing))
    if covered <= 0:
        return Parsed(None, False, "no option letter among the returned tokens", "", extra)
    note = f"covered mass {covered:.3f}" if covered < 0.5 else ""
    return Parsed(_normalized(letters, list(mass.values())), True, note, "", extra)


def parse_samples(texts: Sequence[str], letters: Sequence[str]) -> Parsed:
    """Independent single-answer samples -> frequencies of their answer letters.

    >>> p = parse_samples(["A", "B", "A", "dunno"], "AB")
    >>> p.dist.probs, p.reason
    ((0.6666666666666666, 0.3333333333333333), '1 of 4 samples without an answer')
    """
    answers = [first_answer(t, letters) for t in texts]
    valid = [a for a in answers if a]
    if not valid:
        return _failure("no sample contained an answer letter", "\n".join(texts))
    counts = [float(valid.count(L)) for L in letters]
    bad = len(answers) - len(valid)
    note = f"{bad} of {len(answers)} samples without an answer" if bad else ""
    extra = (("n_samples", float(len(answers))), ("n_valid", float(len(valid))))
    return Parsed(_normalized(letters, counts), True, note, " ".join(a or "?" for a in answers), extra)


def parse_option_scores(scores: Sequence[float], letters: Sequence[str]) -> Parsed:
    """Length-normalised option log-likelihoods -> softmax distribution.

    >>> [round(p, 3) for p in parse_option_scores([0.0, math.log(3)], "AB").dist.probs]
    [0.25, 0.75]
    """
    if len(scores) != len(letters) or not scores or not all(math.isfinite(s) for s in scores):
        return _failure(f"expected {len(letters)} finite option scores, got {list(scores)}", "")
    top = max(scores)
    weights = [math.exp(s - top) for s in scores]
    return Parsed(_normalized(letters, weights), True, "", "", (("option_scores", str(list(scores))),))
