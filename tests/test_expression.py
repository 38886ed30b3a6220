"""Expression methods: capability checks, the requests they send and how they parse replies (docs/original.md §3).

Run: ``.venv/bin/python -m pytest tests/test_expression.py``.
"""

from __future__ import annotations

import json
import math

import pytest

from distalign.expression import METHODS, get_method
from distalign.expression.base import MethodConfig
from distalign.names import PAPER_GENERATED
from distalign.parsers import parse_sequence
from distalign.types import Capabilities, Completion, Distribution, Message, SurveyItem

ITEM = SurveyItem(
    "opinionqa",
    "Q1",
    "Do you like rain?",
    ("No", "Refused ", "Yes"),
    "SEX",
    "Female",
    "Female",
    Distribution(("A", "B", "C"), (0.6, 0.1, 0.3)),
)
MSGS = (Message("system", "s"), Message("user", "u"))
CFG = MethodConfig(temperature=1.0, seed=5, n_samples=4, max_tokens=200, top_logprobs=20)
API = Capabilities(logprobs=True, max_top_logprobs=5, seed=True)  # OpenAI-like with a small top-k
LOCAL = Capabilities(logprobs=True, max_top_logprobs=0, exact_letter_probs=True, option_scores=True, seed=True)
NO_TEMP = Capabilities(temperature=False, seed=False)  # e.g. a reasoning model
LOG = math.log


def probs(parsed: object) -> list[float]:
    dist = parsed.dist  # type: ignore[attr-defined]
    assert dist is not None
    return [round(p, 4) for p in dist.probs]


# ---- registry and capabilities ------------------------------------------------------------------------------
def test_registry_covers_generated_output_types() -> None:
    assert set(PAPER_GENERATED) <= set(METHODS)
    assert {"independent_samples", "option_likelihood"} <= set(METHODS)
    assert all(get_method(k).output_type == k for k in METHODS)
    with pytest.raises(ValueError, match="valid: express_distribution, express_distribution_structured, independ"):
        get_method("rescaled_model_logprobs")


def test_unsupported_reasons() -> None:
    anthropic_like = Capabilities(logprobs=False)
    assert get_method("model_logprobs").unsupported(anthropic_like) == "the model returns no token log-probabilities"
    assert "without alternative tokens" in str(
        get_method("model_logprobs").unsupported(Capabilities(logprobs=True, max_top_logprobs=0))
    )
    assert get_method("model_logprobs").unsupported(API) is None
    assert get_method("model_logprobs").unsupported(LOCAL) is None
    assert "needs a local model" in str(get_method("option_likelihood").unsupported(API))
    assert get_method("option_likelihood").unsupported(LOCAL) is None
    for name in ("sequence", "express_distribution", "independent_samples"):
        assert get_method(name).unsupported(anthropic_like) is None
        assert get_method(name).unsupported(NO_TEMP) is None  # a rejected temperature is not unsupported


# ---- requests ------------------------------------------------------------------------------------------------
def test_every_request_carries_meta() -> None:
    for name, method in METHODS.items():
        for req in method.requests(ITEM, MSGS, CFG, task="task1"):
            meta = dict(req.meta)
            assert meta["dataset"] == "opinionqa" and meta["qid"] == "Q1" and meta["group"] == "SEX"
            assert meta["demographic"] == "Female" and meta["output_type"] == name and meta["task"] == "task1"
            assert json.loads(meta["truth"]) == [0.6, 0.1, 0.3]
            assert req.messages == MSGS
    none_cell = SurveyItem("opinionqa", "Q1", "?", ("x", "y"), "NONE", "NONE", "")
    assert "truth" not in dict(get_method("sequence").requests(none_cell, MSGS, CFG)[0].meta)
    assert "task" not in dict(get_method("sequence").requests(none_cell, MSGS, CFG)[0].meta)


def test_logprobs_request() -> None:
    (req,) = get_method("model_logprobs").requests(ITEM, MSGS, CFG, caps=API)
    assert (req.max_tokens, req.top_logprobs, req.letters, req.temperature, req.seed) == (1, 5, ("A", "B", "C"), 1.0, 5)
    (req,) = get_method("model_logprobs").requests(ITEM, MSGS, CFG)
    assert req.top_logprobs == 20


def test_free_text_requests() -> None:
    for name in ("sequence", "express_distribution"):
        (req,) = get_method(name).requests(ITEM, MSGS, CFG, caps=API)
        assert (req.max_tokens, req.temperature, req.seed, req.top_logprobs) == (200, 1.0, 5, 0)
        assert "\nQuestion:" in req.stop and len(req.stop) <= 4  # cut replies that invent a next example


def test_rejected_temperature_and_seed_are_not_sent() -> None:
    for name in ("model_logprobs", "sequence", "express_distribution", "independent_samples"):
        for req in get_method(name).requests(ITEM, MSGS, CFG, caps=NO_TEMP):
            assert req.temperature is None and req.seed is None


def test_independent_samples_requests() -> None:
    reqs = get_method("independent_samples").requests(ITEM, MSGS, CFG, caps=API)
    assert [r.sample_index for r in reqs] == [0, 1, 2, 3] and [r.seed for r in reqs] == [5, 6, 7, 8]
    assert len(set(reqs)) == 4 and all(r.temperature == 1.0 and r.max_tokens <= 16 for r in reqs)
    unseeded = get_method("independent_samples").requests(ITEM, MSGS, MethodConfig(seed=None, n_samples=2))
    assert [r.seed for r in unseeded] == [None, None] and len(set(unseeded)) == 2
    with pytest.raises(ValueError, match="n_samples"):
        get_method("independent_samples").requests(ITEM, MSGS, MethodConfig(n_samples=0))


