"""Background work: the one task decorator every app uses, and enqueueing after commit (docs/reliability.md R1, R4).

`task` holds the options every Reelsmith task shares, so no app copies them (after Sentry's
`instrumented_task`). `enqueue` sends a task by name, always after the enqueuing transaction commits.

With a broker, tasks go to Celery. Embedded (no broker), Celery runs them in-process: by default on one
background thread, so `runserver` answers 202 at once and still completes renders; with
`REELSMITH_EMBEDDED_WORKER=sync` (the tests) they run right after the commit, in the caller's thread. The
beat's periodic work reaches the same worker through `embedded_run` (core.periodic).
"""

from __future__ import annotations

import contextvars
import functools
import hashlib
import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from celery import shared_task
from django.conf import settings
from django.db import connections, transaction

from core.celery import app, tasks_discover

logger = logging.getLogger(__name__)

# acks_late + reject_on_worker_lost: a task whose worker is SIGKILLed is redelivered, not lost (R1; acks_late
# alone loses it, celery#1628), so every service a task calls must be safe to run twice. No task's return
# value is read by anyone: results are rows in the database.
TASK_OPTIONS: dict[str, Any] = {"acks_late": True, "reject_on_worker_lost": True, "ignore_result": True}


def task(name: str, *, queue: str, **overrides: Any) -> Callable[[Callable[..., Any]], Any]:
    """A Celery task with the house options. `name` is its stable wire name (what `enqueue` and beat send);
    `queue` is `cpu` or `gpu` (the worker pool that runs it); `overrides` are any other Celery task option
    (`bind`, `max_retries`, ...). The module holding it must be a `tasks.py` that autodiscovery finds."""
    return shared_task(name=name, queue=queue, **{**TASK_OPTIONS, **overrides})


_discovered = False
_discover_lock = threading.Lock()


def _task_by_name(task_name: str) -> Any:
    """The registered task. A worker imports every tasks module as it starts; a process that never starts one
    (embedded mode, a web process) does the same discovery on its first send, once (the lock: Celery's own
    discovery returns nothing to a second thread that arrives while the first is importing)."""
    global _discovered
    if not _discovered:
        with _discover_lock:
            if not _discovered:
                tasks_discover()
                _discovered = True
    return app.tasks[task_name]


@functools.cache
def _embedded_executor() -> ThreadPoolExecutor:
    # One thread: embedded mode is one worker, and SQLite has one writer anyway.
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="reelsmith-embedded-worker")


def _run_in_thread(task_name: str, args: Sequence[Any]) -> None:
    try:
        result = _task_by_name(task_name).apply(args=list(args))
        if result.failed():
            logger.error("embedded task %s%r failed: %s", task_name, tuple(args), result.result)
    finally:
        connections.close_all()  # this thread's connections only


def _send(
    task_name: str, args: Sequence[Any], priority: int | None, countdown: float, queue: str | None = None
) -> Future[None] | None:
    if settings.CELERY_TASK_ALWAYS_EAGER and settings.REELSMITH_EMBEDDED_WORKER == "thread":
        # The sender's log context (its request id) goes along to the worker thread (core.logs).
        context = contextvars.copy_context()
        return _embedded_executor().submit(context.run, _run_in_thread, task_name, args)
    options: dict[str, Any] = {"queue": queue} if queue else {}
    _task_by_name(task_name).apply_async(
        args=list(args), priority=priority, countdown=countdown or None, **options
    )
    return None


def embedded_run(task_name: str, *args: Any) -> Future[None] | None:
    """Embedded mode: run a task now, outside any transaction, as the embedded worker runs tasks (on its
    thread; in the caller with `sync`). For the in-process beat (core.periodic). The Future is done when the
    task is; None when it already ran in the caller."""
    return _send(task_name, args, None, 0)


def enqueue(
    task_name: str, *args: Any, priority: int | None = None, countdown: float = 0, queue: str | None = None
) -> None:
    """Send a task once the current transaction commits (at once outside one). Embedded mode ignores
    countdown and queue (one worker runs everything). `queue` overrides the task's own (its routing)."""
    transaction.on_commit(functools.partial(_send, task_name, args, priority, countdown, queue))


def compose_shard_queue(affinity: str) -> str | None:
    """The `compose.<k>` queue for work that shares cached pieces with all work of the same `affinity`
    (REELSMITH_COMPOSE_SHARDS shards; None when sharding is off). k is a stable hash, the same in every
    process and release (SHA-256, never Python's salted hash())."""
    shards = int(settings.REELSMITH_COMPOSE_SHARDS)
    if shards <= 0:
        return None
    digest = hashlib.sha256(affinity.encode()).digest()
    return f"compose.{int.from_bytes(digest[:8], 'big') % shards}"
