"""Liveness and readiness, for load balancers and Kubernetes probes.

`/healthz` (liveness): the process answers HTTP. It checks nothing else, so a database outage never gets
every API pod restarted; it never says more than `ok`.

`/readyz` (readiness): the database, the broker and the storage each answer within a short timeout. 503
names the component that did not (`"database": "unavailable"`) and nothing of why: the reason is logged
for the operator, never shown to whoever can reach the port.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import redis
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from kombu import Connection

from core.storage import get_storage

logger = logging.getLogger(__name__)

# Each component gets this long (seconds); probes typically time out at 1-5 s (Kubernetes' default is 1 s,
# infra/k8s/base/api-deployment.yaml gives 5).
CHECK_TIMEOUT_SECONDS = 2.0
OK = "ok"
UNAVAILABLE = "unavailable"
EMBEDDED = "embedded"  # no broker: tasks run in-process (embedded mode); nothing to reach
# A key nobody writes: asking whether it exists is a round trip that changes nothing.
STORAGE_PROBE_KEY = "readyz/probe"


def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def _database() -> None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    finally:
        connection.close()  # the check thread's own connection


def _broker() -> None:
    url = settings.CELERY_BROKER_URL
    if url.startswith(("redis://", "rediss://")):
        client = redis.Redis.from_url(
            url, socket_connect_timeout=CHECK_TIMEOUT_SECONDS, socket_timeout=CHECK_TIMEOUT_SECONDS
        )
        try:
            client.ping()
        finally:
            client.close()
        return
    with Connection(url, connect_timeout=CHECK_TIMEOUT_SECONDS) as broker:
        broker.ensure_connection(max_retries=1)


def _storage() -> None:
    get_storage().exists(STORAGE_PROBE_KEY)


def readiness_checks() -> dict[str, str]:
    """Each component's answer, checked side by side on threads, all within CHECK_TIMEOUT_SECONDS (a driver
    stuck connecting to a dead host must not hold the probe)."""
    checks: dict[str, Callable[[], None]] = {"database": _database, "storage": _storage}
    if settings.CELERY_BROKER_URL:
        checks["broker"] = _broker
    results: dict[str, str] = {}

    def run(name: str, check: Callable[[], None]) -> None:
        try:
            check()
        except Exception:  # whatever the driver raises, the component is not ready; the log says why
            logger.warning("readiness: %s is unavailable", name, exc_info=True)
            results[name] = UNAVAILABLE
        else:
            results[name] = OK

    threads = [
        threading.Thread(target=run, args=(name, check), name=f"reelsmith-readyz-{name}", daemon=True)
        for name, check in checks.items()
    ]
    deadline = time.monotonic() + CHECK_TIMEOUT_SECONDS
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    answered = dict(results)  # a thread still running may write later; this answer is what came in time
    for name in checks:
        if name not in answered:
            logger.warning("readiness: %s did not answer within %.0f s", name, CHECK_TIMEOUT_SECONDS)
            answered[name] = UNAVAILABLE
    answered.setdefault("broker", EMBEDDED)
    return dict(sorted(answered.items()))


def readyz(request: HttpRequest) -> JsonResponse:
    checks = readiness_checks()
    ready = all(result in (OK, EMBEDDED) for result in checks.values())
    return JsonResponse(
        {"status": "ok" if ready else UNAVAILABLE, "checks": checks}, status=200 if ready else 503
    )
