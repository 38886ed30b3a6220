#!/usr/bin/env bash
# The test command: set up .venv (idempotent), fetch the benchmark data if a source is known, then
# lint (ruff), type-check (mypy) and run the test suite (pytest, doctests included).
#
# Usage: bash scripts/test.sh [pytest args...]
# Data source: $DISTALIGN_DATA_SOURCE, else ../shared/benchmark-data if it exists; without one, the
# tests that need the real data are skipped (they are marked `data`).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/setup_env.sh
py="$root/.venv/bin/python"

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

echo "[test] ruff"; "$py" -m ruff check distalign tests bench lm_steering.py lm_steering_eval.py temperature_scaling.py
echo "[test] mypy"; "$py" -m mypy
echo "[test] pytest"; "$py" -m pytest "$@"
