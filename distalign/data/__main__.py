"""CLI of the data step (docs/original.md §2): ``python -m distalign.data fetch|check``.

    python -m distalign.data fetch [--source DIR_OR_URL] [--dest ROOT] [--no-results] [--quiet]
    python -m distalign.data check [--data_dir ROOT]

Exit codes: 0 success; 1 some file failed (fetch) or is missing/corrupt (check); 2 the source cannot be
reached (one message says what to do).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence

from distalign.data.check import check
from distalign.data.fetch import REPO_ROOT, SourceUnavailable, fetch, resolve_source
from distalign.data.manifest import load_manifest
from distalign.files import DataError


def print_progress(message: str) -> None:
    """Progress lines go to stderr so stdout keeps only the summary."""
    print(message, file=sys.stderr, flush=True)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(prog="python -m distalign.data", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    f = sub.add_parser("fetch", help="fetch and verify the benchmark data")
    f.add_argument(
        "--source",
        help="folder or base URL laid out like the release "
        "(default: $DISTALIGN_DATA_SOURCE, else the upstream addresses)",
    )
    f.add_argument("--dest", default=str(REPO_ROOT), help="data root (default: the repository root)")
    f.add_argument(
        "--no-results",
        action="store_true",
        help="skip the released model generations results/<dataset>/** (human annotations are kept)",
    )
    f.add_argument("--quiet", action="store_true", help="print only the summary")
    c = sub.add_parser("check", help="validate the fetched data; print one JSON report")
    c.add_argument("--data_dir", default=str(REPO_ROOT), help="data root (default: the repository root)")
    return parser.parse_args(argv)


def run_fetch(args: argparse.Namespace) -> int:
    """Fetch; print failures and the summary; return the exit code."""
    source = resolve_source(args.source)
    progress = None if args.quiet else print_progress
    if progress:
        progress(f"fetching into {args.dest} from {source or 'the upstream addresses'}")
    start = time.monotonic()
    summary = fetch(load_manifest(), source, args.dest, no_results=args.no_results, progress=progress)
    for message in summary.failed:
        print(f"error: {message}", file=sys.stderr)
    print(f"{summary.line()} ({time.monotonic() - start:.1f}s)")
    return 1 if summary.failed else 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    args = parse_args(argv)
    try:
        if args.command == "fetch":
            return run_fetch(args)
        report, ok = check(load_manifest(), args.data_dir)
        print(json.dumps(report, indent=2))
        return 0 if ok else 1
    except SourceUnavailable as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except DataError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
