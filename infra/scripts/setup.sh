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
