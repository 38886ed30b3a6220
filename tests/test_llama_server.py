"""A real, independently written OpenAI-compatible server: llama.cpp's (llama-cpp-python 0.3.36) serving the built-in
model's own GGUF, driven by ``lm_steering.py`` through the ``openai`` backend.

Shows: Log-p from the server's ``top_logprobs`` agrees with the in-process ``local/smollm2-135m-instruct`` (same
weights); V, Seq, V-S and Seq-S run through the server, the structured ones without a parse failure (V-S through
``response_format`` in llama-cpp-python's ``json_object`` spelling, Seq-S through the ``grammar`` field with the
regex translated to GBNF, and through the JSON schema form); the translated grammars pass llama.cpp's own parser; a
rerun sends nothing; the server killed mid-run gives recorded failures and exit 3, and the rerun after a restart
completes with nothing lost or answered twice; a ``--base_url`` where nothing listens fails fast with one line.

The server is built once per machine by ``scripts/llama_server.sh`` (outside the repository; about 8 minutes the
first time, seconds after) and serves one request at a time, with one thread (robust on a busy machine).
Run: ``.venv/bin/python -m pytest tests/test_llama_server.py``.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from statistics import median
from typing import Any

import httpx
import pytest

from distalign.backends._gbnf import regex_to_gbnf
from distalign.expression.sequence_structured import answers_regex
from distalign.results import read_results, scan
from distalign.types import LETTERS

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "llama_server.sh"
pytestmark = [pytest.mark.slow, pytest.mark.data, pytest.mark.timeout(1800)]
SERVER_ARGS = ("--backend_arg", "json_schema_format=json_object", "--backend_arg", "regex_field=grammar")
ONE = ("--dataset", "opinionqa", "--task", "1", "--demographic_groups", "Democrat")


def tool(command: str) -> str:
    """``scripts/llama_server.sh build|python|gguf`` (the build is cached outside the repository)."""
    done = subprocess.run(["bash", str(SCRIPT), command], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip()


class Server:
    """One llama.cpp server process on a loopback port; its access log counts the answered requests."""

    def __init__(self, tmp: Path) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url, self.tmp, self.proc, self.answered = f"http://127.0.0.1:{self.port}/v1", tmp, None, 0
        self.log = tmp / "server.log"

    def start(self) -> None:
        self.answered += self.count()
        env = {**os.environ, "LLAMA_SERVER_THREADS": os.environ.get("LLAMA_SERVER_THREADS", "1")}
        with open(self.log, "w") as out:
            cmd = ["bash", str(SCRIPT), "serve", str(self.port)]
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()[-3000:]
            try:
                if httpx.get(f"{self.url}/models", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.5)
        raise AssertionError(f"llama.cpp server not ready: {self.log.read_text()[-3000:]}")

    def count(self) -> int:
        """Chat completions answered (HTTP 200) by the current process."""
        return self.log.read_text().count('"POST /v1/chat/completions HTTP/1.1" 200') if self.log.exists() else 0

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tool("build")
    srv = Server(tmp_path_factory.mktemp("llama"))
    srv.start()
    yield srv
    srv.kill()


def generate(out: Path, *args: str, check: int | None = 0) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, str(REPO / "lm_steering.py"), "--output_dir", str(out), "--no_progress", *args]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, check=False)
    assert check is None or done.returncode == check, done.stdout + done.stderr
    return done


def records(out: Path, output_type: str = "") -> dict[str, dict[str, Any]]:
    found = {}
    for key, path in scan(out):
        if not output_type or key.output_type == output_type:
            found.update(
                {f"{key.output_type}/{key.model}/{key.demographic}/{q}": r for q, r in read_results(path).items()}
            )
    return found


def test_translated_grammars_pass_llama_cpp_parser() -> None:
    """Every Seq-S grammar (2-26 options) and harder patterns parse in llama.cpp: none would crash the server."""
    patterns = [answers_regex(LETTERS[:k]) for k in range(2, 27)]
    patterns += [r"(?:yes|no)-\d{1,3}\.?", r"[^\]a-c-]+[\t\n]", r'"\\"(a|)b*?']
    grammars = json.dumps([regex_to_gbnf(p) for p in patterns])
    cmd = [tool("python"), str(REPO / "tests" / "llama_grammar_check.py"), tool("gguf")]
    done = subprocess.run(cmd, input=grammars, capture_output=True, text=True, check=False)
    assert done.stdout.split() == ["ok"] * len(patterns), done.stderr[-2000:]


def test_logprobs_agree_with_the_in_process_model(server: Server, tmp_path: Path) -> None:
    grid = (*ONE, "--output_type", "model_logprobs", "--limit", "4")
    generate(tmp_path, *grid, "--models", "openai/smollm2", "--base_url", server.url, "--concurrency", "1")
    generate(tmp_path, *grid, "--models", "local/smollm2-135m-instruct")
    got = records(tmp_path)
    tvs = []
    for key, rec in got.items():
        if "/openai__smollm2/" in key:
            local = got[key.replace("openai__smollm2", "local__smollm2-135m-instruct")]["avg_actual_results"]
            tvs.append(0.5 * sum(abs(p - local[k]) for k, p in rec["avg_actual_results"].items()))
    assert len(tvs) == 4 and median(tvs) <= 0.05, tvs


def test_free_and_structured_methods_through_the_server(server: Server, tmp_path: Path) -> None:
    methods = ("express_distribution", "sequence", "express_distribution_structured", "sequence_structured")
    grid = (*ONE, "--limit", "2", "--max_tokens", "32", "--models", "openai/smollm2", "--base_url", server.url)
    free = tmp_path / "free"
    generate(free, *grid, *SERVER_ARGS, "--output_type", *methods)
    got = records(free)
    assert len(got) == 8 and {k.split("/")[0] for k in got} == set(methods)
    for key, rec in got.items():
        if "structured" in key:
            assert rec["parse_ok"] and rec["constraint"] == ("regex" if "sequence" in key else "json_schema"), rec
    before = server.count()
    again = generate(free, *grid, *SERVER_ARGS, "--output_type", *methods)
    assert "0 sent, 0 cached, 0 failed" in again.stdout and "8 already done" in again.stdout
    assert server.count() == before  # the rerun asked the server nothing
    schema_only = ("--backend_arg", "json_schema_format=json_object", "--output_type", "sequence_structured")
    generate(tmp_path / "json", *grid, *schema_only, "--limit", "1")  # no regex field: the JSON schema form
    got = records(tmp_path / "json")
    assert len(got) == 1 and all(r["parse_ok"] and r["constraint"] == "json_schema" for r in got.values()), got


def test_server_killed_mid_run_then_rerun(server: Server, tmp_path: Path) -> None:
    grid = ("--dataset", "opinionqa", "--task", "1", "--demographic_groups", "POLPARTY", "--limit", "2")
    args = (*grid, "--output_type", "express_distribution_structured", "--models", "openai/smollm2", *SERVER_ARGS)
    args = (*args, "--base_url", server.url, "--concurrency", "1", "--max_retries", "1", "--timeout", "60")
    server.kill()
    server.start()
    cmd = [sys.executable, str(REPO / "lm_steering.py"), "--output_dir", str(tmp_path), "--no_progress", *args]
    run = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
    deadline = time.monotonic() + 600
    while server.count() < 1 and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    server.kill()
    out, err = run.communicate(timeout=300)
    first = server.count()
    assert run.returncode == 3 and 1 <= first < 4, out + err
    assert f"error: {4 - first} of 4 requests sent failed permanently (rerun to retry them); first: " in err
    assert "connection failed" in err and len(records(tmp_path)) == first  # failures recorded, nothing stored
    failed = [json.loads(line) for line in (tmp_path / "logs/openai__smollm2.jsonl").read_text().splitlines()]
    assert sum(not r["ok"] and "connection failed" in r["error"] for r in failed) == 4 - first
    server.start()
    again = generate(tmp_path, *args)
    assert f"{4 - first} sent, 0 cached, 0 failed" in again.stdout and f"{first} already done" in again.stdout
    assert server.count() == 4 - first and len(records(tmp_path)) == 4  # nothing lost, nothing answered twice
    assert all(r["parse_ok"] for r in records(tmp_path).values())


def test_dead_base_url_fails_fast(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # free once closed: nothing listens there
    start = time.monotonic()
    done = generate(tmp_path, *ONE, "--models", "openai/smollm2", "--base_url", f"http://127.0.0.1:{port}/v1", check=1)
    assert time.monotonic() - start < 30 and done.stderr.count("\n") == 1
    assert done.stderr.startswith("error: 1 of 1 models could not start; first: openai/smollm2: nothing listens at")
