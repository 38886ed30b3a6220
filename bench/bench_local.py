"""The built-in model's throughput, side by side in one run: this code, an older commit, and llama.cpp's server.

Two measurements on the built-in ``local/smollm2-135m-instruct``, each in its own subprocess (a fresh process per
figure, so one measurement's memory or threads never slow the next):

* **Log-p**: N persona-style multiple-choice prompts of ~380 tokens (a group's instructions and few-shot examples,
  then the question), ``model_logprobs`` requests (exact letter probabilities), sent concurrently: prompts/s.
* **free text**: G prompts asking for a short explanation, sampled at temperature 1 (seeded) up to
  ``--max_tokens``, sent concurrently: generated tokens/s (replies end at the end-of-sequence token, so their
  lengths differ, as in a real run).

Targets: ``after`` (this checkout), ``before`` (``--before COMMIT``: a ``git worktree`` of that commit imported in
the subprocess), ``llama.cpp`` (``--llama``: ``scripts/llama_server.sh serve`` on a loopback port, the same GGUF,
through the ``openai`` backend). Each figure is printed with its wall and CPU seconds (CPU time is the steadier
figure on a shared machine), then one table with the ratios.

    python bench/bench_local.py --before baadd0a --llama            # the full comparison (~10 min on 2 cores)
    python bench/bench_local.py --quick                             # a small run of this checkout alone
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from bench_prompts import free_text, persona_prompts

REPO = Path(__file__).resolve().parent.parent
MODEL = "local/smollm2-135m-instruct"


async def _timed(backend: object, requests: list) -> tuple[list, float, float]:
    start, cpu = time.perf_counter(), time.process_time()
    out = await asyncio.gather(*(backend.complete(r) for r in requests))  # type: ignore[attr-defined]
    return list(out), time.perf_counter() - start, time.process_time() - cpu


async def measure(kind: str, model: str, n: int, batch: int, max_tokens: int, dtype: str, base_url: str) -> dict:
    """One figure in this process: load, warm up, time ``n`` concurrent requests of ``kind``."""
    from distalign.backends import BackendOptions, get_backend

    options = BackendOptions(batch_size=batch, dtype=dtype, base_url=base_url or None, timeout=600)
    backend = get_backend(model, options)
    requests = persona_prompts(n) if kind == "logp" else free_text(n, max_tokens)
    await _timed(backend, requests[:1])  # warm-up: letter token table, first allocations
    out, wall, cpu = await _timed(backend, requests)
    await backend.aclose()
    tokens = sum(c.output_tokens for c in out)
    count = n if kind == "logp" else tokens
    return {"identity": backend.cache_identity(), "wall": wall, "cpu": cpu, "count": count, "rate": count / wall}


def proc_cpu(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far, from ``/proc`` (0 when unreadable)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_worker(kind: str, target: str, args: argparse.Namespace, server: tuple[int, int] = (0, 0)) -> dict:
    """:func:`measure` in a subprocess; ``target`` is ``after``, ``before`` or ``llama.cpp`` (``server``: its
    port and process id, whose CPU time is added to the client's)."""
    port, pid = server
    server_cpu = proc_cpu(pid) if pid else 0.0
    env = {**os.environ, "OPENAI_API_KEY": os.environ.get("OPENAI_API_KEY", "sk-" + "local")}
    if args.threads:
        env["OMP_NUM_THREADS"] = str(args.threads)
    cwd = REPO
    if target == "before":
        cwd = before_tree(args.before)
        env["PYTHONPATH"] = f"{cwd}{os.pathsep}{REPO / 'bench'}"
    model = "openai/smollm2" if target == "llama.cpp" else MODEL
    url = f"http://127.0.0.1:{port}/v1" if target == "llama.cpp" else ""
    n = args.n if kind == "logp" else args.gen
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", kind, model, str(n), str(args.batch_size)]
    cmd += [str(args.max_tokens), args.dtype, url]
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=3600)
    if done.returncode != 0:
        raise SystemExit(f"{target} {kind} failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if pid:
        result["cpu"] += proc_cpu(pid) - server_cpu
    unit = "prompts/s" if kind == "logp" else "tokens/s"
    print(
        f"{kind:9} {target:9} {result['rate']:8.2f} {unit}  ({result['count']} in {result['wall']:.1f} s wall, "
        f"{result['cpu']:.1f} s CPU; {result['identity']})",
        flush=True,
    )
    return result


def before_tree(commit: str) -> Path:
    """A detached ``git worktree`` of ``commit`` (created once, reused)."""
    sha = subprocess.run(["git", "rev-parse", "--short", commit], cwd=REPO, capture_output=True, text=True, check=True)
    tree = Path(os.environ.get("TMPDIR", "/tmp")) / f"distalign-before-{sha.stdout.strip()}"
    if not (tree / "distalign").is_dir():
        subprocess.run(["git", "worktree", "add", "--detach", str(tree), commit], cwd=REPO, check=True)
    return tree


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def llama_server(threads: int) -> Iterator[tuple[int, int]]:
    """llama.cpp's OpenAI-compatible server on a free loopback port (``threads``: 0 for all cores), stopped after."""
    port = free_port()
    env = {**os.environ, **({"LLAMA_SERVER_THREADS": str(threads)} if threads else {})}
    log = open(Path(os.environ.get("TMPDIR", "/tmp")) / f"bench-llama-{port}.log", "w")  # noqa: SIM115
    server = subprocess.Popen(
        ["bash", str(REPO / "scripts/llama_server.sh"), "serve", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    try:
        deadline = time.monotonic() + 900  # a first call may build the server (minutes)
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=2).close()
                break
            if server.poll() is not None:
                raise SystemExit(f"llama.cpp server exited ({server.returncode}); see {log.name}")
            time.sleep(1)
        yield port, server.pid  # the script execs the server: this is its process
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def table(results: dict[tuple[str, str], dict]) -> str:
    """The markdown table of every figure and the ratios."""
    lines = [
        "| measure | before | after | llama.cpp | after / before | after / llama.cpp |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for kind, label in (("logp", "Log-p prompts/s"), ("gen", "free-text tokens/s")):
        got = {t: results.get((kind, t)) for t in ("before", "after", "llama.cpp")}
        cells = [f"{r['rate']:.2f} ({r['cpu']:.0f} s CPU)" if r else "—" for r in got.values()]
        after = got["after"]
        ratios = [
            f"{after['rate'] / got[t]['rate']:.2f}×" if after and got[t] else "—" for t in ("before", "llama.cpp")
        ]
        lines.append(f"| {label} | " + " | ".join(cells + ratios) + " |")
    return "\n".join(lines)


def main(args: argparse.Namespace) -> None:
    if args.quick:
        args.n, args.gen, args.max_tokens = min(args.n, 16), min(args.gen, 8), min(args.max_tokens, 48)
    targets = ["after"] + (["before"] if args.before else [])
    results: dict[tuple[str, str], dict] = {}
    for kind in ("logp", "gen"):
        for target in targets:
            results[(kind, target)] = run_worker(kind, target, args)
    if args.llama:
        with llama_server(args.threads) as server:
            for kind in ("logp", "gen"):
                results[(kind, "llama.cpp")] = run_worker(kind, "llama.cpp", args, server)
    print(f"\nLog-p: {args.n} prompts; free text: {args.gen} prompts, up to {args.max_tokens} tokens each; ")
    threads = args.threads or "torch default"
    print(f"batch_size {args.batch_size}, dtype {args.dtype}, threads {threads}; before = {args.before or '-'}\n")
    print(table(results))


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--n", type=int, default=32, help="Log-p prompts")
    parser.add_argument("--gen", type=int, default=32, help="free-text prompts")
    parser.add_argument("--max_tokens", type=int, default=128)
    parser.add_argument("--batch_size", type=int, default=16, help="the CLI's default")
    parser.add_argument("--dtype", default="auto", choices=["auto", "float32", "bfloat16"])
    parser.add_argument("--before", default="", help="a commit to compare with (run from a git worktree of it)")
    parser.add_argument("--llama", action="store_true", help="also llama.cpp's server on the same GGUF")
    parser.add_argument("--quick", action="store_true", help="a small run (16 Log-p prompts, 8 replies of 48 tokens)")
    parser.add_argument("--threads", type=int, default=0, help="OMP_NUM_THREADS of the workers (default: torch's)")
    return parser.parse_args(argv)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        kind, model, n, batch, max_tokens, dtype, url = (sys.argv[2:] + [""])[:7]
        print(json.dumps(asyncio.run(measure(kind, model, int(n), int(batch), int(max_tokens), dtype, url))))
    else:
        main(parse())
