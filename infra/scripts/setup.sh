#!/usr/bin/env bash
# Creates .venv/ at the repo root and installs Reelsmith with its dev tools. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/../.."

PYTHON="${PYTHON:-python3.11}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
# torch first, pinned: the CPU build of 2.13.0 for Python 3.11. Left to the resolver, a looser requirement
# would pull a multi-GB CUDA build. pyproject's torch range admits 2.13.0, so nothing more is installed.
if ! .venv/bin/python -c "import torch, sys; sys.exit(torch.__version__.split('+')[0] != '2.13.0')" 2>/dev/null; then
  .venv/bin/pip install --quiet --disable-pip-version-check "torch==2.13.0"
fi
.venv/bin/pip install --quiet --disable-pip-version-check -e ".[dev]"
# The dashboard's browser tests drive Debian's chromium through Playwright's `executable_path` (Playwright never
# downloads a browser here). Installed where apt exists and this runs as root; elsewhere install it yourself.
if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
