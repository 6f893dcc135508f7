"""The one way a Render changes status: a conditional update on the statuses it is expected to be in.

A task that runs twice, or a render canceled mid-flight, changes nothing the second time
(docs/reliability.md R2). Entering a final status sends `render_finished` in the same transaction, once.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.utils import timezone

from core.queue import compose_shard_queue
from render.models import ACTIVE_RENDER_STATUSES, FINAL_RENDER_STATUSES, Render, RenderStatus
from render.signals import render_finished

logger = logging.getLogger(__name__)

TASK_PLAN = "render.plan"
TASK_GENERATE = "render.generate"
TASK_COMPOSE = "render.compose"


def compose_queue(*, batch: bool, template_version_id: Any, brand_id: Any) -> str | None:
    """Where a render's compose task goes. A batch render (a campaign's) shares its segments with every
    render of the same template version and brand, so with compose shards on it goes to that pair's
    `compose.<k>` queue and meets the worker whose cache holds them; a person waiting (interactive) takes
    the first free cpu worker. None: the task's own queue, `cpu`. The reconciler re-sends what waited past
    its lease without one, so a busy or unconsumed shard never strands a render (reconcile.py)."""
    if not batch:
        return None
    return compose_shard_queue(f"{template_version_id}:{brand_id}")


def render_transition(render_id: Any, expected: Iterable[str], to: str, **fields: Any) -> bool:
    """Move the render to `to` if it is in one of `expected`, setting `fields`; True if this call moved it."""
    now = timezone.now()
    final = to in FINAL_RENDER_STATUSES
    if final:
        fields.setdefault("finished_at", now)
    if to not in (RenderStatus.COMPOSING, RenderStatus.UPLOADING):
        fields.setdefault("lease_owner", "")  # out of the leased stage, no task holds it (lease.py)
    with transaction.atomic():
        updated = Render.objects.filter(pk=render_id, status__in=list(expected)).update(
            status=to, updated_at=now, **fields
        )
        if updated == 1 and final:
            workspace_id = Render.objects.filter(pk=render_id).values_list("workspace_id", flat=True).get()
            render_finished.send(sender=Render, render_id=render_id, workspace_id=workspace_id, status=to)
    return updated == 1


def render_fail(*, render_id: Any, reason: str) -> bool:
    failed = render_transition(render_id, ACTIVE_RENDER_STATUSES, RenderStatus.FAILED, error=reason[:2000])
    if failed:
        logger.warning("render %s failed: %s", render_id, reason)
    return failed
