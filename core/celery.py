"""The Celery app. Workers: `celery -A core worker -Q cpu` and `celery -A core worker -Q gpu --concurrency 1`.

Tasks are found by autodiscovery only: every installed app's `tasks.py`, plus the packages below that hold
a `tasks.py` without being an app of their own. Tasks are declared with `core.queue.task`.
"""

from __future__ import annotations

import os

from celery import Celery

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
