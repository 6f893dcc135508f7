"""Benchmark the watch pages' engagement path. Prints one JSON object last.

1. **Ingest**: the beacon endpoint (`POST /w/<token>/events`) under concurrent load, served by gunicorn (sync
   workers, as deployed: infra/k8s) on a throwaway PostgreSQL database at 127.0.0.1:5432 and the Redis at
   127.0.0.1:6379 as Django's cache (the snapshot of each page, the daily salt, the per-page budget). Client
   threads play viewings (view, play, 25/50/75/100 %, CTA) on random pages; each request is timed from
   connect to answer. Reports events per second, p50/p99 latency, and checks that the counters add up to the
   events stored (the rollups are right, not only fast).
2. **Analytics at size**: a campaign's analytics (`campaigns.selectors.campaign_analytics`) timed with 10
   thousand and with 1 million events stored (bulk-copied, then rolled up as ingest would have), beside the
   same totals counted from the events themselves. The analytics read the rollups, so their time should not
   move with the number of events; the count over events should grow with it.

Render rows are inserted as succeeded with their watch pages; nothing is composed (neither path reads a
video). Default run: under 3 minutes on the 2-core development machine.

    .venv/bin/python -m benchmarks.events
"""

from __future__ import annotations

import http.client
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
# Load: gunicorn sync workers (the API deployment runs 4: infra/k8s/base/api-deployment.yaml), client threads
# (enough to keep every worker busy while others wait on the database), seconds of load after a warm-up.
WORKERS = 4
CLIENTS = 8
WARMUP_S = 3.0
LOAD_S = 20.0
LOAD_PAGES = 300
# Size test: one campaign of this many recipients, its events spread over this many days. Every page has
# events on every day at both sizes (2,500 page-days: the first 10k events visit each once), so the rollups
# hold the same rows at 10k and at 1M events and what moves is only the number of events.
ANALYTICS_RENDERS = 500
DAYS = 5
SIZES = (10_000, 1_000_000)
REPEATS = 15  # timings per size; medians reported
# Django's cache for the server and this process: a Redis database the test suite does not use (it takes 12,
# infra/scripts/test.sh); the watch pages' keys are deleted from it afterwards (never FLUSHDB).
CACHE_URL = "redis://127.0.0.1:6379/13"
BROWSER = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)
KINDS = ("view", "play", "progress_25", "progress_50", "progress_75", "progress_100", "cta")


def _environment(database_url: str) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "DJANGO_SECRET_KEY": "benchmark-only-" + uuid.uuid4().hex,
        "REELSMITH_CACHE_URL": CACHE_URL,
        "DJANGO_SECURE_SSL_REDIRECT": "0",  # plain HTTP on loopback, no TLS proxy in front
        "LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "core.settings",
    }


