"""Planning a render: one Generation per generated background (an existing one is a cache hit), then on to
generate or straight to compose."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core.queue import enqueue
from render.models import Generation, GenerationKind, GenerationStatus, Render, RenderGeneration, RenderStatus
from render.planning import GenerationSpec, generation_specs
from render.services.transitions import TASK_COMPOSE, TASK_GENERATE, compose_queue, render_transition


def _generation_for(spec: GenerationSpec, priority: int) -> tuple[Generation, bool]:
    """The Generation for `spec`, created pending if new. A variant's base is got or created first: it is
    its own Generation, made once and shared by every variant (and every render) that needs it."""
    base = _generation_for(spec.base, priority)[0] if spec.base is not None else None
    generation, created = Generation.objects.get_or_create(
        key=spec.key,
        defaults={
            "base": base,
            "strength": spec.strength,
            "model": spec.model,
            "prompt": spec.prompt,
            "negative_prompt": spec.negative_prompt,
            "seed": spec.seed,
            "width": spec.width,
            "height": spec.height,
            "steps": spec.steps,
            "guidance": spec.guidance,
            "scheduler": spec.scheduler,
            "kind": GenerationKind.IMAGE if spec.num_frames is None else GenerationKind.VIDEO,
            "num_frames": spec.num_frames,
            "shape_key": spec.shape_key,
            "priority": priority,
        },
    )
    if not created:
        # A picture that failed for an earlier render gets a fresh set of attempts for this one.
        Generation.objects.filter(pk=generation.pk, status=GenerationStatus.FAILED).update(
            status=GenerationStatus.PENDING, attempts=0, error="", updated_at=timezone.now()
        )
        # An interactive render waiting on a campaign's picture pulls it forward.
        Generation.objects.filter(pk=generation.pk, priority__gt=priority).update(priority=priority)
        generation.refresh_from_db()
    return generation, created


def render_plan(*, render_id: Any) -> None:
    with transaction.atomic():
        render = (
            Render.objects.select_for_update()
            .select_related("template_version")
            .filter(pk=render_id, status=RenderStatus.QUEUED)
            .first()
        )
        if render is None:
            return  # canceled, or already planned by an earlier delivery of this task
        specs = [
            s for s in generation_specs(render.template_version.spec, render.variables, default_model()) if s
        ]
        waiting_shapes: set[str] = set()
        for spec in {s.key: s for s in specs}.values():
            generation, created = _generation_for(spec, render.priority)
            # A variant's render waits on its base too: a base that fails fails the render with its reason.
            links = [(generation, created)]
            if generation.base_id is not None:
                links.append((Generation.objects.get(pk=generation.base_id), False))
            for linked, made in links:
                RenderGeneration.objects.get_or_create(
                    render=render, generation=linked, defaults={"cache_hit": not made}
                )
                if linked.status != GenerationStatus.SUCCEEDED:
                    waiting_shapes.add(linked.shape_key)
        if waiting_shapes:
            render_transition(render.pk, [RenderStatus.QUEUED], RenderStatus.GENERATING, attempts=0)
            for shape_key in sorted(waiting_shapes):
                enqueue(TASK_GENERATE, shape_key, priority=render.priority)
        else:
            render_transition(render.pk, [RenderStatus.QUEUED], RenderStatus.COMPOSING, attempts=0)
            enqueue(
                TASK_COMPOSE,
                str(render.pk),
                priority=render.priority,
                queue=compose_queue(
                    batch=render.batch,
                    template_version_id=render.template_version_id,
                    brand_id=render.brand_id,
                ),
            )


def default_model() -> str:
    """The image model of generated backgrounds that name none."""
    return str(settings.REELSMITH_DEFAULT_MODEL)
