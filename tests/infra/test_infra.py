"""infra/ stays consistent with the code: the same process commands, every setting provided, sane limits."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_infra_validates() -> None:
    result = subprocess.run(
        [sys.executable, "infra/validate.py"], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
