"""Response cache: keys, round trips, persistence, corrupt and locked files."""

from __future__ import annotations

import dataclasses
import math
import sqlite3

import pytest
from hypothesis import given
from hypothesis import strategies as st

from distalign.engine.cache import (
    CacheError,
    NullCache,
    ResponseCache,
    completion_from_json,
    completion_to_json,
    open_cache,
)
from distalign.types import Completion, Message, Request

REQ = Request((Message("system", "sys"), Message("user", "Question?\nA. x\nB. y\nAnswer:")), temperature=1.0, seed=0)


def test_key_covers_every_request_field_but_meta():
    k = ResponseCache.key("fake/oracle", REQ)
    assert len(k) == 64 and k == ResponseCache.key("fake/oracle", REQ)
    assert ResponseCache.key("fake/oracle", dataclasses.replace(REQ, meta=(("qid", "Q1"), ("truth", "[1]")))) == k
    variants = [
        dataclasses.replace(REQ, sample_index=1),
        dataclasses.replace(REQ, seed=1),
        dataclasses.replace(REQ, temperature=0.7),
        dataclasses.replace(REQ, temperature=None),
        dataclasses.replace(REQ, max_tokens=1),
        dataclasses.replace(REQ, top_logprobs=20),
        dataclasses.replace(REQ, letters=("A", "B")),
        dataclasses.replace(REQ, continuations=("x", "y")),
        dataclasses.replace(REQ, stop=("\n",)),
        dataclasses.replace(REQ, messages=(Message("user", "Question?\nA. x\nB. y\nAnswer:"),)),
        dataclasses.replace(REQ, messages=(Message("system", "sys"), Message("user", "other"))),
    ]
    keys = {ResponseCache.key("fake/oracle", r) for r in variants}
    assert len(keys) == len(variants) and k not in keys
    assert ResponseCache.key("openai/gpt-4o@http://localhost:8000/v1", REQ) != k


def test_samples_of_one_prompt_never_collide():
    keys = {ResponseCache.key("b", dataclasses.replace(REQ, sample_index=i)) for i in range(30)}
    assert len(keys) == 30


def test_put_get_persist_across_reopen(tmp_path):
    path = tmp_path / "sub" / "cache.sqlite"
    c = ResponseCache(path)
    comp = Completion(
        text="A",
        top_logprobs=(("A", -0.1), (" B", -2.3)),
        model_id="m",
        input_tokens=12,
        output_tokens=1,
        latency_s=0.5,
        finish_reason="stop",
    )
    key = c.key("b", REQ)
    assert c.get(key) is None
    c.put(key, comp)
    c.put(key, comp)  # idempotent
    assert c.get(key) == comp and len(c) == 1
    c.close()
    again = ResponseCache(path)
    assert again.get(key) == comp
    assert again._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    again.close()


def test_corrupt_file_gives_a_clear_error(tmp_path):
    path = tmp_path / "cache.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(CacheError, match=r"cache\.sqlite: file is not a database.*corrupt"):
        ResponseCache(path)


def test_malformed_entry_gives_a_clear_error(tmp_path):
    c = ResponseCache(tmp_path / "c.sqlite")
    c._db.execute("INSERT INTO responses VALUES ('k', '[1, 2')")
    with pytest.raises(CacheError, match="entry k is malformed"):
        c.get("k")
    c.close()


def test_locked_database_gives_a_clear_error_and_no_partial_write(tmp_path):
    path = tmp_path / "c.sqlite"
    c = ResponseCache(path, busy_timeout_ms=50)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    with pytest.raises(CacheError, match="locked.*another process"):
        c.put("k", Completion(text="A"))
    other.execute("ROLLBACK")
    other.close()
    assert c.get("k") is None
    c.put("k", Completion(text="A"))
    assert c.get("k") == Completion(text="A")
    c.close()


def test_null_cache_remembers_nothing():
    c = open_cache(None)
    assert isinstance(c, NullCache)
    c.put(c.key("b", REQ), Completion(text="A"))
    assert c.get(c.key("b", REQ)) is None and len(c) == 0
    c.close()


def test_non_finite_logprobs_survive():
    comp = Completion(top_logprobs=(("A", -math.inf),))
    assert completion_from_json(completion_to_json(comp)) == comp


@given(
    text=st.text(),
    tops=st.lists(st.tuples(st.text(max_size=5), st.floats(-50, 0)), max_size=5),
    conts=st.lists(st.floats(-50, 0), max_size=5),
    tokens=st.integers(0, 10**6),
)
def test_completion_round_trip(text, tops, conts, tokens):
    comp = Completion(text=text, top_logprobs=tuple(tops), continuation_logprobs=tuple(conts), input_tokens=tokens)
    assert completion_from_json(completion_to_json(comp)) == comp
