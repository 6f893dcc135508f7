"""Celery interfaces to render.services. Thin: take ids, call one service.

acks_late + reject_on_worker_lost: a task whose worker is SIGKILLed is redelivered, not lost (RELIABILITY R1;
acks_late alone loses it, celery#1628). The services make a second run harmless.
"""

from __future__ import annotations

from typing import Any

from celery import shared_task
from celery.signals import worker_process_init

from render import services

TASK_OPTIONS = {"acks_late": True, "reject_on_worker_lost": True, "ignore_result": True}


@shared_task(name=services.TASK_PLAN, queue="cpu", **TASK_OPTIONS)
def plan(render_id: str) -> None:
    services.render_plan(render_id=render_id)


@shared_task(name=services.TASK_GENERATE, queue="gpu", **TASK_OPTIONS)
def generate(shape_key: str) -> None:
    from render.engine.config import engine_settings

    engine = engine_settings()
    # Drain this shape's queue: batches keep forming while pending work remains, in one warm process;
    # interactive work of other shapes is served between batches.
    services.generation_drain(shape_key=shape_key, max_batch=engine.max_batch, max_wait_ms=engine.max_wait_ms)


@shared_task(name=services.TASK_COMPOSE, queue="cpu", **TASK_OPTIONS)
def compose(render_id: str) -> None:
    services.render_compose(render_id=render_id)


@shared_task(name="render.reconcile", queue="cpu", **TASK_OPTIONS)
def reconcile() -> None:
    services.render_reconcile()


@worker_process_init.connect
def preload_models(**_: Any) -> None:
    """Each new worker child loads the models REELSMITH_PRELOAD_MODELS names (set on GPU workers only)."""
    from render.engine.config import engine_settings

    if engine_settings().preload_models:
        from render.engine.pipeline import preload_engines

        preload_engines()


__all__ = ["compose", "generate", "plan", "preload_models", "reconcile"]
