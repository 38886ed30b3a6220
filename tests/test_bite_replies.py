"""Reply shapes the parsers must read as their contracts say: hand-worked expectations.

The paper parser turns every ``"`` into ``'`` before reading the reply as a Python literal
(docs/original.md §3.3), so mismatched quotes still read and an apostrophe inside a double-quoted value
breaks the whole reply. The structured answer-list parser reads a JSON object (after any leading whitespace)
or falls back to the sequence syntax, cuts at ``n`` answers either way and keeps the raw reply.
``bench/mutation.py`` measures how many planted one-line bugs these tests catch.
"""

from __future__ import annotations

from distalign.parsers import paper_verbalize, parse_answer_list

NOT_A_LIST = 'no "answers" list of letters in the JSON object'


def test_paper_reading_turns_double_quotes_into_single_ones() -> None:
    assert paper_verbalize("{\"A': '40%', 'B\": '60%'}", "AB") == [0.4, 0.6]  # mismatched quotes match
    assert paper_verbalize('{"A": "45%", "B": "don\'t know", "C": "55%"}', "ABC") == [0.0, 0.0, 0.0]
    assert paper_verbalize('{"A": "45%", "C": "55%"}', "ABC") == [0.45, 0.0, 0.55]


def test_answer_list_json_after_leading_whitespace() -> None:
    bad = parse_answer_list(' \n{"answers": 3}', "AB")
    assert (bad.parse_ok, bad.reason, bad.response) == (False, NOT_A_LIST, ' \n{"answers": 3}')
    reply = '  {"answers": ["B", "B", "A", "C"]}'
    good = parse_answer_list(reply, "ABC")
    assert good.dist is not None and good.dist.probs == (0.25, 0.5, 0.25)  # A once, B twice, C once of 4
    assert good.response == reply  # the raw JSON, not the joined letters


def test_answer_list_stops_at_n_answers_in_both_syntaxes() -> None:
    as_json = parse_answer_list('{"answers": ["A", "B", "B", "B"]}', "AB", n=2)
    as_text = parse_answer_list("A B B B", "AB", n=2)
    for p in (as_json, as_text):
        assert p.dist is not None and p.dist.probs == (0.5, 0.5) and p.reason == ""  # A, B: two of two
        assert dict(p.extra)["n_answers"] == 2.0
    assert as_text.response == "A B B B"
