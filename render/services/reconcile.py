"""The reconciler (beat, every 60 s): re-queue work whose task was lost."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from core.queue import enqueue
from render.models import ACTIVE_RENDER_STATUSES, Generation, GenerationStatus, Render, RenderStatus
from render.services.generation import renders_advance
from render.services.transitions import (
    TASK_COMPOSE,
    TASK_GENERATE,
    TASK_PLAN,
    render_fail,
    render_transition,
)

STUCK_GAVE_UP = "The render stopped making progress {attempts} times (worker lost); giving up."


def render_reconcile(*, now: Any = None) -> dict[str, int]:
    """Re-queue work whose task was lost (worker SIGKILLed, message dropped): docs/reliability.md R1, R4."""
    now = now or timezone.now()
    stale = now - timedelta(seconds=settings.REELSMITH_RENDER_LEASE_SECONDS)
    counts = {"plan": 0, "generate": 0, "compose": 0, "released": 0, "failed": 0}
    # Generations claimed by a worker that died: back to pending (their attempts stay counted).
    counts["released"] = Generation.objects.filter(
        status=GenerationStatus.RUNNING, claimed_at__lt=stale
    ).update(status=GenerationStatus.PENDING, claimed_at=None, updated_at=now)
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
                enqueue(TASK_GENERATE, shape_key, priority=render.priority)
                counts["generate"] += 1
        elif render.attempts >= settings.REELSMITH_MAX_ATTEMPTS:
            counts["failed"] += render_fail(
                render_id=render.pk, reason=STUCK_GAVE_UP.format(attempts=render.attempts)
            )
        elif render_transition(
            render.pk, [RenderStatus.COMPOSING, RenderStatus.UPLOADING], RenderStatus.COMPOSING
        ):
            enqueue(TASK_COMPOSE, str(render.pk), priority=render.priority)
            counts["compose"] += 1
    return counts
