"""Which letters of a reply are answers: option letters in sequence replies and single-answer replies.

Mirrors docs/original.md §3.1, §11.1.5. Pure functions, never raising on any text.

Only the text after the last ``Answer:`` cue counts. A reply is read as alphabetic tokens (digits, spaces and
punctuation separate them); a token made only of upper-case option letters is an *answer token* (it counts letter
by letter: stored replies had their spaces removed), a lone capital that is no option letter is a *stray letter*,
anything else is a *word*. Consecutive answer tokens and stray letters form a *run*.

* A **sequence** reply counts the letters of its runs, except a run of a single letter followed by a word: that
  letter is prose, not a list item ("A 30-option letter ...", "A. Some", "I think ..."). A lone letter that ends the
  reply still counts ("Here is my answer: B").
* A **single-answer** reply takes its first answer letter, wherever it stands ("B. Somewhat likely").
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

_TOKEN = re.compile(r"[A-Za-z]+")
ANSWER, STRAY, WORD = "answer", "stray", "word"


def _body(text: str) -> tuple[str, bool]:
    """The text after the last ``Answer:`` cue (the whole text without one), and whether there was a cue."""
    _, sep, tail = text.rpartition("Answer:")
    return (tail if sep else text), bool(sep)


def token_kind(token: str, valid: set[str]) -> str:
    """``answer`` (only option letters, upper case), ``stray`` (one other capital) or ``word``.

    >>> token_kind("ABBA", set("AB")), token_kind("E", set("AB")), token_kind("Answer", set("AB"))
    ('answer', 'stray', 'word')
    """
    if token.isupper() and set(token) <= valid:
        return ANSWER
    return STRAY if len(token) == 1 and token.isupper() else WORD


def runs(text: str, letters: Sequence[str]) -> Iterator[tuple[list[tuple[str, str]], bool]]:
    """The runs of ``text`` (lists of (token, kind)), each with whether a word follows it.

    >>> [([t for t, _ in run], followed) for run, followed in runs("A list: A B, C", "ABC")]
    [(['A'], True), (['A', 'B', 'C'], False)]
    """
    valid, run = set(letters), list[tuple[str, str]]()
    for token in _TOKEN.findall(text):
        kind = token_kind(token, valid)
        if kind != WORD:
            run.append((token, kind))
            continue
        if run:
            yield run, True
        run = []
    if run:
        yield run, False


def sequence_answers(text: str, letters: Sequence[str]) -> tuple[list[str], int]:
    """Answer letters of a sequence reply (letters standing in runs) and the stray letters among them.

    >>> sequence_answers("Here are 30 answers: A B, C E", "ABCD")
    (['A', 'B', 'C'], 1)
    >>> sequence_answers("A 30-option letter separated by spaces.", "ABCD")  # the article is no answer
    ([], 0)
    >>> sequence_answers("A. Some", "ABCD"), sequence_answers("I think A", "ABCD")
    (([], 0), (['A'], 0))
    >>> sequence_answers("Answer: ABBA D", "ABCD")  # stored replies had their spaces removed
    (['A', 'B', 'B', 'A', 'D'], 0)
    """
    answers: list[str] = []
    invalid = 0
    for run, followed in runs(_body(text)[0], letters):
        if followed and sum(len(token) for token, _ in run) < 2:
            continue  # one letter before a word: prose
        for token, kind in run:
            if kind == ANSWER:
                answers.extend(token)
            else:
                invalid += 1
    return answers, invalid


def answer_tokens(text: str, letters: Sequence[str]) -> tuple[list[str], int]:
    """Every answer letter of a reply wherever it stands, and the stray letters (single-answer replies).

    Without an answer cue, leading words are skipped; with one, every upper-case token counts.

    >>> answer_tokens("Here are 30 answers: A B, C", "ABC")
    (['A', 'B', 'C'], 0)
    >>> answer_tokens("Answer: ABBA E", "ABCD")
    (['A', 'B', 'B', 'A'], 1)
    """
    body, cue = _body(text)
    valid, invalid = set(letters), 0
    answers: list[str] = []
    candidates = [t for t in _TOKEN.findall(body) if t.isupper()]
    if not cue:  # without an answer cue, skip leading prose words
        candidates = [t for t in candidates if len(t) == 1 or set(t) <= valid]
    for token in candidates:
        if set(token) <= valid:
            answers.extend(token)
        elif len(token) == 1:
            invalid += 1
    return answers, invalid


def first_answer(text: str, letters: Sequence[str]) -> str:
    """The first answer letter of a single-answer reply ("" when there is none).

    >>> first_answer("Answer: B. Somewhat likely", "ABCD"), first_answer("(C)", "ABC"), first_answer("no", "AB")
    ('B', 'C', '')
    """
    answers, _ = answer_tokens(text, letters)
    return answers[0] if answers else ""


def letter_of(token: str) -> str:
    """The option letter a token spells, stripped of spaces and light punctuation ("" if none).

    >>> letter_of(" A"), letter_of("B."), letter_of("(C"), letter_of("Sure")
    ('A', 'B', 'C', '')
    """
    core = token.strip().strip("().:'\"*")
    return core if len(core) == 1 and core.isalpha() and core.isupper() else ""
