"""The reconciler (beat, every 15 s; in-process in embedded mode): re-queue work whose task was lost.

Work in hand is leased (render/services/lease.py): a worker renews its lease while it works, so what the
reconciler finds unrenewed for `REELSMITH_RENDER_LEASE_SECONDS` has no live worker. A render merely waiting
in a long queue can look the same; the message sent for it then is a duplicate, which the lease and the
conditional transitions make harmless (docs/reliability.md R1, R2)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils import timezone

from core.queue import enqueue
from render.models import ACTIVE_RENDER_STATUSES, Generation, GenerationStatus, Render, RenderStatus
from render.services.generation import renders_advance
from render.services.lease import lease_expired_before
from render.services.transitions import (
    TASK_COMPOSE,
    TASK_GENERATE,
    TASK_PLAN,
    render_fail,
)

STUCK_GAVE_UP = "The render stopped making progress {attempts} times (worker lost); giving up."


def render_reconcile(*, now: Any = None) -> dict[str, int]:
    """Re-queue work whose task was lost (worker SIGKILLed, message dropped): docs/reliability.md R1, R4."""
    now = now or timezone.now()
    stale = lease_expired_before(now=now)
    counts = {"plan": 0, "generate": 0, "compose": 0, "released": 0, "failed": 0}
    # Generations claimed by a worker that died: back to pending (their attempts stay counted).
    counts["released"] = Generation.objects.filter(
        status=GenerationStatus.RUNNING, claimed_at__lt=stale
    ).update(status=GenerationStatus.PENDING, claimed_at=None, updated_at=now)
    # One nudge per shape with pending work, at its most urgent render's priority: a generate task drains its
    # whole shape, so a campaign's fifty waiting renders need one message, not fifty.
    shapes: dict[str, int] = {}
    for render in Render.objects.filter(status__in=ACTIVE_RENDER_STATUSES, updated_at__lt=stale).iterator():
        if render.status == RenderStatus.QUEUED:
            if Render.objects.filter(pk=render.pk, status=RenderStatus.QUEUED).update(updated_at=now):
                enqueue(TASK_PLAN, str(render.pk), priority=render.priority)
                counts["plan"] += 1
        elif render.status == RenderStatus.GENERATING:
            Render.objects.filter(pk=render.pk, status=RenderStatus.GENERATING).update(updated_at=now)
            keys = list(render.generation_links.values_list("generation_id", flat=True))
            renders_advance(generation_keys=keys)
            for shape_key in (
                Generation.objects.filter(key__in=keys, status=GenerationStatus.PENDING)
                .values_list("shape_key", flat=True)
                .distinct()
            ):
                shapes[shape_key] = min(shapes.get(shape_key, render.priority), render.priority)
        elif render.attempts >= settings.REELSMITH_MAX_ATTEMPTS:
            counts["failed"] += render_fail(
                render_id=render.pk, reason=STUCK_GAVE_UP.format(attempts=render.attempts)
            )
        elif Render.objects.filter(
            # Still unrenewed: a heartbeat that came in since the scan keeps its worker's lease.
            pk=render.pk,
            status__in=[RenderStatus.COMPOSING, RenderStatus.UPLOADING],
            updated_at__lt=stale,
        ).update(status=RenderStatus.COMPOSING, lease_owner="", updated_at=now):
            enqueue(TASK_COMPOSE, str(render.pk), priority=render.priority)
            counts["compose"] += 1
    for shape_key, priority in sorted(shapes.items()):
        enqueue(TASK_GENERATE, shape_key, priority=priority)
    counts["generate"] = len(shapes)
    return counts
