"""The Celery app. Workers: `celery -A core worker -Q cpu` and `celery -A core worker -Q gpu --concurrency 1`.

Tasks are found by autodiscovery only: every installed app's `tasks.py`, plus the packages below that hold
a `tasks.py` without being an app of their own. Tasks are declared with `core.queue.task`.
"""

from __future__ import annotations

import logging
import os
import resource
import threading
import time
from typing import Any

from celery import Celery
from celery.signals import celeryd_after_setup, task_postrun, task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "core.settings")

# core.billing lives inside the `core` app, so the per-app discovery does not look at it.
TASK_PACKAGES_OUTSIDE_APPS = ["core.billing"]

app = Celery("reelsmith")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Lazy: run when a worker (or beat) imports its default modules as it starts, after django.setup().
app.autodiscover_tasks()
app.autodiscover_tasks(TASK_PACKAGES_OUTSIDE_APPS)


def tasks_discover() -> None:
    """Import every tasks module now, as a worker does at start: for processes that run tasks without
    starting a worker (embedded mode). Needs the Django app registry ready."""
    app.autodiscover_tasks(force=True)
    app.autodiscover_tasks(TASK_PACKAGES_OUTSIDE_APPS, force=True)


# --- What each task cost ------------------------------------------------------------------------------------
# Every task logs one "task cost" line: CPU-seconds (its process, threads included, plus the ffmpeg children it
# waited for) and wall seconds. A worker process runs one task at a time, so the figure is that task's own;
# benchmarks/campaign.py adds them up per stage (docs/benchmarks.md). Celery's own signals, so any task counts.
logger = logging.getLogger(__name__)
_task_clocks: dict[str, tuple[float, float]] = {}
_task_clocks_lock = threading.Lock()


def _cpu_s() -> float:
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def task_clock_start(task_id: str = "", **_: Any) -> None:
    with _task_clocks_lock:
        _task_clocks[task_id] = (_cpu_s(), time.perf_counter())


def task_clock_stop(task_id: str = "", task: Any = None, state: str | None = None, **_: Any) -> None:
    with _task_clocks_lock:
        began = _task_clocks.pop(task_id, None)
    if began is None or task is None:
        return
    cpu, wall = _cpu_s() - began[0], time.perf_counter() - began[1]
    extra = {"task_name": task.name, "cpu_s": round(cpu, 4), "wall_s": round(wall, 4), "state": state}
    logger.info("task cost", extra=extra)


task_prerun.connect(task_clock_start, dispatch_uid="core.celery.task_clock_start", weak=False)
task_postrun.connect(task_clock_stop, dispatch_uid="core.celery.task_clock_stop", weak=False)


# --- Compose shards -------------------------------------------------------------------------------------------
# A cpu worker also consumes its share of the `compose.<k>` queues (core.queue.compose_shard_queue), named by
# REELSMITH_WORKER_COMPOSE_SHARDS: Celery's documented way to add a queue as a worker starts.


def worker_compose_shards(*, shards: int, selection: str) -> list[str]:
    """The shard queues a worker consumes: every one for "all", none for "", else the listed numbers
    (each below `shards`; anything else is a configuration error, raised at start)."""
    if shards <= 0 or not selection.strip():
        return []
    if selection.strip() == "all":
        return [f"compose.{k}" for k in range(shards)]
    chosen = sorted({int(part) for part in selection.split(",") if part.strip()})
    if any(k < 0 or k >= shards for k in chosen):
        raise ValueError(f"REELSMITH_WORKER_COMPOSE_SHARDS={selection!r}: each must be 0..{shards - 1}")
    return [f"compose.{k}" for k in chosen]


def compose_shards_consume(sender: Any = None, instance: Any = None, **_: Any) -> None:
    from django.conf import settings

    queues = instance.app.amqp.queues
    if "cpu" not in queues.consume_from:  # a gpu worker composes nothing
        return
    for name in worker_compose_shards(
        shards=settings.REELSMITH_COMPOSE_SHARDS, selection=settings.REELSMITH_WORKER_COMPOSE_SHARDS
    ):
        queues.select_add(name)
    logger.info("worker queues", extra={"queues": sorted(queues.consume_from)})


celeryd_after_setup.connect(compose_shards_consume, dispatch_uid="core.celery.compose_shards", weak=False)
