"""Parsers fuzzed over arbitrary and adversarial text: never raise, never eval, a distribution or a failure.

Every tolerant parser must return either a proper distribution over exactly the given letters (finite,
non-negative, summing to 1 within 1e-9) or an explicit failure (``parse_ok=False``, ``dist=None``); the paper
parsers return one number per letter and never raise. ``eval`` and ``exec`` raise while the parsers run, and
``compile`` may only build a syntax tree (as ``ast.literal_eval`` does). Inputs are bounded (the longest are
200,000 characters) and every parse must be fast. Bugs this file found and that are fixed in
``distalign/parsers.py``: quadratic regex backtracking on ``{A:`` followed by a long run of spaces, an
``OverflowError`` on log-probabilities above 709, and one on integers beyond float range in ``paper_verbalize``.
"""

from __future__ import annotations

import ast
import builtins
import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from distalign.answers import sequence_answers
from distalign.parsers import (
    answer_tokens,
    first_answer,
    paper_sequence,
    paper_verbalize,
    parse_answer_list,
    parse_logprobs,
    parse_option_scores,
    parse_samples,
    parse_sequence,
    parse_verbalized,
)
from distalign.types import Parsed

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
LETTER_SETS = ["AB", "ABC", "ABCD", "ABCDEFG", "ABCDEFGHIJKLMNOPQRSTUVWXYZ"]


@contextmanager
def no_eval() -> Iterator[None]:
    """``eval`` and ``exec`` raise while the block runs; ``compile`` only builds syntax trees (``ast.literal_eval``)."""
    saved = {name: getattr(builtins, name) for name in ("eval", "exec", "compile")}

    def forbidden(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a parser called eval/exec")

    def ast_only(source: Any, filename: Any, mode: str, flags: int = 0, *args: Any, **kwargs: Any) -> Any:
        if not flags & ast.PyCF_ONLY_AST:
            raise AssertionError("a parser compiled code to run")
        return saved["compile"](source, filename, mode, flags, *args, **kwargs)

    try:
        builtins.eval = builtins.exec = forbidden  # type: ignore[assignment]
        builtins.compile = ast_only  # type: ignore[assignment]
        yield
    finally:
        for name, fn in saved.items():
            setattr(builtins, name, fn)


def check(p: Parsed, letters: str) -> None:
    """A proper distribution over ``letters`` or an explicit failure."""
    assert isinstance(p, Parsed)
    if not p.parse_ok:
        assert p.dist is None
        return
    assert p.dist is not None and p.dist.letters == tuple(letters)
    assert all(math.isfinite(x) and x >= 0 for x in p.dist.probs), p.dist
    assert abs(sum(p.dist.probs) - 1) <= 1e-9, p.dist


def all_text_parsers(text: str, letters: str) -> None:
    with no_eval():
        check(parse_verbalized(text, letters), letters)
        check(parse_sequence(text, letters), letters)
        check(parse_samples([text, text[::-1]], letters), letters)
        assert first_answer(text, letters) in ("", *letters)
        answers, invalid = answer_tokens(text, letters)
        assert set(answers) <= set(letters) and invalid >= 0
        listed, _ = sequence_answers(text, letters)  # list items are a subsequence of all answer letters
        it = iter(answers)
        assert all(letter in it for letter in listed)
        check(parse_answer_list(text, letters), letters)
        for floats_ok in (False, True):
            out = paper_verbalize(text, letters, floats_ok=floats_ok)
            assert len(out) == len(letters) and all(isinstance(x, float) for x in out)
        for truncate in (False, True):
            out = paper_sequence(text, letters, truncate=truncate)
            assert len(out) == len(letters) and all(0 <= x <= 1 for x in out)


# --- adversarial near-JSON --------------------------------------------------------------------------------------
KEYS = st.sampled_from(["A", "B", "C", "a", "b", "Z", "AA", "__import__", "1", "", "A B", "é", "Ａ", "\u0391"])
VALUES = st.sampled_from(
    [
        "0",
        "1",
        "0.5",
        "50%",
        "45 %",
        "1/3",
        "1/0",
        "0/0",
        "-5",
        "-0.2",
        "NaN",
        "nan",
        "Infinity",
        "-Infinity",
        "inf",
        "1e999",
        "1e-320",
        "9" * 400,
        "9" * 308,
        "0." + "0" * 400 + "1",
        "\u0661\u0662",
        "\u096b\u0966%",
        "५०",
        "__import__('os').system('true')",
        "(lambda: 1)()",
        "[1, 2]",
        "{}",
        "{'A': 1}",
        "True",
        "None",
        "'60%'",
        '"60%"',
        "'",
        "1" * 5000,
        "100.",
        ".5",
        "1e5",
        "0x10",
    ]
)


@st.composite
def near_json(draw: st.DrawFn) -> str:
    pairs = draw(
        st.lists(
            st.tuples(KEYS, VALUES, st.sampled_from(["'", '"', ""]), st.sampled_from([":", "=", " :"])), max_size=8
        )
    )
    body = ", ".join(f"{q}{k}{q}{sep} {v}" for k, v, q, sep in pairs)
    depth = draw(st.integers(0, 60))
    text = "{" * depth + "{" + body + "}" + "}" * draw(st.integers(0, depth))
    return (
        draw(st.sampled_from(["", "Sure! ", "```json\n", "Answer: "]))
        + text
        + draw(st.sampled_from(["", ".", "\n```", " and {B: 2}", "}}}", "{{{"]))
    )


@FUZZ
@given(text=st.text(max_size=2000), letters=st.sampled_from(LETTER_SETS))
def test_arbitrary_text(text: str, letters: str) -> None:
    all_text_parsers(text, letters)


@FUZZ
@given(text=near_json(), letters=st.sampled_from(LETTER_SETS))
def test_adversarial_near_json(text: str, letters: str) -> None:
    all_text_parsers(text, letters)


@FUZZ
@given(
    text=st.text(alphabet=st.sampled_from("ABCDabcd xyz,.:;\n{}'\"%0123456789/-Answer"), max_size=3000),
    letters=st.sampled_from(LETTER_SETS),
)
def test_answer_like_text(text: str, letters: str) -> None:
    all_text_parsers(text, letters)


FLOATS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 709.0, 710.0, 1e308, -1e308, 5e-324, -745.2]),
)