def test_option_likelihood_request() -> None:
    (req,) = get_method("option_likelihood").requests(ITEM, MSGS, CFG, caps=LOCAL)
    assert req.continuations == ("No", "Refused", "Yes") and req.temperature is None and req.seed is None


# ---- parsing ----------------------------------------------------------------------------------------------------
def test_logprobs_parse_sums_tokenizations_and_keeps_sampled_text() -> None:
    top = ((" A", LOG(0.4)), ("A", LOG(0.2)), ("C", LOG(0.2)), ("Sure", LOG(0.1)))
    parsed = get_method("model_logprobs").parse(ITEM, [Completion(text="A", top_logprobs=top)])
    assert parsed.parse_ok and probs(parsed) == [0.75, 0.0, 0.25] and parsed.response == "A"
    assert dict(parsed.extra) == {"covered_mass": 0.8, "missing_letters": "B"}


def test_logprobs_parse_failures() -> None:
    none = get_method("model_logprobs").parse(ITEM, [Completion(text="Sure", top_logprobs=(("Sure", 0.0),))])
    assert not none.parse_ok and none.dist is None and none.response == "Sure"
    assert get_method("model_logprobs").parse(ITEM, []).reason == "expected 1 completion, got 0"


def test_sequence_parse() -> None:
    text = "Answer: " + " ".join("A" * 15 + "C" * 12 + "B" * 3)
    parsed = get_method("sequence").parse(ITEM, [Completion(text=text)])
    assert probs(parsed) == [0.5, 0.1, 0.4] and parsed.reason == "" and parsed.response == text
    short = get_method("sequence").parse(ITEM, [Completion(text="A C C D")])
    assert short.parse_ok and probs(short) == [0.3333, 0.0, 0.6667]
    assert short.reason == "too short: 3 of 30 answers; 1 invalid letters ignored"
    refusal = get_method("sequence").parse(ITEM, [Completion(text="I can't simulate people.")])
    assert not refusal.parse_ok and refusal.dist is None and refusal.response == "I can't simulate people."


def test_verbalize_parse() -> None:
    parsed = get_method("express_distribution").parse(ITEM, [Completion(text='{"A": 60, "B": 10, "C": 30}')])
    assert probs(parsed) == [0.6, 0.1, 0.3] and parsed.parse_ok
    fenced = get_method("express_distribution").parse(ITEM, [Completion(text="```json\n{'A': '50%', 'C': '50%'}\n```")])
    assert probs(fenced) == [0.5, 0.0, 0.5] and "missing letters B" in fenced.reason
    bad = get_method("express_distribution").parse(ITEM, [Completion(text="__import__('os').system('x')")])
    assert not bad.parse_ok and bad.dist is None and "__import__" in bad.response


def test_independent_samples_parse() -> None:
    texts = ["A", "Answer: C", "A. No", "I'd rather not say"]
    parsed = get_method("independent_samples").parse(ITEM, [Completion(text=t) for t in texts])
    assert probs(parsed) == [0.6667, 0.0, 0.3333] and parsed.reason == "1 of 4 samples without an answer"
    assert dict(parsed.extra) == {"n_samples": 4.0, "n_valid": 3.0}
    assert not get_method("independent_samples").parse(ITEM, [Completion(text="no")]).parse_ok
    assert not get_method("independent_samples").parse(ITEM, []).parse_ok


def test_option_likelihood_parse() -> None:
    scores = (LOG(0.2), LOG(0.2), LOG(0.6))
    parsed = get_method("option_likelihood").parse(ITEM, [Completion(continuation_logprobs=scores)])
    assert probs(parsed) == [0.2, 0.2, 0.6]
    wrong = get_method("option_likelihood").parse(ITEM, [Completion(continuation_logprobs=(0.0,))])
    assert not wrong.parse_ok and "expected 3 finite option scores" in wrong.reason


# Golden sequence replies: (reply, letters, answers counted, outcome). Letters inside prose are no answers; only
# letters standing as list items, in a run of answer tokens, count (distalign.answers).
SEQUENCE_GOLDEN = [
    ("A 30-option letter separated by spaces.", "ABCD", "", "failure: the article A is prose"),
    ("A. Some", "ABCD", "", "failure: one letter before a word is prose"),
    ("I think A", "ABCD", "A", "one answer: a lone letter ending the reply"),
    ("I think A is right", "ABCD", "", "failure: A is followed by prose"),
    ("A list: A B, C", "ABC", "ABC", "the leading article is dropped, the list counts"),
    ("Answer: A B C D and so on", "ABCD", "ABCD", "a run followed by prose still counts"),
    ("Here are 30 answers:\n1. B\n2. A\n3. B", "AB", "BAB", "numbered items form one run"),
    ("Hereare30answers:ABBA", "ABCD", "ABBA", "stored replies without spaces"),
    ("'B''A''A''C'", "ABCD", "BAAC", "quoted letters"),
    ('{"answers": ["A", "B"]}', "AB", "AB", "the JSON form of Seq-S"),
]


@pytest.mark.parametrize(("text", "letters", "answers", "outcome"), SEQUENCE_GOLDEN)
def test_sequence_golden_replies(text: str, letters: str, answers: str, outcome: str) -> None:
    parsed = parse_sequence(text, letters)
    assert parsed.parse_ok == bool(answers), outcome
    if answers:
        assert parsed.dist is not None and dict(parsed.extra)["n_answers"] == len(answers), outcome
        assert list(parsed.dist.probs) == [answers.count(L) / len(answers) for L in letters], outcome
    else:
        assert parsed.reason == "no answer letters in the response", outcome
