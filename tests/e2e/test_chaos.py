"""Chaos against real processes: SIGKILLed Celery pool children (docs/reliability.md R1, R3).

Service mode only (real `celery worker` processes, Redis, PostgreSQL, SeaweedFS). Marked slow: each kill
waits for Celery to notice the lost child and redeliver (a few seconds).
"""

from __future__ import annotations

import signal
import time
from typing import Any

import pytest
from rest_framework.test import APIClient

from render import services
from render.models import Render, RenderStatus
from tests.e2e.test_renders import wait_final
from tests.factories import small_spec
from tests.render.test_api_renders import make_brand, make_template, request_render

pytestmark = [pytest.mark.services, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def slow_spec() -> dict[str, Any]:
    """Long enough at this size that composing takes seconds, so a kill lands mid-task."""
    spec = small_spec(format={"width": 720, "height": 1280, "fps": 30})
    for scene in spec["scenes"]:
        scene["duration"] = 6.0
    return spec


def wait_status(render_id: str, status: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while Render.objects.get(pk=render_id).status != status:
        assert time.monotonic() < deadline, f"render never reached {status}"
        time.sleep(0.05)


def kill_pool_children(worker: Any) -> int:
    killed = 0
    for pid in worker.child_pids():
        worker.kill_child(signal.SIGKILL, pid=pid)
        killed += 1
    return killed


def test_a_render_survives_its_worker_being_sigkilled_mid_compose(
    api: APIClient, service_workers: dict[str, Any]
) -> None:
    render_id = request_render(
        api, make_template(api, slow_spec()), make_brand(api), {"first_name": "Zoë"}
    ).json()["id"]
    wait_status(render_id, RenderStatus.COMPOSING)
    time.sleep(0.5)  # inside ffmpeg by now
    assert kill_pool_children(service_workers["cpu"]) >= 1
    body = wait_final(api, render_id, timeout=300)
    assert body["status"] == "succeeded", body
    render = Render.objects.get(pk=render_id)
    assert render.attempts == 2  # the killed attempt, then the redelivered one


def test_a_render_that_keeps_killing_its_worker_is_failed_after_three_attempts(
    api: APIClient, service_workers: dict[str, Any]
) -> None:
    render_id = request_render(
        api, make_template(api, slow_spec()), make_brand(api), {"first_name": "Zoë"}
    ).json()["id"]
    for attempt in range(1, 4):
        deadline = time.monotonic() + 120
        while Render.objects.get(pk=render_id).attempts < attempt:
            assert time.monotonic() < deadline, f"attempt {attempt} never started"
            time.sleep(0.05)
        time.sleep(0.3)
        assert kill_pool_children(service_workers["cpu"]) >= 1
    body = wait_final(api, render_id, timeout=300)
    assert body["status"] == "failed"
    assert body["error"] == services.COMPOSE_GAVE_UP.format(attempts=3, reason="worker lost")
