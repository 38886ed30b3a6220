#!/usr/bin/env bash
# Install what the report's browser tests drive: Chromium from the Debian packages (/usr/bin/chromium).
# The Python side (Playwright, pinned in requirements-dev.txt) is installed by scripts/setup_env.sh; Playwright's own
# browser download is never used (the tests launch /usr/bin/chromium). Idempotent: does nothing when it is there.
#
# Usage: bash scripts/install_browser.sh     (needs root or sudo for apt-get; scripts/test.sh calls it when needed)
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "[browser] no apt-get here: install Chromium so that /usr/bin/chromium exists (browser tests are skipped)" >&2
  exit 1
fi
as_root=()
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "[browser] need root (or sudo) to apt-get install chromium" >&2; exit 1; }
  as_root=(sudo -n)
fi
echo "[browser] installing chromium from the Debian packages (once; about a minute)" >&2
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
/usr/bin/chromium --version >&2
