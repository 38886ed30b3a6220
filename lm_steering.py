"""Generate model opinion distributions (docs/original.md §1, stage 1): the original CLI, backed by distalign.generate.

Example (no API key, instant)::

    python lm_steering.py --dataset opinionqa --task 1 3 --models fake/oracle --output_type model_logprobs --limit 5
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from distalign.backends import BackendError, BackendOptions
from distalign.cli import POSITIVE, SEED, add_output_dir, float_range, int_at_least
from distalign.datasets import DATASETS
from distalign.engine.cache import CacheError
from distalign.expression import METHODS
from distalign.generate import RunConfig, dry_run, format_dry_run, key_values, run
from distalign.generate.report import exit_status
from distalign.names import PAPER_GENERATED, TASK3_TYPES, TASK_STEERING
from distalign.redact import redact

REPO = Path(__file__).resolve().parent


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line (original flags kept; several datasets/output types allowed)."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    a = p.add_argument
    a("--dataset", nargs="+", choices=list(DATASETS), default=list(DATASETS), help="default: every dataset")
    a(
        "--task",
        nargs="+",
        type=int,
        choices=sorted(TASK_STEERING),
        default=[1],
        help=", ".join(f"{n} {name}" for n, name in TASK_STEERING.items()),
    )
    a("--task3_type", choices=TASK3_TYPES, default="easy_hard")
    a("--demographic_groups", nargs="+", default=None, help="default: the paper's (POLPARTY SEX RACE / 0 1 2)")
    a("--all_demographics", action="store_true", help="every demographic of the groups, not only the paper's")
    a("--models", nargs="+", required=True, help="provider/model names or paper keys (gpt-4, anthropic_opus, ...)")
    a("--output_type", nargs="+", choices=sorted(METHODS), default=list(PAPER_GENERATED))
    add_output_dir(p, Path("results"), "results root: result files, logs/, .cache/", "--results_dir", type=Path)
    a("--data_dir", type=Path, default=REPO)
    a("--prompts_dir", type=Path, default=REPO / "inputs")
    a("--limit", type=POSITIVE, default=None, help="only the first N questions of each dataset (smoke runs)")
    a("--seed", type=SEED, default=0)
    a("--concurrency", type=POSITIVE, default=16, help="requests in flight per model (at least --batch_size)")
    a("--max_retries", type=int_at_least(0), default=5, help="retries of a transient error (429, 5xx, timeout)")
    a("--timeout", type=float_range(0.0, low_open=True), default=120.0, help="seconds per HTTP request attempt")
    a("--cache_path", type=Path, default=None, help="default: <output_dir>/.cache/responses.sqlite")
    a("--no_cache", action="store_true")
    a("--dry_run", action="store_true", help="count requests, estimate tokens and cost; send nothing")
    a("--ficticious_group_ablation", action="store_true")
    a("--shuffled_incontext_labels", action="store_true")
    a("--n_samples", type=POSITIVE, default=30, help="samples per prompt for independent_samples")
    a("--temperature", type=float_range(0.0), default=1.0)
    a("--max_tokens", type=POSITIVE, default=256, help="generation budget of sequence / express_distribution replies")
    a("--no_progress", action="store_true")
    a("--overwrite", action="store_true", help="replace stored records made with other settings (else: refused)")
    add_backend_options(p)
    return p.parse_args(argv)


def add_backend_options(p: argparse.ArgumentParser) -> None:
    """The "backend options" group: server address, batch size, device, dtype, backend-specific options."""
    b = p.add_argument_group("backend options").add_argument
    b("--base_url", default=None, help="OpenAI-compatible server (vLLM, Ollama, ...)")
    b("--batch_size", type=POSITIVE, default=16, help="rows per forward pass and decoding together (local models)")
    b("--device", default="auto")
    b("--dtype", default="auto")
    b("--tensor_parallel_size", type=POSITIVE, default=1)
    b("--backend_arg", action="append", default=[], metavar="KEY=VALUE", help="backend-specific option (repeatable)")
    b("--batch_api", action="store_true", help="send pending requests through the provider's batch API first")


def config(args: argparse.Namespace) -> RunConfig:
    """The run configuration of parsed arguments."""
    options = BackendOptions(
        base_url=args.base_url,
        timeout=args.timeout,
        batch_size=args.batch_size,
        device=args.device,
        dtype=args.dtype,
        tensor_parallel_size=args.tensor_parallel_size,
        extra=key_values(args.backend_arg),
    )
    cache = None if args.no_cache else (args.cache_path or args.output_dir / ".cache" / "responses.sqlite")
    return RunConfig(
        datasets=tuple(dict.fromkeys(args.dataset)),
        tasks=tuple(dict.fromkeys(args.task)),
        models=tuple(args.models),
        output_types=tuple(dict.fromkeys(args.output_type)),
        task3_type=args.task3_type,
        groups=tuple(args.demographic_groups) if args.demographic_groups else None,
        all_demographics=args.all_demographics,
        results_dir=args.output_dir,
        data_dir=args.data_dir,
        prompts_dir=args.prompts_dir,
        limit=args.limit,
        seed=args.seed,
        concurrency=args.concurrency,
        max_retries=args.max_retries,
        timeout=args.timeout,
        cache_path=cache,
        ficticious_group=args.ficticious_group_ablation,
        shuffled_labels=args.shuffled_incontext_labels,
        n_samples=args.n_samples,
        temperature=args.temperature,
        max_tokens=args.max_tokens,
        batch_api=args.batch_api,
        backend_options=options,
        progress=not args.no_progress,
        overwrite=args.overwrite,
    )


def main(argv: list[str] | None = None) -> int:
    """Run (or dry-run) a generation; the exit code says what happened (:mod:`distalign.generate.report`).

    0 everything asked for is done; 1 a model could not start; 2 bad arguments, configuration or I/O (one clear
    line); 3 some requests failed permanently; 4 every request sent failed. A non-zero code ends with one line
    naming the count and the first reason.
    """
    args = parse_args(argv)
    try:
        cfg = config(args)
        if args.dry_run:
            print(format_dry_run(dry_run(cfg)))
            return 0
        code, line = exit_status(run(cfg))
        if code:
            print(f"error: {redact(line)}", file=sys.stderr)
        return code
    except (ValueError, CacheError, BackendError, RuntimeError) as e:
        print(f"error: {redact(str(e))}", file=sys.stderr)
        return 2
    except OSError as e:  # a read-only or full results folder: finished questions are saved, nothing half-written
        where = f"{e.filename}: " if e.filename else ""
        print(f"error: cannot write {where}{e.strerror or e} (is the folder writable, the disk full?)", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: finished questions are saved; run the same command again to continue", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
