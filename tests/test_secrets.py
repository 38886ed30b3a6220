"""Secrets and participant IDs never leave the process.

* API keys: runs with fake keys in ``OPENAI_API_KEY`` / ``ANTHROPIC_API_KEY`` against loopback servers that echo
  the ``Authorization`` / ``x-api-key`` header back in every error body (401, 400, 429, 5xx) and, once, in a
  model reply; through retries, failures, the cache, the batch API and a rerun. Every file under the results
  folder and the cache folder (logs, result files, the SQLite cache and its WAL, batch state) and everything
  printed must be free of the key and of any 16-character piece of it. Keys come in three shapes: OpenAI-like,
  Anthropic-like, and one that looks like no key at all (only the environment-variable scrub can catch it).
* Participant privacy (needs the fetched data): the human baseline, the annotation loaders and the figure data
  loaders never produce a Prolific-like ID (24 hex digits) or an identifying column, and no fetched file holds one.
"""

from __future__ import annotations

import json
import os
import re
import string
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from fakeserver_anthropic import FakeAnthropic
from fakeserver_openai import FakeOpenAI
from fakeservers import FakeServer, _Handler
from generate_standins import write_tiny_oqa

from distalign.engine import batch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
import lm_steering  # noqa: E402

ALNUM = string.ascii_letters + string.digits


def random_key(prefix: str, seed: int) -> str:
    rng = np.random.default_rng(seed)
    return prefix + "".join(rng.choice(list(ALNUM), size=40))


def echoing(cls: type[FakeServer]) -> type[FakeServer]:
    """A fake server whose every error message repeats the credentials it was sent."""

    class Echo(cls):  # type: ignore[misc, valid-type]
        def _fault(self, h: _Handler, fault: str) -> bool:
            if not fault.isdigit():
                return super()._fault(h, fault)
            status = int(fault)
            sent = f"Authorization: {h.headers.get('Authorization', '')}; x-api-key: {h.headers.get('x-api-key', '')}"
            headers = {"Retry-After": "0.01"} if status == 429 else {}
            h.send(status, self.error_body(status, f"fake failure {status}; you sent {sent}"), headers=headers)
            return True

    return Echo


@dataclass(frozen=True)
class Provider:
    model: str
    server: type[FakeServer]
    env: str
    prefix: str
    url_suffix: str


PROVIDERS = {
    "openai": Provider("openai/gpt-4o-2024-08-06", FakeOpenAI, "OPENAI_API_KEY", "sk-test-", "/v1"),
    "anthropic": Provider("anthropic/claude-3-opus-20240229", FakeAnthropic, "ANTHROPIC_API_KEY", "sk-ant-test-", ""),
    "openai-plain-key": Provider("openai/gpt-4o-2024-08-06", FakeOpenAI, "OPENAI_API_KEY", "plain", "/v1"),
}


@pytest.fixture(params=list(PROVIDERS))
def setup(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Provider, str, FakeServer]]:
    p = PROVIDERS[request.param]
    key = random_key(p.prefix, seed=len(request.param))
    for var in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv(p.env, key)
    monkeypatch.setattr(batch, "Poll", FastPoll)  # batch status polled every few ms, not every 10 s
    with echoing(p.server)(retry_after=0.01) as srv:
        yield p, key, srv


@dataclass(frozen=True)
class FastPoll:
    first_s: float = 0.01
    factor: float = 1.5
    max_s: float = 0.05
    timeout_s: float | None = 30.0


def cli(
    capfd: pytest.CaptureFixture[str], p: Provider, srv: FakeServer, data: Path, results: Path, cache: Path, *extra: str
) -> str:
    url = ["--base_url", srv.url + p.url_suffix] if p.url_suffix else ["--backend_arg", f"base_url={srv.url}"]
    output = "model_logprobs" if p.model.startswith("openai") else "express_distribution"
    code = lm_steering.main(
        [
            "--models",
            p.model,
            *url,
            "--dataset",
            "opinionqa",
            "--task",
            "1",
            "--output_type",
            output,
            "--limit",
            "2",
            "--data_dir",
            str(data),
            "--results_dir",
            str(results),
            "--cache_path",
            str(cache),
            "--concurrency",
            "1",
            "--max_retries",
            "1",
            *extra,
        ]
    )
    out = capfd.readouterr()
    assert code in (0, 1, 2, 3, 4), out.err  # some runs inject failures (exit 3/4)
    return out.out + out.err


def leaks(key: str, text: bytes) -> list[str]:
    pieces = [key] + [key[i : i + 16] for i in range(0, len(key) - 15, 4)]
    return [piece for piece in pieces if piece.encode() in text]


