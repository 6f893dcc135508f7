"""Enqueueing render work, always after the enqueuing transaction commits (RELIABILITY R4).

With a broker, tasks go to Celery. Embedded (no broker), Celery runs them in-process: by default on one
background thread, so `runserver` answers 202 at once and still completes renders; with
`REELSMITH_EMBEDDED_WORKER=sync` (the tests) they run right after the commit, in the caller's thread.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from django.conf import settings
from django.db import connections, transaction

logger = logging.getLogger(__name__)


@functools.cache
def _embedded_executor() -> ThreadPoolExecutor:
    # One thread: embedded mode is one worker, and SQLite has one writer anyway.
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="reelsmith-embedded-worker")


def _run_in_thread(task_name: str, args: Sequence[Any]) -> None:
    from core.celery import app

    try:
        result = app.tasks[task_name].apply(args=list(args))
        if result.failed():
            logger.error("embedded task %s%r failed: %s", task_name, tuple(args), result.result)
    finally:
        connections.close_all()  # this thread's connections only


def _send(task_name: str, args: Sequence[Any], priority: int | None, countdown: float) -> Future[None] | None:
    import render.tasks  # noqa: F401  (registers the tasks with the app)
    from core.celery import app

    if settings.CELERY_TASK_ALWAYS_EAGER and settings.REELSMITH_EMBEDDED_WORKER == "thread":
        return _embedded_executor().submit(_run_in_thread, task_name, args)
    app.tasks[task_name].apply_async(args=list(args), priority=priority, countdown=countdown or None)
    return None


def enqueue(task_name: str, *args: Any, priority: int | None = None, countdown: float = 0) -> None:
    """Send a task once the current transaction commits (at once outside one). Embedded mode ignores countdown."""
    transaction.on_commit(functools.partial(_send, task_name, args, priority, countdown))
