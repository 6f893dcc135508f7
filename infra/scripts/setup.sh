#!/usr/bin/env bash
# Creates .venv/ at the repo root and installs Reelsmith with its engine and dev tools. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/../.."

PYTHON="${PYTHON:-python3.11}"
TORCH_VERSION="${TORCH_VERSION:-2.13.0}"
# PyTorch's own index of CPU-only wheels (~200 MB). PyPI's Linux wheel of the same version is the CUDA build,
# which drags in several GB of nvidia-* wheels that a CPU machine never uses.
TORCH_CPU_INDEX="${TORCH_CPU_INDEX:-https://download.pytorch.org/whl/cpu}"
PIP=(.venv/bin/pip install --quiet --disable-pip-version-check)

if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
# torch first, pinned: pyproject's range admits it, so the install below adds nothing. The CPU build from
# PyTorch's index where that index can be reached (a short timeout, one retry); else the default index
# (and any local wheel pip is configured to find). Skipped when this version is already installed.
if ! .venv/bin/python -c "import torch, sys; sys.exit(torch.__version__.split('+')[0] != '$TORCH_VERSION')" 2>/dev/null; then
  if ! "${PIP[@]}" --timeout 15 --retries 1 --index-url "$TORCH_CPU_INDEX" "torch==$TORCH_VERSION" 2>/dev/null; then
    echo "setup: PyTorch's CPU wheel index is out of reach; installing torch $TORCH_VERSION from the default index" >&2
    "${PIP[@]}" "torch==$TORCH_VERSION"
  fi
fi
"${PIP[@]}" -e ".[gpu,dev,speech]"
# The dashboard's browser tests drive Debian's chromium through Playwright's `executable_path` (Playwright never
# downloads a browser here). Installed where apt exists and this runs as root; elsewhere install it yourself.
if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
