"""Celery interfaces to render.services. Thin: take ids, call one service.

Redelivered when a worker dies mid-task (`core.queue.task`); the services make a second run harmless.
"""

from __future__ import annotations

from typing import Any

from celery.signals import worker_process_init

from core.queue import task
from render import services


@task(services.TASK_PLAN, queue="cpu")
def plan(render_id: str) -> None:
    services.render_plan(render_id=render_id)


@task(services.TASK_GENERATE, queue="gpu")
def generate(shape_key: str) -> None:
    from render.engine.config import engine_settings

    engine = engine_settings()
    # Drain this shape's queue: batches keep forming while pending work remains, in one warm process;
    # interactive work of other shapes is served between batches.
    services.generation_drain(shape_key=shape_key, max_batch=engine.max_batch, max_wait_ms=engine.max_wait_ms)


@task(services.TASK_COMPOSE, queue="cpu", bind=True)
def compose(self: Any, render_id: str) -> None:
    # The task id leases the render: a redelivery of this same message (its worker died) takes it back at once.
    services.render_compose(render_id=render_id, lease_owner=self.request.id or "")


@task("render.reconcile", queue="cpu")
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
