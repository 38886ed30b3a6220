"""Parsers and the cache key against hand-computed expectations: tests written to catch plausible one-line bugs.

Each expectation is worked out by hand from the parser's contract (docstrings of :mod:`distalign.parsers`), not
read back from the code: the sequence parser stops at n answers and reads after the *last* ``Answer:`` cue; the
paper parsers truncate percents and divide by the string length; the cache key changes with every field that
shapes an answer (message roles included) and with nothing else. ``bench/mutation.py`` measures how many planted
bugs these tests catch.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math

import pytest

from distalign.engine.cache import completion_from_json, completion_to_json, request_key, request_payload
from distalign.parsers import (
    answer_tokens,
    first_answer,
    letter_of,
    paper_sequence,
    paper_verbalize,
    parse_logprobs,
    parse_option_scores,
    parse_samples,
    parse_sequence,
    parse_verbalized,
)
from distalign.types import Completion, Constraint, Distribution, Message, Parsed, Request


# --- sequence ---------------------------------------------------------------------------------------------------
def test_sequence_counts_only_the_first_n_answers() -> None:
    reply = "A " * 30 + "B " * 30  # 60 answers: the first 30 are all A
    p = parse_sequence(reply, "AB")
    assert p.dist is not None and p.dist.probs == (1.0, 0.0) and p.reason == ""
    assert dict(p.extra) == {"n_answers": 30.0, "n_invalid": 0.0}
    q = parse_sequence("A B B B", "AB", n=2)
    assert q.dist is not None and q.dist.probs == (0.5, 0.5) and q.reason == ""


def test_sequence_reads_after_the_last_answer_cue() -> None:
    p = parse_sequence("Answer: A A A\nLet me redo that.\nAnswer: B B C D", "ABCD")
    assert p.dist is not None and p.dist.probs == (0.0, 0.5, 0.25, 0.25)
    assert p.reason == "too short: 4 of 30 answers"


def test_sequence_notes_and_failures() -> None:
    p = parse_sequence("Answer: A E B", "ABC")
    assert p.dist is not None and p.dist.probs == (0.5, 0.5, 0.0)
    assert p.reason == "too short: 2 of 30 answers; 1 invalid letters ignored"
    assert dict(p.extra) == {"n_answers": 2.0, "n_invalid": 1.0}
    failed = parse_sequence("no idea", "AB")
    assert (failed.dist, failed.parse_ok, failed.reason, failed.response) == (
        None,
        False,
        "no answer letters in the response",
        "no idea",
    )


def test_answer_tokens_rules() -> None:
    assert answer_tokens("Answer: ABBA E", "ABCD") == (["A", "B", "B", "A"], 1)
    assert answer_tokens("I think A then B", "AB") == (["A", "B"], 1)  # no cue: words skipped; "I" is invalid
    assert answer_tokens("OK so A", "AB") == (["A"], 0)  # "OK" is upper case but not option letters
    assert answer_tokens("Answer: a b", "AB") == ([], 0)  # lower case is not an answer
    assert answer_tokens("Answer:", "AB") == ([], 0)
    assert first_answer("Answer: C then A", "ABC") == "C" and first_answer("", "AB") == ""


def test_letter_of() -> None:
    assert [letter_of(t) for t in [" A", "B.", "(C)", '"D"', "*E*", "ab", "AB", "", "a", "7"]] == [
        "A",
        "B",
        "C",
        "D",
        "E",
        "",
        "",
        "",
        "",
        "",
    ]


# --- verbalized -------------------------------------------------------------------------------------------------
def test_verbalized_values_and_notes() -> None:
    p = parse_verbalized("{'A': 20, 'B': 60}", "ABC")  # sums past 1.5: percentages; C missing
    assert p.dist is not None and p.dist.probs == pytest.approx((0.25, 0.75, 0.0))
    assert p.reason == "missing letters C set to 0; values summed to 0.8, renormalised"
    assert dict(p.extra) == {"raw_total": 0.8}
    q = parse_verbalized('```json\n{"A": 0.5, "B": 0.5, "Z": 0.1}\n```', "AB")
    assert q.dist is not None and q.dist.probs == (0.5, 0.5) and q.reason == "ignored keys Z"
    r = parse_verbalized("{A: 1/2, B: 1/4, C: 1/4}", "ABC")
    assert r.dist is not None and r.dist.probs == (0.5, 0.25, 0.25) and r.reason == ""
    s = parse_verbalized("{'A': 0.7, 'B': 0.3} and later {'A': 0.1}", "AB")  # the first object counts
    assert s.dist is not None and s.dist.probs == pytest.approx((0.7, 0.3))


def test_verbalized_failures() -> None:
    assert parse_verbalized("{'A': 0, 'B': 0}", "AB").reason == "all values are zero"
    assert parse_verbalized("{'X': 0.5}", "AB").reason == "no letter: value pairs for the shown options"
    assert parse_verbalized("{A: 1/0, B: 1}", "AB").parse_ok is False  # a zero denominator is no value
    assert parse_verbalized("{ 'A': 0.5", "AB").reason == "no {...} object in the response"


# --- paper parsers ----------------------------------------------------------------------------------------------
def test_paper_sequence_by_hand() -> None:
    assert paper_sequence("Sure. Answer: A B a C", "ABC") == [0.5, 0.25, 0.25]  # 'a' counts as A
    assert paper_sequence("x Answer: A Answer: B", "AB") == [2 / 9, 1 / 9]  # after the first cue: "AAnswer:B"
    assert paper_sequence("", "AB") == [0.0, 0.0]
    long = "A" * 40 + "B" * 20
    assert paper_sequence(long, "AB") == [1.0, 0.0]  # cut to 30 characters
    assert paper_sequence(long, "AB", truncate=False) == pytest.approx([40 / 60, 20 / 60])


def test_paper_verbalize_by_hand() -> None:
    assert paper_verbalize("{'A': '45.9%', 'B': '54%'}", "AB") == [0.45, 0.54]  # truncated to whole percents
    assert paper_verbalize('{"A": "10%", "C": "90%"}', "ABC") == [0.1, 0.0, 0.9]
    assert paper_verbalize("{'A': 0.3, 'B': 0.7}", "AB", floats_ok=True) == [0.3, 0.7]
    assert paper_verbalize("{'A': True}", "A", floats_ok=True) == [0.0]  # a bool is no number
    assert paper_verbalize("not a dict", "AB") == [0.0, 0.0]


# --- log-probs, samples, option scores --------------------------------------------------------------------------
def test_logprobs_sum_tokenizations_and_report_mass() -> None:
    top = [(" A", math.log(0.3)), ("A", math.log(0.1)), ("B", math.log(0.2)), ("Sure", math.log(0.4))]
    p = parse_logprobs(top, "ABC")
    assert p.dist is not None and p.dist.probs == pytest.approx((2 / 3, 1 / 3, 0.0))
    assert dict(p.extra) == {"covered_mass": 0.6, "missing_letters": "C"} and p.reason == ""
    low = parse_logprobs([("A", math.log(0.2)), ("B", math.log(0.1))], "AB")
    assert low.reason == "covered mass 0.300"
    assert parse_logprobs([("A", 0.5)], "AB").dist.probs == (1.0, 0.0)  # type: ignore[union-attr]
    none = parse_logprobs([("Sure", -0.1), ("A", float("nan"))], "AB")
    assert none.parse_ok is False and dict(none.extra)["covered_mass"] == 0.0


def test_samples_and_option_scores() -> None:
    p = parse_samples(["B", "Answer: A", "B", "?"], "AB")
    assert p.dist is not None and p.dist.probs == (1 / 3, 2 / 3) and p.response == "B A B ?"
    assert dict(p.extra) == {"n_samples": 4.0, "n_valid": 3.0}
    assert parse_samples(["x", "y"], "AB").parse_ok is False
    q = parse_option_scores([math.log(1), math.log(2), math.log(5)], "ABC")
    assert q.dist is not None and q.dist.probs == pytest.approx((0.125, 0.25, 0.625))
    assert parse_option_scores([0.0], "AB").parse_ok is False
    assert parse_option_scores([0.0, float("-inf")], "AB").parse_ok is False


# --- the cache key ----------------------------------------------------------------------------------------------
BASE = Request((Message("system", "S"), Message("user", "Q")), max_tokens=5, temperature=0.5, seed=1)
CHANGES = {
    "role": dataclasses.replace(BASE, messages=(Message("user", "S"), Message("user", "Q"))),
    "content": dataclasses.replace(BASE, messages=(Message("system", "S"), Message("user", "Q?"))),
    "order": dataclasses.replace(BASE, messages=(Message("user", "Q"), Message("system", "S"))),
    "max_tokens": dataclasses.replace(BASE, max_tokens=6),
    "temperature": dataclasses.replace(BASE, temperature=0.7),
    "seed": dataclasses.replace(BASE, seed=2),
    "sample": dataclasses.replace(BASE, sample_index=1),
    "constraint": dataclasses.replace(BASE, constraint=Constraint("regex", "A|B")),
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_every_field_that_shapes_an_answer_changes_the_key(change: str) -> None:
    assert request_key("fake/x", CHANGES[change]) != request_key("fake/x", BASE)


def test_the_key_ignores_bookkeeping_and_names_the_backend() -> None:
    assert request_key("fake/x", dataclasses.replace(BASE, meta=(("qid", "Q1"),))) == request_key("fake/x", BASE)
    assert request_key("fake/y", BASE) != request_key("fake/x", BASE)
    key = request_key("fake/x", BASE)
    assert len(key) == 64 and set(key) <= set("0123456789abcdef")
    payload = request_payload("fake/x", BASE)
    assert payload["backend"] == "fake/x" and payload["messages"] == [["system", "S"], ["user", "Q"]]
    assert "meta" not in payload and "constraint" not in payload


def test_the_key_is_the_sha256_of_a_canonical_json() -> None:
    # the key format is an interface: existing caches answer only while it stays byte for byte the same
    r = Request((Message("system", "S"), Message("user", "Qé")), max_tokens=5, temperature=0.5, seed=1)
    canonical = (
        '{"backend":"fake/x","continuations":[],"letters":[],"max_tokens":5,'
        '"messages":[["system","S"],["user","Qé"]],"sample_index":0,"seed":1,"stop":[],'
        '"temperature":0.5,"top_logprobs":0}'
    )
    assert request_key("fake/x", r) == hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    with_constraint = dataclasses.replace(r, constraint=Constraint("json_schema", "{}"))
    assert request_payload("fake/x", with_constraint)["constraint"] == {"kind": "json_schema", "spec": "{}"}


def test_completions_round_trip_through_json() -> None:
    c = Completion(
        text="Réponse: B",
        top_logprobs=(("B", -0.25), ("A", float("-inf"))),
        continuation_logprobs=(-1.5, -2.0),
        model_id="m",
        fingerprint="fp",
        input_tokens=3,
        output_tokens=1,
        latency_s=0.5,
        finish_reason="stop",
    )
    text = completion_to_json(c)
    assert "Réponse" in text and "-Infinity" in text  # UTF-8 kept as is; infinities allowed
    assert completion_from_json(text) == c
    back = completion_from_json('{"text": "A", "top_logprobs": [["A", "-1"]], "unknown": 1}')
    assert back == Completion(text="A", top_logprobs=(("A", -1.0),)) and isinstance(back.top_logprobs, tuple)
    assert completion_from_json('{"text": "x"}').continuation_logprobs == ()
    with pytest.raises(ValueError, match="expected a JSON object, found list"):
        completion_from_json("[1]")


def test_whole_parse_results_by_hand() -> None:
    assert parse_option_scores([0.0], "AB") == Parsed(None, False, "expected 2 finite option scores, got [0.0]", "")
    scores = parse_option_scores([0.0, 0.0], "AB")
    assert scores == Parsed(Distribution(("A", "B"), (0.5, 0.5)), True, "", "", (("option_scores", "[0.0, 0.0]"),))
    assert parse_samples(["x", "y"], "AB") == Parsed(None, False, "no sample contained an answer letter", "x\ny")
    assert parse_samples(["A", "B"], "AB").reason == ""
    none = parse_logprobs([("Sure", -0.1)], "AB")
    assert none == Parsed(
        None,
        False,
        "no option letter among the returned tokens",
        "",
        (("covered_mass", 0.0), ("missing_letters", "AB")),
    )
    half = parse_logprobs([("A", math.log(0.5))], "ABC")
    assert half.reason == "" and dict(half.extra) == {"covered_mass": 0.5, "missing_letters": "BC"}
    assert half.response == ""
    fine = parse_logprobs([("A", math.log(0.1234567)), ("B", math.log(0.5))], "AB")
    assert dict(fine.extra)["covered_mass"] == 0.623457  # rounded to 6 decimals
    above = parse_logprobs([("A", 0.5), ("B", math.log(0.5))], "AB")  # a log-probability above 0 counts as 0
    assert above.dist is not None and above.dist.probs == pytest.approx((2 / 3, 1 / 3))


def test_verbalized_scale_and_the_response_kept() -> None:
    text = "{'A': 0.5%, 'B': 0.5%}"  # percents, although they sum to 1
    p = parse_verbalized(text, "AB")
    assert dict(p.extra) == {"raw_total": 0.01} and p.response == text
    assert dict(parse_verbalized("{'A': 1, 'B': 1}", "AB").extra) == {"raw_total": 0.02}  # sum 2 > 1.5: percents
    exact = parse_verbalized("{'A': 1.0, 'B': 0.5}", "AB")  # sum 1.5: still probabilities
    assert dict(exact.extra) == {"raw_total": 1.5} and exact.reason == "values summed to 1.5, renormalised"
    assert dict(parse_verbalized("{'A': 0.1234567, 'B': 0.9}", "AB").extra) == {"raw_total": 1.023457}
    two = parse_verbalized("{'A': 1.0, 'X': 0, 'Z': 0}", "ABC")
    assert two.reason == "missing letters BC set to 0; ignored keys XZ"
    for bad in ("no object", "{'X': 1}", "{'A': 0}"):
        assert parse_verbalized(bad, "AB").response == bad
    assert parse_verbalized('{"A": "0.25", "B": "0.75"}', "AB").dist.probs == (0.25, 0.75)  # type: ignore[union-attr]


def test_answer_token_edges() -> None:
    assert answer_tokens("Answer: AB", "AB") == (["A", "B"], 0)  # every option letter in one token
    assert answer_tokens("AB BA", "AB") == (["A", "B", "B", "A"], 0)
    assert answer_tokens("Answer: A E F", "ABC") == (["A"], 2)
    assert letter_of("X") == "X" and letter_of("(X).") == "X"
    assert parse_sequence("A B", "AB").response == "A B"
    assert paper_verbalize('{"A": "60%", "B": "40%"}', "AB") == [0.6, 0.4]  # double quotes read too
