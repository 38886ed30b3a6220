#!/usr/bin/env bash
# The test command: set up .venv (idempotent), install Chromium for the report's browser tests when it is missing
# (scripts/install_browser.sh), fetch the benchmark data if a source is known, then lint (ruff check + ruff format
# --check), type-check (mypy) and run the test suite (pytest, doctests included).
#
# Usage: bash scripts/test.sh [pytest args...]
#        bash scripts/test.sh --fast [pytest args...]   the developer loop: no setup, fetch or mypy, and only the
#                                                        tests not marked slow or data (about a minute)
# Data source: $DISTALIGN_DATA_SOURCE, else ../shared/benchmark-data if it exists; without one, the
# tests that need the real data are skipped (they are marked `data`).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
py="$root/.venv/bin/python"
lint_paths=(distalign tests bench scripts/report_screenshots.py lm_steering.py lm_steering_eval.py temperature_scaling.py)

if [ "${1:-}" = "--fast" ]; then
  shift
  [ -x "$py" ] || { echo "[test] no .venv yet: run bash scripts/test.sh once" >&2; exit 2; }
  "$py" -m ruff check "${lint_paths[@]}"
  exec "$py" -m pytest -m "not slow and not data" "$@"
fi

bash scripts/setup_env.sh --dev
# The real-server tests (tests/test_llama_server.py) run llama.cpp's OpenAI-compatible server, built once per
# machine outside the repository (scripts/llama_server.sh: about 8 minutes the first time, under a second after).
# The build runs in the background while the data are fetched, the linters run and the other tests start; the
# tests wait for it (a lock) when they get there.
llama_log="$(mktemp "${TMPDIR:-/tmp}/distalign-llama-build.XXXXXX")"
bash scripts/llama_server.sh build >"$llama_log" 2>&1 &
llama_pid=$!
finish() {
  if ! wait "$llama_pid" 2>/dev/null; then
    echo "[test] the llama.cpp server build failed (the real-server tests report it):" >&2
    tail -n 20 "$llama_log" >&2
  fi
  rm -f "$llama_log"
}
trap finish EXIT
if [ ! -x /usr/bin/chromium ]; then  # the report's browser tests drive the system Chromium
  bash scripts/install_browser.sh || echo "[test] warning: no Chromium; the browser tests will be skipped" >&2
fi
source_dir="${DISTALIGN_DATA_SOURCE:-}"
if [ -z "$source_dir" ] && [ -d "$root/../shared/benchmark-data" ]; then
  source_dir="$root/../shared/benchmark-data"
fi
if [ -n "$source_dir" ]; then
  echo "[test] data: fetching from $source_dir (skips verified files)"
  "$py" -m distalign.data fetch --source "$source_dir" --quiet
else
  echo "[test] data: no source (set DISTALIGN_DATA_SOURCE); tests marked 'data' will be skipped"
fi

echo "[test] ruff"; "$py" -m ruff check "${lint_paths[@]}"; "$py" -m ruff format --check "${lint_paths[@]}"
echo "[test] mypy"; "$py" -m mypy
echo "[test] pytest"; "$py" -m pytest "$@"
