"""Embedded mode's beat: the periodic work `celery beat` sends in service mode, run in-process.

With no broker there is no beat, yet the same things must happen: the reconciler re-queues renders a crash
interrupted (`render.reconcile`), scheduled campaigns start their slots (`campaigns.tick`), failed webhooks
are retried when due (`webhooks.dispatch_due`), captured usage is metered (`billing.report_usage`). One
small thread per process reads the beat's own table (`CELERY_BEAT_SCHEDULE`, so the two modes can never list
different work or intervals) and hands each entry, when due, to the embedded worker (`core.queue`), where it
runs like any task. Every entry runs once as the thread starts, so a restart picks up at once what the
previous process left; after that, each runs every interval, never twice at once.

Started by `periodic_start` in a process that serves requests (`core/wsgi.py`, which `runserver` and
gunicorn load) or runs the demo, never in other management commands (`migrate`, ...) or in tests, and only
when `REELSMITH_EMBEDDED_PERIODIC` is on. Two such processes on one database would both run the entries;
every one of them is safe to run twice (docs/reliability.md R2, R6).
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings

from core.queue import embedded_run

logger = logging.getLogger(__name__)

# The thread sleeps at most this long between looks (seconds): entries come due at most this late.
MAX_SLEEP_SECONDS = 1.0

_started = False
_start_lock = threading.Lock()


@dataclass
class PeriodicEntry:
    name: str
    task: str
    every: float  # seconds
    due: float = 0.0  # time.monotonic() of the next run; 0: at once
    running: Future[None] | None = None


def periodic_entries() -> list[PeriodicEntry]:
    """The beat schedule as (name, task, interval); REELSMITH_EMBEDDED_PERIODIC_EVERY overrides every interval."""
    override: float = settings.REELSMITH_EMBEDDED_PERIODIC_EVERY
    entries = []
    for name, entry in sorted(settings.CELERY_BEAT_SCHEDULE.items()):
        schedule = entry["schedule"]
        if isinstance(schedule, timedelta):
            every = schedule.total_seconds()
        elif isinstance(schedule, int | float):
            every = float(schedule)
        else:  # a crontab entry would need its own clock; the project's beat has none
            logger.warning("embedded periodic work: %s has a schedule this runner cannot keep", name)
            continue
        entries.append(PeriodicEntry(name=name, task=str(entry["task"]), every=override or every))
    return entries


def periodic_tick(entries: list[PeriodicEntry], *, now: float) -> list[str]:
    """Hand every due entry whose previous run has finished to the embedded worker; return their names."""
    started = []
    for entry in entries:
        if now < entry.due or (entry.running is not None and not entry.running.done()):
            continue
        entry.running = embedded_run(entry.task)
        entry.due = now + entry.every
        started.append(entry.name)
    return started


def _periodic_loop(entries: list[PeriodicEntry]) -> None:
    while True:
        try:
            periodic_tick(entries, now=time.monotonic())
        except Exception:  # one bad run must not end the thread that keeps the others coming
            logger.exception("embedded periodic work: a tick failed")
        next_due = min(entry.due for entry in entries) - time.monotonic()
        time.sleep(min(MAX_SLEEP_SECONDS, max(0.05, next_due)))


def periodic_start() -> bool:
    """Start the in-process beat once per process, in embedded mode, when REELSMITH_EMBEDDED_PERIODIC is on.
    True if this call started it."""
    global _started
    if settings.CELERY_BROKER_URL or not settings.REELSMITH_EMBEDDED_PERIODIC:
        return False
    with _start_lock:
        if _started:
            return False
        entries = periodic_entries()
        if not entries:
            return False
        thread = threading.Thread(
            target=_periodic_loop, args=(entries,), name="reelsmith-embedded-beat", daemon=True
        )
        thread.start()
        _started = True
    logger.info(
        "embedded periodic work started: %s", ", ".join(f"{e.task} every {e.every:g}s" for e in entries)
    )
    return True
