"""Free vs structured decoding: parse-failure rate and generation time of V, Seq, V-S and Seq-S for one model.

Runs ``lm_steering.py`` once per method on the same grid (the main job's by default: every dataset, tasks 0 1 3,
``--limit 2``, ``--max_tokens 128``), each in a fresh results folder with no response cache, and prints per method
the requests, parse failures (count and rate), output tokens and wall time, then the structured/free ratios.
A method the model cannot run (no constraint form declared) is shown as n/a.

    python bench/bench_structured.py                                   # the built-in model, in process
    python bench/bench_structured.py --server llama                    # its GGUF through llama.cpp's server
    python bench/bench_structured.py --models openai/x --base_url URL --backend_arg regex_field=structured_outputs

``--server llama`` starts ``scripts/llama_server.sh serve`` on a free loopback port (one thread unless
``LLAMA_SERVER_THREADS`` says otherwise) and points ``openai/smollm2`` at it with llama.cpp's spellings.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from distalign.results import read_results, scan  # noqa: E402

PAIRS = (("express_distribution", "express_distribution_structured"), ("sequence", "sequence_structured"))
LLAMA_ARGS = ("--backend_arg", "json_schema_format=json_object", "--backend_arg", "regex_field=grammar")


def run_method(method: str, out: Path, args: argparse.Namespace, extra: list[str]) -> dict[str, float | str]:
    """One ``lm_steering.py`` run of ``method``: wall time, requests, output tokens, parse failures."""
    cmd = [sys.executable, str(REPO / "lm_steering.py"), "--output_type", method, "--output_dir", str(out)]
    cmd += ["--models", args.models, "--task", *args.tasks, "--limit", str(args.limit), "--no_cache", "--no_progress"]
    cmd += ["--max_tokens", str(args.max_tokens), "--data_dir", str(args.data_dir), *extra]
    cmd += ["--dataset", *args.datasets] if args.datasets else []
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, check=False)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{method}: exit {done.returncode}: {done.stderr[-2000:]}")
    if " n/a: " in done.stdout:
        return {"method": method, "status": "n/a"}
    recs = [r for _, path in scan(out) for r in read_results(path).values()]
    tokens = re.search(r"tokens: \d+ in, (\d+) out", done.stdout)
    fails = sum(not r.get("parse_ok") for r in recs)
    return {
        "method": method,
        "status": "ok",
        "requests": len(recs),
        "parse_fail": fails,
        "rate": fails / len(recs) if recs else float("nan"),
        "out_tokens": int(tokens.group(1)) if tokens else 0,
        "wall_s": wall,
    }


def llama_server() -> tuple[subprocess.Popen[bytes], str]:
    """Start llama.cpp's server on a free port; its process and base URL once it answers."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "LLAMA_SERVER_THREADS": os.environ.get("LLAMA_SERVER_THREADS", "1")}
    cmd = ["bash", str(REPO / "scripts" / "llama_server.sh"), "serve", str(port)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, start_new_session=True)
    url = f"http://127.0.0.1:{port}/v1"
    for _ in range(600):
        try:
            if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGKILL)
    raise SystemExit("llama.cpp server did not start (bash scripts/llama_server.sh build)")


def table(rows: list[dict[str, float | str]]) -> str:
    lines = ["| method | requests | parse failures | output tokens | wall s | s/request |", "|---|--:|--:|--:|--:|--:|"]
    for r in rows:
        if r["status"] != "ok":
            lines.append(f"| {r['method']} | n/a | | | | |")
            continue
        n, wall = float(r["requests"]), float(r["wall_s"])
        rate = f"{r['parse_fail']} ({100 * float(r['rate']):.1f} %)"
        lines.append(f"| {r['method']} | {n:.0f} | {rate} | {r['out_tokens']} | {wall:.0f} | {wall / n:.2f} |")
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--models", default="local/smollm2-135m-instruct")
    p.add_argument("--server", choices=["llama"], help="serve the built-in GGUF with llama.cpp and use it")
    p.add_argument("--base_url")
    p.add_argument("--backend_arg", action="append", default=[])
    p.add_argument("--datasets", nargs="+", default=None, help="default: every dataset")
    p.add_argument("--tasks", nargs="+", default=["0", "1", "3"])
    p.add_argument("--limit", type=int, default=2)
    p.add_argument("--max_tokens", type=int, default=128)
    p.add_argument("--data_dir", type=Path, default=REPO)
    p.add_argument("--json", type=Path, help="also write the rows as JSON")
    args = p.parse_args()
    extra = [a for kv in args.backend_arg for a in ("--backend_arg", kv)]
    proc = None
    if args.server == "llama":
        proc, args.base_url = llama_server()
        args.models, extra = "openai/smollm2", [*extra, *LLAMA_ARGS, "--concurrency", "1"]
    extra += ["--base_url", args.base_url] if args.base_url else []
    rows = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for free, structured in PAIRS:
                rows += [run_method(m, Path(tmp) / m, args, extra) for m in (free, structured)]
    finally:
        if proc is not None:
            os.killpg(proc.pid, signal.SIGKILL)
    print(f"{args.models}{' via llama.cpp' if args.server else ''}: limit {args.limit}, tasks {' '.join(args.tasks)}")
    print(table(rows))
    for (free, structured), (a, b) in zip(PAIRS, zip(rows[::2], rows[1::2], strict=True), strict=True):
        if a["status"] == b["status"] == "ok":
            print(f"{structured} / {free}: time x{float(b['wall_s']) / float(a['wall_s']):.2f}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