def _setup(env: dict[str, str]) -> None:
    os.environ.update(env)
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def _campaign(name: str, renders: int) -> tuple[Any, list[str]]:
    """A campaign whose `renders` recipients' renders succeeded, each with its watch page: (campaign, tokens)."""
    from campaigns.models import Campaign, CampaignRender, Recipient
    from core.models import Brand
    from core.services import workspace_get_or_create
    from render.models import Render, RenderStatus, WatchPage
    from render.watch.services import token_new
    from templates.services import template_create
    from tests.factories import small_spec

    workspace = workspace_get_or_create(name=f"bench-{name}")
    brand = Brand.objects.create(
        workspace=workspace,
        name="b",
        color_primary="#000000",
        color_secondary="#111111",
        color_text="#FFFFFF",
    )
    spec = small_spec(cta={"label": "Book", "url": "https://cal.example.com/{{first_name}}"})
    version = template_create(workspace=workspace, name=name, spec=spec)
    campaign = Campaign.objects.create(
        workspace=workspace,
        name=name,
        template_version=version,
        brand=brand,
        status=Campaign.Status.COMPLETED,
    )
    now = datetime.now(UTC)
    rows = [
        Render(
            workspace=workspace,
            template_version=version,
            brand=brand,
            variables={"first_name": f"P{i}", "company": "c", "industry": "i"},
            status=RenderStatus.SUCCEEDED,
            batch=True,
            video_key=f"renders/{workspace.pk}/{i}/video.mp4",
            thumbnail_key=f"renders/{workspace.pk}/{i}/thumbnail.jpg",
            outputs=[
                {
                    "format": "180x320",
                    "width": 180,
                    "height": 320,
                    "video_key": "v.mp4",
                    "poster_key": "p.jpg",
                }
            ],
            width=180,
            height=320,
            duration=2.0,
            finished_at=now,
        )
        for i in range(renders)
    ]
    Render.objects.bulk_create(rows, batch_size=1000)
    recipients = Recipient.objects.bulk_create(
        [Recipient(campaign=campaign, variables={}, position=i + 1) for i in range(renders)], batch_size=1000
    )
    CampaignRender.objects.bulk_create(
        [
            CampaignRender(render=r, campaign=campaign, recipient=p)
            for r, p in zip(rows, recipients, strict=True)
        ],
        batch_size=1000,
    )
    pages = WatchPage.objects.bulk_create(
        [WatchPage(render=r, token=token_new()) for r in rows], batch_size=1000
    )
    return campaign, [p.token for p in pages]


