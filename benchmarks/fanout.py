"""Benchmark campaign import and fan-out at 1,000 and 10,000 recipients. Prints one JSON object last.

Real parts: Django, a fresh SQLite database (or DATABASE_URL's server), the CSV import service, the launch
and fan-out services, `render_request` for every recipient (validation, the Render row, credits), the
render-finished receivers. Stubbed at the engine boundary only: the render tasks (`render.plan` and what
follows it: diffusion and ffmpeg) are dropped at the queue instead of sent, so the figures are the cost of
getting N renders accepted and queued, not of rendering them.

`growth` is seconds (import + enqueue) at 10k over seconds at 1k: 10 means linear; ≤ 12 is the target.
`queries_per_recipient` (enqueue) must not grow with campaign size.

    .venv/bin/python -m benchmarks.fanout
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

SIZES = (1_000, 10_000)
# Each size runs this many times (a fresh campaign each time, same database); medians are reported
# (docs/performance.md: the machines are shared and noisy). A 200-recipient warm-up runs first, unmeasured.
REPEATS = 3
WARMUP = 200


def _setup(workdir: Path) -> None:
    os.environ.setdefault("SQLITE_PATH", str(workdir / "bench.sqlite3"))
    os.environ.setdefault("REELSMITH_VAR_DIR", str(workdir))
    os.environ["REELSMITH_EMBEDDED_WORKER"] = "sync"  # tasks other than the stubbed ones run in this process
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "core.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


# Fan-out tasks sent, in order, for `_drain` to run one after another as a worker would. (Embedded `sync`
# mode would run each inside the commit of the one before, nesting every chunk's frames on one stack.)
QUEUED_FANOUTS: list[str] = []


def _stub_render_tasks() -> None:
    """Drop render.* tasks at the queue: nothing past the engine boundary runs. Queue fan-out tasks."""
    import core.queue

    real_send = core.queue._send

    def send(
        task_name: str, args: Any, priority: int | None, countdown: float, queue: str | None = None
    ) -> Any:
        if task_name.startswith("render."):
            return None
        if task_name == "campaigns.fanout":
            QUEUED_FANOUTS.append(args[0])
            return None
        return real_send(task_name, args, priority, countdown, queue)

    core.queue._send = send  # benchmark-only monkeypatch


class _QueryCounter:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        self.count += 1
        return execute(sql, params, many, context)


def _csv(path: Path, size: int, start: int) -> Path:
    with path.open("w", encoding="utf-8") as out:
        out.write("first_name,company,external_id,email\n")
        for i in range(start, start + size):
            out.write(f"Name{i},Company {i % 97},crm-{i},person{i}@example.com\n")
    return path


def run_size(size: int, workdir: Path, workspace: Any, template_version: Any, brand: Any) -> dict[str, float]:
    from django.conf import settings
    from django.db import connection

    from campaigns.models import Campaign
    from campaigns.recipients import recipients_import
    from campaigns.services import campaign_create, campaign_fanout, campaign_launch
    from render.models import Render, RenderStatus

    # The cap is not what is measured here: stubbed renders never finish, so a whole run stays in flight.
    settings.REELSMITH_CAMPAIGN_MAX_IN_FLIGHT = size
    campaign = campaign_create(
        workspace=workspace, name=f"bench-{size}", template_version=template_version, brand=brand
    )
    path = _csv(workdir / f"people-{campaign.pk}.csv", size, start=0)
    started = time.perf_counter()
    with path.open("rb") as file:
        report = recipients_import(campaign=campaign, file=file)
    import_s = time.perf_counter() - started
    assert report.accepted == size, report

    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.APPROVED)
    counter = _QueryCounter()
    started = time.perf_counter()
    with connection.execute_wrapper(counter):
        campaign_launch(campaign=campaign)
        while QUEUED_FANOUTS:  # the worker: one fan-out task after another, each enqueuing the next chunk
            campaign_fanout(campaign_id=QUEUED_FANOUTS.pop(0))
    enqueue_s = time.perf_counter() - started
    renders = Render.objects.filter(campaign_link__campaign=campaign).count()
    assert renders == size, renders
    # What the (stubbed) renders would have done by the next run: finish, freeing the workspace's cap.
    Render.objects.filter(campaign_link__campaign=campaign).update(status=RenderStatus.CANCELED)
    return {
        "import_s": round(import_s, 3),
        "enqueue_s": round(enqueue_s, 3),
        "queries_per_recipient": round(counter.count / size, 3),
    }


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="reelsmith-fanout-") as tmp:
        workdir = Path(tmp)
        _setup(workdir)
        _stub_render_tasks()
        from core.models import Brand
        from core.services import workspace_get_or_create
        from templates.services import template_create
        from tests.factories import small_spec

        workspace = workspace_get_or_create(name="bench")
        brand = Brand.objects.create(
            workspace=workspace,
            name="b",
            color_primary="#000000",
            color_secondary="#111111",
            color_text="#FFFFFF",
        )
        version = template_create(workspace=workspace, name="t", spec=small_spec())
        run_size(WARMUP, workdir, workspace, version, brand)
        results = {}
        for size in SIZES:
            runs = [run_size(size, workdir, workspace, version, brand) for _ in range(REPEATS)]
            results[size] = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
            print(f"{size}: {runs}", file=sys.stderr)
        small, large = results[SIZES[0]], results[SIZES[-1]]
        total = {s: r["import_s"] + r["enqueue_s"] for s, r in results.items()}
        peak_rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB
        print(
            json.dumps(
                {
                    "sizes": list(SIZES),
                    "repeats": REPEATS,
                    "import_s": {str(s): r["import_s"] for s, r in results.items()},
                    "enqueue_s": {str(s): r["enqueue_s"] for s, r in results.items()},
                    "queries_per_recipient": {str(s): r["queries_per_recipient"] for s, r in results.items()},
                    "queries_per_recipient_growth": round(
                        large["queries_per_recipient"] / small["queries_per_recipient"], 3
                    ),
                    "growth": round(total[SIZES[-1]] / total[SIZES[0]], 2),
                    "peak_rss_mib": round(peak_rss_mib, 1),
                    "database": "sqlite" if "DATABASE_URL" not in os.environ else "postgresql",
                }
            )
        )


if __name__ == "__main__":
    main()
