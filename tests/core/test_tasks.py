"""Every task is found by autodiscovery, with the house options (core.queue.task), in a worker and in an
embedded process alike. Fresh processes: in this one, earlier tests may have imported the task modules."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

# Every task and the queue that runs it.
TASKS = {
    "billing.report_usage": "cpu",
    "campaigns.erase_recipient": "cpu",
    "campaigns.fanout": "cpu",
    "campaigns.tick": "cpu",
    "consents.expire": "cpu",
    "consents.lapse": "cpu",
    "crm.writeback": "cpu",
    "crm.writeback_engagement": "cpu",
    "render.compose": "cpu",
    "render.generate": "gpu",
    "render.plan": "cpu",
    "render.reconcile": "cpu",
    "webhooks.deliver": "cpu",
    "webhooks.dispatch_due": "cpu",
    "workspaces.delete": "cpu",
}

PROBE = """
import json, sys
import django
django.setup()
from core.celery import app
import core.queue
before = sorted(n for n in app.tasks if not n.startswith("celery."))
if sys.argv[1] == "worker":
    app.loader.import_default_modules()  # what `celery -A core worker` (and beat) do as they start
else:
    core.queue._task_by_name("render.plan")  # an embedded process's first send
tasks = {
    name: {
        "queue": task.queue,
        "route": app.amqp.router.route({}, name)["queue"].name,
        "options": [task.acks_late, task.reject_on_worker_lost, task.ignore_result],
    }
    for name, task in app.tasks.items()
    if not name.startswith("celery.")
}
print(json.dumps({"before": before, "tasks": tasks}))
"""


@pytest.mark.parametrize("mode", ["worker", "embedded"])
def test_autodiscovery_finds_every_task(mode: str) -> None:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DATABASE_URL", "CELERY_", "REELSMITH_TEST"))
    }
    env.update(DJANGO_SETTINGS_MODULE="core.settings", CELERY_SKIP_CHECKS="1")
    result = subprocess.run(
        [sys.executable, "-c", PROBE, mode], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout.strip().splitlines()[-1])
    # Nothing registers a task as a side effect of setting Django up; discovery finds them all.
    assert found["before"] == []
    assert sorted(found["tasks"]) == sorted(TASKS)
    for name, queue in TASKS.items():
        task = found["tasks"][name]
        assert (task["queue"], task["route"]) == (queue, queue), name
        assert task["options"] == [True, True, True], name
