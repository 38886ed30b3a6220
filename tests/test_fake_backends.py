"""Fake backends: each format parses back to the intended distribution; deterministic; failure injection."""

from __future__ import annotations

import asyncio
import json
import math

import pytest

from distalign.backends import BackendError, BackendOptions, TransientError, get_backend
from distalign.backends.fake import capabilities
from distalign.parsers import parse_logprobs, parse_option_scores, parse_samples, parse_sequence, parse_verbalized
from distalign.types import Message, Request

TRUTH = [0.1, 0.6, 0.3]
LETTERS = ("A", "B", "C")
PROMPT = (Message("user", "Question: ok?\nA. yes\nB. no\nC. maybe\nAnswer:"),)


def request(output_type: str, **kw) -> Request:
    meta = (("output_type", output_type), ("truth", json.dumps(TRUTH)), ("letters", "ABC"))
    fields = {
        "model_logprobs": dict(top_logprobs=20, max_tokens=1),
        "option_likelihood": dict(continuations=("yes", "no", "maybe")),
    }.get(output_type, {})
    return Request(PROMPT, **{"meta": meta, **fields, **kw})


def complete(model: str, r: Request, **extra):
    backend = get_backend(model, BackendOptions(extra=tuple((k, str(v)) for k, v in extra.items())))
    return asyncio.run(backend.complete(r))


def parse(ot: str, c):
    if ot == "model_logprobs":
        return parse_logprobs(c.top_logprobs, LETTERS)
    if ot == "option_likelihood":
        return parse_option_scores(c.continuation_logprobs, LETTERS)
    if ot == "express_distribution":
        return parse_verbalized(c.text, LETTERS)
    if ot == "sequence":
        return parse_sequence(c.text, LETTERS)
    return parse_samples([c.text], LETTERS)


def close(a, b, tol):
    return all(abs(x - y) <= tol for x, y in zip(a, b, strict=True))


def test_oracle_logprobs_and_option_scores_are_exact():
    c = complete("fake/oracle", request("model_logprobs"))
    assert close(parse_logprobs(c.top_logprobs, LETTERS).dist.probs, TRUTH, 1e-12) and c.text == "B"
    c = complete("fake/oracle", request("option_likelihood"))
    assert close(parse_option_scores(c.continuation_logprobs, LETTERS).dist.probs, TRUTH, 1e-9)


def test_oracle_verbalize_up_to_percent_rounding():
    c = complete("fake/oracle", request("express_distribution"))
    assert json.loads(c.text) == {"A": "10.0%", "B": "60.0%", "C": "30.0%"}
    assert close(parse_verbalized(c.text, LETTERS).dist.probs, TRUTH, 1e-3)


def test_oracle_sampling_formats_are_deterministic_draws():
    seq = complete("fake/oracle", request("sequence"))
    assert seq == complete("fake/oracle", request("sequence"))
    p = parse_sequence(seq.text, LETTERS)
    assert p.parse_ok and dict(p.extra)["n_answers"] == 30 and p.reason == ""
    samples = [complete("fake/oracle", request("independent_samples", sample_index=i)).text for i in range(200)]
    dist = parse_samples(samples, LETTERS).dist.probs
    assert close(dist, TRUTH, 0.1) and len(set(samples)) == 3


def test_oracle_zero_probabilities_stay_out_of_top_logprobs():
    r = request("model_logprobs", meta=(("truth", "[0.0, 1.0]"),))
    assert complete("fake/oracle", r).top_logprobs == (("B", 0.0),)


def test_uniform_in_every_format():
    for ot in ("model_logprobs", "option_likelihood", "express_distribution", "sequence"):
        parsed = parse(ot, complete("fake/uniform", request(ot)))
        assert close(parsed.dist.probs, [1 / 3] * 3, 0.2 if ot == "sequence" else 1e-3), ot


def test_uniform_finds_letters_in_the_prompt_without_meta():
    c = complete("fake/uniform", Request(PROMPT, top_logprobs=5))
    assert [t for t, _ in c.top_logprobs] == ["A", "B", "C"]
    assert all(math.isclose(math.exp(lp), 1 / 3) for _, lp in c.top_logprobs)


@pytest.mark.parametrize(
    "ot", ["model_logprobs", "option_likelihood", "express_distribution", "sequence", "independent_samples"]
)
def test_garbage_never_parses(ot):
    parsed = parse(ot, complete("fake/garbage", request(ot)))
    assert not parsed.parse_ok and parsed.dist is None


def test_failure_injection_and_call_log(tmp_path):
    log = tmp_path / "calls.jsonl"
    backend = get_backend(
        "fake/oracle", BackendOptions(extra=(("fail_first", "2"), ("retry_after", "1.5"), ("call_log", str(log))))
    )
    r = request("sequence")

    async def three():
        errors = []
        for _ in range(2):
            with pytest.raises(TransientError) as e:
                await backend.complete(r)
            errors.append(e.value.retry_after)
        return errors, await backend.complete(r)

    errors, ok = asyncio.run(three())
    assert errors == [1.5, 1.5] and ok.text
    lines = [json.loads(x) for x in log.read_text().splitlines()]
    assert len(lines) == 3 and len({x["key"] for x in lines}) == 1
    with pytest.raises(BackendError, match="permanent"):
        complete("fake/oracle", r, fail_always=1)


def test_fail_rate_is_seeded():
    def pattern(seed):
        backend = get_backend("fake/uniform", BackendOptions(extra=(("fail_rate", "0.5"), ("seed", str(seed)))))
        out = []
        for i in range(30):
            try:
                asyncio.run(backend.complete(request("sequence", sample_index=i)))
                out.append(1)
            except TransientError:
                out.append(0)
        return out

    assert pattern(3) == pattern(3) and 5 < sum(pattern(3)) < 25


def test_capabilities_and_names():
    caps = capabilities("oracle", BackendOptions())
    assert caps.logprobs and caps.max_top_logprobs == 20 and caps.option_scores and not caps.batch_api
    assert capabilities("oracle", BackendOptions(extra=(("batch_api", "1"),))).batch_api
    backend = get_backend("fake/garbage")
    assert backend.name == "fake/garbage" and backend.cache_identity() == "fake/garbage"
    with pytest.raises(ValueError, match="unknown fake model 'nope'; valid: fake/uniform, fake/oracle, fake/garbage"):
        get_backend("fake/nope")


def test_usage_is_reported():
    c = complete("fake/oracle", request("express_distribution"))
    assert c.model_id == "fake/oracle" and c.input_tokens == math.ceil(len(PROMPT[0].content) / 4) and c.output_tokens
