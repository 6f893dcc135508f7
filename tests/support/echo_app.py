"""A tiny Celery app for the harness's own tests: one task that writes a file.

Run as `celery -A tests.support.echo_app worker` with CELERY_BROKER_URL set (the harness tests use Redis
db 15). The task records which process ran it, so a test can check it ran in a pool child.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from celery import Celery

app = Celery("echo", broker=os.environ["CELERY_BROKER_URL"])
app.conf.update(
    task_ignore_result=True,
    # Celery 5.3+ warns (CPendingDeprecationWarning) unless this is set explicitly.
    broker_connection_retry_on_startup=True,
)


@app.task(name="echo.write_file")
def write_file(path: str, content: str) -> None:
    target = Path(path)
    partial = target.with_name(target.name + ".part")
    partial.write_text(json.dumps({"content": content, "pid": os.getpid()}), encoding="utf-8")
    partial.replace(target)  # atomic: the test never reads half a file