@FUZZ
@given(
    top=st.lists(
        st.tuples(st.sampled_from(["A", " A", "B", "b", "(C", "D.", "Sure", "", " ", "AB", "Ａ"]), FLOATS), max_size=25
    ),
    letters=st.sampled_from(LETTER_SETS),
)
def test_logprobs_any_numbers(top: list[tuple[str, float]], letters: str) -> None:
    with no_eval():
        check(parse_logprobs(top, letters), letters)


@FUZZ
@given(scores=st.lists(FLOATS, max_size=8), letters=st.sampled_from(LETTER_SETS))
def test_option_scores_any_numbers(scores: list[float], letters: str) -> None:
    with no_eval():
        check(parse_option_scores(scores, letters), letters)
        check(parse_option_scores(scores[: len(letters)] + [0.0] * (len(letters) - len(scores)), letters), letters)


def test_paper_verbalize_huge_integer_is_unparseable_not_an_overflow() -> None:
    assert paper_verbalize("{'A': " + "9" * 400 + ", 'B': 0.5}", "AB", floats_ok=True) == [0.0, 0.5]


def test_positive_logprobs_do_not_overflow() -> None:
    p = parse_logprobs([("A", 1000.0), ("B", 709.0), (" B", 709.0)], "AB")  # math.exp(1000) overflowed
    assert p.parse_ok and p.dist is not None and p.dist.probs == (1 / 3, 2 / 3)


# --- bounded long inputs: linear time -----------------------------------------------------------------------------
LONG = 200_000
LONG_INPUTS = {
    "spaces after a key": "{A:" + " " * LONG + "x}",  # was quadratic in the verbalized pair regex
    "quotes and spaces": "{'A': '" + " " * LONG + "'}",
    "many pairs": "{" + ", ".join(f"'{'ABCD'[i % 4]}': {i % 100}%" for i in range(LONG // 10)) + "}",
    "deep nesting": "{" * LONG + "A: 1" + "}" * LONG,
    "unbalanced": "{" * LONG,
    "letters": "A " * (LONG // 2),
    "one word": "A" * LONG,
    "answer cues": "Answer: " * (LONG // 8),
    "digits": "{A: " + "9" * LONG + "}",
    "bare keys": "{" + "a" * LONG,
    "commas": "{" + ", " * (LONG // 2) + "}",
}


@pytest.mark.parametrize("name", list(LONG_INPUTS))
def test_long_inputs_parse_in_linear_time(name: str) -> None:
    text = LONG_INPUTS[name]
    start = time.perf_counter()
    all_text_parsers(text, "ABCD")
    assert time.perf_counter() - start < 5.0, f"{name}: too slow"


def test_repeated_keys_last_one_wins_and_hostile_values_fail_cleanly() -> None:
    assert parse_verbalized("{'A': 10%, 'A': 40%, 'B': 60%}", "AB").dist.probs == (0.4, 0.6)
    for text in (
        "{'A': __import__('os').system('echo pwned'), 'B': 1}",
        "{'A': NaN, 'B': Infinity}",
        "{'A': -50%, 'B': -50%}",
        "{'A': \u0665\u0660%, 'B': \u0665\u0660%}",
    ):
        with no_eval():
            p = parse_verbalized(text, "AB")
        check(p, "AB")
