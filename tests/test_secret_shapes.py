"""Secrets whatever their shape: a key in a variable of the user's choosing, credentials inside ``--base_url``.

* a key read from ``--backend_arg api_key_env=MY_TOKEN`` that looks like no key, echoed by the server in error
  bodies and in replies, never reaches the cache, result files, logs or anything printed;
* ``--base_url http://user:pass@host/v1`` is refused before anything is sent (HTTP clients would send Basic auth
  instead of the key), and so is an address without a scheme (``user:pass@host:9``); neither message shows the
  password.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from fakeserver_openai import FakeOpenAI
from generate_standins import write_tiny_oqa

from distalign.redact import checked_base_url

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
import lm_steering  # noqa: E402

TOKEN = "zq" + "Xv81-custom-token-7tplmW"  # no sk-/hf_ shape: only the variable's registration can mask it


def run(capfd: pytest.CaptureFixture[str], tmp_path: Path, *extra: str) -> tuple[int, str]:
    data = tmp_path / "data"
    if not data.exists():
        write_tiny_oqa(data)
    argv = ["--no_progress", "--models", "openai/gpt-4o-2024-08-06", "--dataset", "opinionqa", "--task", "1"]
    argv += ["--output_type", "sequence", "--limit", "2", "--data_dir", str(data), "--max_retries", "0"]
    code = lm_steering.main([*argv, "--results_dir", str(tmp_path / "results"), *extra])
    out = capfd.readouterr()
    return code, out.out + out.err


def test_a_key_in_a_custom_variable_is_masked_everywhere(capfd, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("MY_TOKEN", TOKEN)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with FakeOpenAI() as srv:
        srv.responder = lambda prompt, body: f"A B A A B C A A B A -- your key {TOKEN} works"  # a server echoing it
        srv.fail_next("401", "401")  # "Incorrect API key provided: <key>"
        flags = ["--base_url", srv.url + "/v1", "--backend_arg", "api_key_env=MY_TOKEN"]
        code, printed = run(capfd, tmp_path, *flags)
        assert srv.calls == 12 and any(h.get("authorization") == f"Bearer {TOKEN}" for h in srv.headers)
    assert "HTTP 401" in printed and "[redacted]" in printed and code in (0, 3)
    files = [p for p in (tmp_path / "results").rglob("*") if p.is_file()]
    assert any(p.suffix == ".jsonl" for p in files) and any(p.name == "responses.sqlite" for p in files)
    assert any(p.suffix == ".json" for p in files)
    assert not [p for p in files if TOKEN.encode() in p.read_bytes()] and TOKEN not in printed
    assert any(b"[redacted]" in p.read_bytes() for p in files if p.suffix == ".json")  # the echo was masked


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://alice:s3cr3t-pass@127.0.0.1:{port}/v1", "carries credentials"),
        ("http://s3cr3t-pass@127.0.0.1:{port}/v1", "carries credentials"),
        ("alice:s3cr3t-pass@127.0.0.1:{port}", "is not an address"),
        ("127.0.0.1:{port}/v1", "is not an address"),
    ],
)
def test_credentials_in_the_server_address_are_refused(capfd, tmp_path, monkeypatch, url: str, reason: str) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-" + "x" * 30)
    with FakeOpenAI() as srv:
        port = srv.url.rsplit(":", 1)[1]
        code, printed = run(capfd, tmp_path, "--base_url", url.format(port=port))
        assert srv.calls == 0 and not srv.headers  # nothing sent
    assert code == 2 and reason in printed and "s3cr3t" not in printed
    assert not list((tmp_path / "results").rglob("*.json*"))  # no result file, no log


def test_the_address_check_itself() -> None:
    assert checked_base_url("https://api.example.org/v1") == "https://api.example.org/v1"
    for bad in ("ftp://host/x", "http://", "http://host:99999/v1", "//host/v1"):
        with pytest.raises(ValueError, match="is not an address"):
            checked_base_url(bad)
    with pytest.raises(ValueError) as e:
        checked_base_url("https://u:hunter2@host", "ANTHROPIC_BASE_URL")
    assert "hunter2" not in str(e.value) and str(e.value).startswith("ANTHROPIC_BASE_URL 'https://***@host'")