# --- 1. ingest under load ---------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _gunicorn(env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    """gunicorn serving the app; its log (a JSON line per request) goes to a file, never an unread pipe."""
    server = subprocess.Popen(  # our own interpreter, fixed arguments
        [
            sys.executable,
            "-m",
            "gunicorn",
            "core.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(WORKERS),
            "--timeout",
            "60",
        ],
        cwd=REPO,
        env={**os.environ, **env, "REELSMITH_EMBEDDED_PERIODIC": "0"},
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                return server
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise RuntimeError("gunicorn did not answer /healthz: " + log.read_text(errors="replace")[-2000:])


def _post(port: int, token: str, kind: str, session: str) -> tuple[int, float]:
    body = json.dumps({"kind": kind, "session": session})
    started = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(
            "POST",
            f"/w/{token}/events",
            body=body,
            headers={"Content-Type": "text/plain;charset=UTF-8", "User-Agent": BROWSER},
        )
        status = connection.getresponse().status
    finally:
        connection.close()
    return status, time.perf_counter() - started


def _load(port: int, tokens: list[str]) -> dict[str, Any]:
    """CLIENTS threads, each playing whole viewings on random pages until the time is up."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    measuring = threading.Event()
    stop = threading.Event()

    def client(seed: int) -> None:
        rng = random.Random(seed)  # load shape, not security
        while not stop.is_set():
            token, session = rng.choice(tokens), uuid.uuid4().hex
            for kind in KINDS[: rng.randint(1, len(KINDS))]:
                status, seconds = _post(port, token, kind, session)
                if measuring.is_set() and not stop.is_set():
                    with lock:
                        latencies.append(seconds)
                        statuses[status] = statuses.get(status, 0) + 1

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    time.sleep(WARMUP_S)
    measuring.set()
    started = time.perf_counter()
    time.sleep(LOAD_S)
    stop.set()
    elapsed = time.perf_counter() - started
    for thread in threads:
        thread.join()
    latencies.sort()
    return {
        "events": len(latencies),
        "events_per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": round(1000 * latencies[len(latencies) // 2], 2),
        "p99_ms": round(1000 * latencies[int(len(latencies) * 0.99)], 2),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
    }


def _counters_add_up(campaign: Any) -> bool:
    """Every stored event is in its page's counters and its day's: the rollups equal a count of the events."""
    from django.db.models import Count, Sum

    from render.models import WatchDaily, WatchEvent, WatchPage
    from render.watch.services import COUNTERS

    pages = WatchPage.objects.filter(render__campaign_link__campaign=campaign)
    stored = dict(WatchEvent.objects.filter(page__in=pages).values_list("kind").annotate(n=Count("pk")))
    totals = pages.aggregate(**{f"t_{field}": Sum(field) for field in COUNTERS.values()})
    days = WatchDaily.objects.filter(page__in=pages).aggregate(
        **{f"d_{field}": Sum(field) for field in COUNTERS.values()}
    )
    return all(
        stored.get(kind, 0) == (totals[f"t_{field}"] or 0) == (days[f"d_{field}"] or 0)
        for kind, field in COUNTERS.items()
    )


# --- 2. analytics at 10k and 1M events --------------------------------------------------------------------------


def _copy_events(page_ids: list[int], count: int, seed: int, *, first_fill: bool) -> None:
    """Bulk-load `count` events (COPY): whole viewings on random pages over DAYS days, each going as far into
    the funnel as chance says, so kinds thin out as a real funnel does."""
    from django.db import connection

    rng = random.Random(seed)
    today = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    written, viewing = 0, 0
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(
            "COPY render_watchevent (page_id, kind, session, viewer, created_at) FROM STDIN"
        ) as copy,
    ):
        while written < count:
            if first_fill and viewing < len(page_ids) * DAYS:  # each page on each day once, first
                page, day = page_ids[viewing % len(page_ids)], viewing // len(page_ids)
            else:
                page, day = rng.choice(page_ids), rng.randrange(DAYS)
            viewing += 1
            session, viewer = uuid.UUID(int=rng.getrandbits(128)).hex, uuid.UUID(int=rng.getrandbits(128)).hex
            at = today - timedelta(days=day, seconds=rng.randrange(43_200))
            for kind in KINDS[: min(rng.randint(1, len(KINDS)), count - written)]:
                copy.write_row((page, kind, session, viewer, at))
                written += 1


ROLLUP_SQL = """
DELETE FROM render_watchdaily WHERE page_id = ANY(%(pages)s);
INSERT INTO render_watchdaily
    (page_id, day, views, unique_viewers, plays, progress_25, progress_50, progress_75, progress_100, cta_clicks,
     bot_hits)
SELECT page_id, (created_at AT TIME ZONE 'UTC')::date,
    COUNT(*) FILTER (WHERE kind = 'view'), COUNT(DISTINCT viewer) FILTER (WHERE kind = 'view'),
    COUNT(*) FILTER (WHERE kind = 'play'), COUNT(*) FILTER (WHERE kind = 'progress_25'),
    COUNT(*) FILTER (WHERE kind = 'progress_50'), COUNT(*) FILTER (WHERE kind = 'progress_75'),
    COUNT(*) FILTER (WHERE kind = 'progress_100'), COUNT(*) FILTER (WHERE kind = 'cta'), 0
FROM render_watchevent WHERE page_id = ANY(%(pages)s) GROUP BY 1, 2;
UPDATE render_watchpage p SET views = d.views, unique_viewers = d.unique_viewers, plays = d.plays,
    progress_25 = d.p25, progress_50 = d.p50, progress_75 = d.p75, progress_100 = d.p100, cta_clicks = d.cta
FROM (SELECT page_id, SUM(views) views, SUM(unique_viewers) unique_viewers, SUM(plays) plays,
        SUM(progress_25) p25, SUM(progress_50) p50, SUM(progress_75) p75, SUM(progress_100) p100,
        SUM(cta_clicks) cta
      FROM render_watchdaily WHERE page_id = ANY(%(pages)s) GROUP BY page_id) d
WHERE p.id = d.page_id;
ANALYZE render_watchevent; ANALYZE render_watchdaily; ANALYZE render_watchpage;
"""


def _rollup(page_ids: list[int]) -> None:
    """What ingest keeps up event by event (render/watch/services.py), rebuilt at once for copied events."""
    from django.db import connection

    with connection.cursor() as cursor:
        for statement in ROLLUP_SQL.split(";"):
            if statement.strip():
                cursor.execute(statement, {"pages": page_ids})


def _median_ms(call: Any) -> float:
    call()  # warm: plans and the buffer cache, as a dashboard that is open all day has them
    runs = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        call()
        runs.append(time.perf_counter() - started)
    return round(1000 * statistics.median(runs), 2)


def _at_size(campaign: Any, page_ids: list[int]) -> list[dict[str, Any]]:
    from django.db.models import Count

    from campaigns.selectors import campaign_analytics
    from render.models import WatchDaily, WatchEvent

    results, stored = [], 0
    for size in SIZES:
        started = time.perf_counter()
        _copy_events(page_ids, size - stored, seed=size, first_fill=stored == 0)
        stored = size
        _rollup(page_ids)
        load_s = time.perf_counter() - started
        analytics = campaign_analytics(campaign=campaign)
        assert analytics["funnel"]["sent"] == len(page_ids)

        def from_events() -> Any:
            return list(
                WatchEvent.objects.filter(page__render__campaign_link__campaign=campaign)
                .values("kind")
                .annotate(n=Count("pk"))
                .order_by()
            )

        counted = {row["kind"]: row["n"] for row in from_events()}
        assert counted["view"] == analytics["views"], (counted, analytics["views"])  # same answer, two ways
        results.append(
            {
                "events": size,
                "load_s": round(load_s, 1),
                "rollup_rows": WatchDaily.objects.filter(page_id__in=page_ids).count(),
                "analytics_ms": _median_ms(lambda: campaign_analytics(campaign=campaign)),
                "count_from_events_ms": _median_ms(from_events),
            }
        )
        print(f"{size}: {results[-1]}", file=sys.stderr)
    return results


def _forget_cache_keys() -> None:
    import redis

    client = redis.Redis.from_url(CACHE_URL)
    try:
        keys = list(client.scan_iter(match="*:watch:*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def main() -> None:
    from tests.support.postgres import drop_database, fresh_database_url

    database_url = fresh_database_url("bench_events")
    env = _environment(database_url)
    server: subprocess.Popen[bytes] | None = None
    try:
        _setup(env)
        load_campaign, tokens = _campaign("load", LOAD_PAGES)
        port = _free_port()
        server = _gunicorn(env, port, Path(tempfile.gettempdir()) / f"bench-events-{port}.log")
        ingest = _load(port, tokens)
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
        server = None
        print(f"ingest: {ingest}", file=sys.stderr)
        consistent = _counters_add_up(load_campaign)

        from render.models import WatchPage

        size_campaign, _tokens = _campaign("size", ANALYTICS_RENDERS)
        page_ids = list(
            WatchPage.objects.filter(render__campaign_link__campaign=size_campaign).values_list(
                "pk", flat=True
            )
        )
        sizes = _at_size(size_campaign, page_ids)
        small, large = sizes[0], sizes[-1]
        print(
            json.dumps(
                {
                    "benchmark": "events",
                    "cpu_count": os.cpu_count(),
                    "gunicorn_workers": WORKERS,
                    "clients": CLIENTS,
                    "load_s": LOAD_S,
                    "events_per_s": ingest["events_per_s"],
                    "p50_ms": ingest["p50_ms"],
                    "p99_ms": ingest["p99_ms"],
                    "events_ingested": ingest["events"],
                    "statuses": ingest["statuses"],
                    "rollups_equal_events": consistent,
                    "analytics_renders": ANALYTICS_RENDERS,
                    "sizes": sizes,
                    "analytics_growth": round(large["analytics_ms"] / small["analytics_ms"], 2),
                    "count_from_events_growth": round(
                        large["count_from_events_ms"] / small["count_from_events_ms"], 2
                    ),
                    "database": "postgresql",
                }
            )
        )
    finally:
        if server is not None:
            server.kill()
            server.wait()
        from django.db import connections

        connections.close_all()
        drop_database(database_url)
        _forget_cache_keys()


if __name__ == "__main__":
    main()
