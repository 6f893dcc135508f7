"""The GPU worker as deployed: a real `celery worker -Q gpu` whose child loads its model as it starts.

Service mode only (the session's real workers, tests/conftest.py `service_workers`).
"""

from __future__ import annotations

import re
import time
from typing import Any

import pytest

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

# Loading tiny-sd (built on first use) takes a few seconds on this 2-core machine; generous for a busy one.
PRELOAD_TIMEOUT_S = 120


def test_the_gpu_worker_child_loads_its_model_when_it_starts(service_workers: dict[str, Any]) -> None:
    worker = service_workers["gpu"]
    deadline = time.monotonic() + PRELOAD_TIMEOUT_S
    while "preloaded model tiny-sd" not in worker.log_path.read_text(errors="replace"):
        assert "could not preload" not in worker.log_path.read_text(errors="replace"), worker.log_tail()
        assert time.monotonic() < deadline, worker.log_tail()
        time.sleep(0.2)
    # In the pool child, not the main process: CUDA must never be initialised in the parent.
    # (The last such line: a child replaced during the session preloads again.)
    pids = re.findall(r"preloaded model tiny-sd in [\d.]+ s \(pid (\d+)\)", worker.log_path.read_text())
    assert pids, worker.log_tail()
    assert int(pids[-1]) in worker.child_pids()
    assert int(pids[-1]) != worker.popen.pid