def test_api_keys_never_written_or_printed(capfd, tmp_path: Path, setup) -> None:
    p, key, srv = setup
    data = tmp_path / "data"
    write_tiny_oqa(data)
    results, cache = tmp_path / "results", tmp_path / "cache" / "responses.sqlite"
    srv.responder = lambda prompt, body: f"{{'A': '50%', 'B': '50%'}} my key is {key}"  # a proxy echoing it
    srv.fail_next("401", "400", "503", "429", "500")
    printed = cli(capfd, p, srv, data, results, cache)
    assert "HTTP 401" in printed and "HTTP 400" in printed  # the failures were reported...
    srv.responder = lambda prompt, body: "{'A': '50%', 'B': '50%'}" if "dictionary" in prompt.lower() else "A"
    printed += cli(capfd, p, srv, data, results, cache, "--batch_api", "--backend_arg", "batch_api=true")  # the rest
    printed += cli(capfd, p, srv, data, results, cache, "--task", "0")
    printed += cli(capfd, p, srv, data, results, cache, "--dry_run")
    assert any(h.get("authorization", "").endswith(key) or h.get("x-api-key") == key for h in srv.headers)
    files = [f for root in (results, cache.parent) for f in root.rglob("*") if f.is_file()]
    assert any(f.suffix == ".jsonl" for f in files) and any(f.name.startswith("responses.sqlite") for f in files)
    assert any(".batch" in f.parts for f in files) and len(srv.batches) == 1
    found = {str(f): leaks(key, f.read_bytes()) for f in files}
    assert not {f: hit for f, hit in found.items() if hit}
    assert not leaks(key, printed.encode())
    log = [json.loads(line) for f in files if f.suffix == ".jsonl" for line in f.read_text().splitlines()]
    assert any("***" in (r.get("error") or "") or "[redacted]" in (r.get("error") or "") for r in log)


# --- participant privacy on the fetched data ------------------------------------------------------------------------
ROOT = Path(os.environ.get("DISTALIGN_DATA_DIR", REPO))
PROLIFIC = re.compile(rb"\b[0-9a-f]{24}\b")
DROPPED = [
    "IPAddress",
    "LocationLatitude",
    "LocationLongitude",
    "RecipientEmail",
    "RecipientFirstName",
    "RecipientLastName",
    "ExternalReference",
    "ExternalDataReference",
    "PROLIFIC_PID",
    "workerId",
    "ResponseId",
    "Q84",
    "Q143",
    "Prolific ID",
]
needs_data = pytest.mark.skipif(
    not (ROOT / "results/human_annotations").is_dir(), reason="needs the fetched data (python -m distalign.data fetch)"
)


def no_ids(text: str | bytes, where: str) -> None:
    raw = text.encode() if isinstance(text, str) else text
    assert not PROLIFIC.search(raw), f"{where}: a Prolific-like ID"
    header = raw.split(b"\n", 1)[0].decode("utf-8", "replace").lstrip("\ufeff")
    cols = {c.strip('"') for c in header.split(",")}
    assert not cols & set(DROPPED), f"{where}: identifying columns {cols & set(DROPPED)}"


@pytest.mark.data
@needs_data
@pytest.mark.parametrize("folder", ["results/human_annotations", "nytimes/individual_annotations"])
def test_fetched_human_study_files_hold_no_ids(folder: str) -> None:
    files = [path for path in sorted((ROOT / folder).iterdir()) if path.is_file()]
    assert files, f"nothing fetched in {folder}"
    for path in files:
        no_ids(path.read_bytes(), str(path))


@pytest.mark.data
@needs_data
def test_human_baseline_outputs_no_ids() -> None:
    from distalign.data.privacy import is_identifying
    from distalign.evaluation.base import Context
    from distalign.evaluation.human import SURVEYS, human_rows, read_survey
    from distalign.evaluation.leaderboards import eval_frame

    for mode in ("paper", "fixed"):
        ctx = Context(ROOT)
        rows = human_rows(mode, ROOT / "results", ROOT, ctx)
        assert rows and all(r.model == "human" for r in rows)
        no_ids(eval_frame(rows).to_csv(index=False), f"human rows ({mode})")
        no_ids(json.dumps(ctx.tally.records()), "tally")
    for globs in SURVEYS.values():
        df = read_survey([p for g in globs for p in sorted((ROOT / "results/human_annotations").glob(g))])
        assert len(df) and not [c for c in df.columns if is_identifying(str(c))]
        assert not [c for c in df.columns if df[c].dtype == object], "survey estimates are numbers"


@pytest.mark.data
@needs_data
def test_annotation_loaders_load_no_identifying_column() -> None:
    # their values are a subset of the files on disk, which test_fetched_human_study_files_hold_no_ids scans
    from distalign.data.privacy import is_identifying, read_annotation_csv, read_annotation_json

    for folder in ("results/human_annotations", "nytimes/individual_annotations"):
        for path in sorted((ROOT / folder).glob("*.csv")):
            columns = read_annotation_csv(path, nrows=3, dtype=str).columns
            assert not [c for c in columns if is_identifying(str(c))] and not set(columns) & set(DROPPED), path
    ids = ROOT / "nytimes/individual_annotations/NYTIMES_proportions_ID.json"
    if ids.exists():
        no_ids(json.dumps(read_annotation_json(ids)), str(ids))


@pytest.mark.data
@needs_data
def test_figure_loaders_output_no_ids() -> None:
    from distalign.figures import data as fig

    for name, df in (
        ("stereotype_table", fig.stereotype_table(ROOT / "results", ROOT)),
        ("book_gaps", fig.book_gaps(ROOT, n_boot=50)),
    ):
        assert len(df)
        no_ids(df.to_csv(index=False), name)
