"""Chaos against real processes: SIGKILLed Celery pool children, and a whole worker killed at once
(docs/reliability.md R1, R3).

Service mode only (real `celery worker` processes, Redis, PostgreSQL, SeaweedFS). Marked slow: each kill
waits for Celery to notice the lost child and redeliver (a few seconds), or for the render's lease to run out.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from core.celery import app
from core.storage import get_storage
from render import services
from render.models import FINAL_RENDER_STATUSES, Render, RenderStatus
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


@pytest.fixture(scope="session")
def replacement_workers() -> Iterator[contextlib.ExitStack]:
    """Workers started to replace a killed one; they serve the rest of the session and stop at its end."""
    with contextlib.ExitStack() as stack:
        yield stack


@contextlib.contextmanager
def beat_sending_reconcile(every: float) -> Iterator[None]:
    """What `celery beat` does for the reconciler (CELERY_BEAT_SCHEDULE["render-reconcile"]): send the task to
    the cpu queue every `every` seconds, for a worker to run."""
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(every):
            app.send_task("render.reconcile", queue="cpu")

    thread = threading.Thread(target=beat, name="test-beat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)


def test_every_render_of_a_worker_killed_whole_finishes_within_three_minutes(
    api: APIClient,
    service_workers: dict[str, Any],
    replacement_workers: contextlib.ExitStack,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """SIGKILL to the CPU worker's whole process group (parent and pool children, as when its node dies): no
    child is left to report the loss, so nothing is redelivered before Redis's visibility timeout (20 min).
    The renders' leases stop being renewed; the reconciler hands them to a fresh worker, and each ends
    `succeeded` with one stored video (R1, R2)."""
    from tests.support.workers import celery_worker

    template, brand = make_template(api, slow_spec()), make_brand(api)
    render_ids = [
        request_render(api, template, brand, {"first_name": name}).json()["id"]
        for name in ("Ana", "Bo", "Cy")
    ]
    deadline = time.monotonic() + 120
    while not Render.objects.filter(pk__in=render_ids, status=RenderStatus.COMPOSING, attempts=1).exists():
        assert time.monotonic() < deadline, "no render started composing"
        time.sleep(0.05)
    time.sleep(0.5)  # inside ffmpeg by now
    victim = service_workers["cpu"]
    os.killpg(victim.pid, signal.SIGKILL)
    killed_at = time.monotonic()
    victim.popen.wait(timeout=10)
    assert Render.objects.filter(pk__in=render_ids).exclude(status__in=FINAL_RENDER_STATUSES).exists()

    db = settings.DATABASES["default"]
    fresh = replacement_workers.enter_context(
        celery_worker(
            app="core",
            queues=["cpu"],
            env={
                "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
                "REELSMITH_TEST_SERVICES": "1",
            },
            cwd=Path(__file__).resolve().parents[2],
            concurrency=2,
            log_path=tmp_path_factory.mktemp("worker-logs") / "cpu-replacement.log",
        )
    )
    service_workers["cpu"] = fresh  # the rest of the session uses the replacement
    beat: dict[str, dict[str, Any]] = settings.CELERY_BEAT_SCHEDULE
    reconcile_every = float(beat["render-reconcile"]["schedule"])
    with beat_sending_reconcile(reconcile_every):
        while Render.objects.filter(pk__in=render_ids).exclude(status__in=FINAL_RENDER_STATUSES).exists():
            assert time.monotonic() - killed_at < 180, (
                list(Render.objects.filter(pk__in=render_ids).values_list("status", "attempts")),
                fresh.log_tail(),
            )
            time.sleep(0.5)

    assert set(Render.objects.filter(pk__in=render_ids).values_list("status", flat=True)) == {"succeeded"}
    storage: Any = get_storage()
    workspace_id = api.workspace.pk  # type: ignore[attr-defined]
    listed = storage.client.list_objects_v2(Bucket=storage.bucket, Prefix=f"renders/{workspace_id}/")
    videos = sorted(item["Key"] for item in listed.get("Contents", []) if item["Key"].endswith(".mp4"))
    assert videos == sorted(f"renders/{workspace_id}/{render_id}/video.mp4" for render_id in render_ids)
