"""Leases: work a worker holds stays its own while it works, and goes back soon after the worker dies.

A render being composed and the Generations of a running batch are leased, not locked. While the worker
works, a small thread renews the lease every `REELSMITH_HEARTBEAT_SECONDS` (`lease_kept`): the render's
`updated_at` (guarded by `lease_owner`, the id of the task that claimed it) and the Generations'
`claimed_at`. The reconciler (`render.services.reconcile`) hands back whatever was not renewed for
`REELSMITH_RENDER_LEASE_SECONDS`, so a SIGKILLed worker's renders are picked up within one lease and one
reconcile tick, while a long compose or GPU batch that is alive is never taken from its worker
(docs/reliability.md R1). A worker that only stalls (a hung ffmpeg) keeps its lease until Celery's hard time
limit kills the process, heartbeat thread and all.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Q
from django.utils import timezone

from render.models import Generation, GenerationStatus, Render, RenderStatus

logger = logging.getLogger(__name__)

# How long stopping a heartbeat waits for a beat in progress (seconds). A beat is one indexed UPDATE; one
# stuck behind a lock is abandoned (its thread is a daemon and its UPDATE changes nothing once the work moved on).
STOP_WAIT_SECONDS = 2.0

LEASED_RENDER_STATUSES = (RenderStatus.COMPOSING, RenderStatus.UPLOADING)


def lease_expired_before(*, now: datetime | None = None) -> datetime:
    """Work whose lease was last renewed before this instant belongs to no live worker."""
    return (now or timezone.now()) - timedelta(seconds=settings.REELSMITH_RENDER_LEASE_SECONDS)


@contextlib.contextmanager
def lease_kept(renew: Callable[[], Any], *, name: str, every: float | None = None) -> Iterator[None]:
    """Call `renew` every `every` seconds (REELSMITH_HEARTBEAT_SECONDS) on a thread while the block runs.

    The first renewal comes one interval in: whoever enters the block has just taken the lease. A renewal
    that fails is logged and tried again at the next beat; the lease is long enough for several to fail."""
    interval = settings.REELSMITH_HEARTBEAT_SECONDS if every is None else every
    stop = threading.Event()

    def beat() -> None:
        try:
            while not stop.wait(interval):
                try:
                    renew()
                except Exception:  # the database blinked: the next beat tries again, the lease has room
                    logger.warning("renewing the lease of %s failed", name, exc_info=True)
        finally:
            connection.close()  # this thread's own connection

    thread = threading.Thread(target=beat, name=f"reelsmith-lease-{name}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=STOP_WAIT_SECONDS)


def render_lease_free(*, owner: str, now: datetime | None = None) -> Q:
    """Renders `owner` may claim: unleased, already its own (a redelivery of the same task after its worker
    died), or leased by a worker that stopped renewing."""
    return Q(lease_owner="") | Q(lease_owner=owner) | Q(updated_at__lt=lease_expired_before(now=now))


def render_lease_renew(*, render_id: Any, owner: str) -> int:
    """One heartbeat for a render `owner` is composing or uploading; 0 once it is no longer `owner`'s."""
    return Render.objects.filter(pk=render_id, status__in=LEASED_RENDER_STATUSES, lease_owner=owner).update(
        updated_at=timezone.now()
    )


def render_lease_kept(*, render_id: Any, owner: str) -> contextlib.AbstractContextManager[None]:
    return lease_kept(
        lambda: render_lease_renew(render_id=render_id, owner=owner), name=f"render-{render_id}"
    )


def generations_lease_renew(*, keys: Sequence[str]) -> int:
    """One heartbeat for the Generations of a running batch."""
    return Generation.objects.filter(key__in=list(keys), status=GenerationStatus.RUNNING).update(
        claimed_at=timezone.now()
    )


def generations_lease_kept(*, keys: Sequence[str]) -> contextlib.AbstractContextManager[None]:
    frozen = list(keys)
    return lease_kept(lambda: generations_lease_renew(keys=frozen), name=f"batch-{len(frozen)}")
