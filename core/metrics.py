"""`/metrics` in Prometheus text: the fleet's state read at scrape time, and this API's own HTTP traffic.

Renders and generations run in worker processes on other machines; counting them in the database (the source
of truth) makes the API's `/metrics` correct for the whole fleet, not just for the process that serves it.
Apps register such collectors here (`register`). The queues are read the same way: the depth of each Celery
queue is read from the Redis broker at scrape time (`QueueDepthCollector`).

HTTP requests (count and latency by method, route pattern and status) are the one thing only the serving
process knows: counted in-process by `core.logs.RequestContextMiddleware`. Under gunicorn's several workers,
set `PROMETHEUS_MULTIPROC_DIR` (the API image does) and every worker's counts are summed at scrape time
(prometheus_client's multiprocess mode).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from typing import Any

import redis
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

logger = logging.getLogger(__name__)

registry = CollectorRegistry(auto_describe=False)

# This process's HTTP traffic; kept apart from `registry` so multiprocess mode can replace it at scrape time.
_http_registry = CollectorRegistry()
HTTP_REQUESTS = Counter(
    "reelsmith_http_requests",
    "HTTP requests served, by method, route pattern and status.",
    ["method", "route", "status"],
    registry=_http_registry,
)
HTTP_SECONDS = Histogram(
    "reelsmith_http_request_duration_seconds",
    "Time to answer an HTTP request, by method and route pattern.",
    ["method", "route"],
    registry=_http_registry,
    # From a cached read to a multipart upload; prometheus_client's defaults stop at 10 s.
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)

# kombu's Redis transport keeps one list per priority step (`<queue>`, `<queue>:1`, ... with
# `priority_steps` 0-9 and `sep` ":", core/settings.py), step 0 under the bare queue name.
QUEUE_READ_TIMEOUT_SECONDS = 2.0


def register(collector: Collector) -> None:
    registry.register(collector)


def http_observe(*, method: str, route: str, status: int, seconds: float) -> None:
    HTTP_REQUESTS.labels(method=method, route=route, status=str(status)).inc()
    HTTP_SECONDS.labels(method=method, route=route).observe(seconds)


def celery_queue_names() -> list[str]:
    """Every queue a task is sent to: the default one, each route's, and the compose shards
    (`compose.<k>`, when REELSMITH_COMPOSE_SHARDS is set: cpu work a scaler must count too)."""
    names = {settings.CELERY_TASK_DEFAULT_QUEUE}
    names.update(route["queue"] for route in settings.CELERY_TASK_ROUTES.values() if "queue" in route)
    names.update(f"compose.{k}" for k in range(max(0, int(settings.REELSMITH_COMPOSE_SHARDS))))
    return sorted(names)


def redis_list_keys(queue: str) -> list[str]:
    options: dict[str, Any] = settings.CELERY_BROKER_TRANSPORT_OPTIONS
    sep = options.get("sep", "\x06\x16")  # kombu's default separator
    steps: list[int] = options.get("priority_steps", [0])
    return [queue if step == 0 else f"{queue}{sep}{step}" for step in steps]


class QueueDepthCollector(Collector):
    """`reelsmith_queue_depth{queue}`: messages waiting in each Celery queue (Redis broker only; none
    embedded). A broker that does not answer within 2 s yields no sample and `reelsmith_queue_up 0`."""

    def collect(self) -> Iterator[Metric]:
        url = settings.CELERY_BROKER_URL
        if not url.startswith(("redis://", "rediss://")):
            return
        up = GaugeMetricFamily("reelsmith_queue_up", "1 when the broker answered this scrape.")
        depth = GaugeMetricFamily(
            "reelsmith_queue_depth", "Messages waiting in a Celery queue (all priorities).", labels=["queue"]
        )
        client = redis.Redis.from_url(
            url, socket_connect_timeout=QUEUE_READ_TIMEOUT_SECONDS, socket_timeout=QUEUE_READ_TIMEOUT_SECONDS
        )
        try:
            for queue in celery_queue_names():
                pipe = client.pipeline(transaction=False)
                for key in redis_list_keys(queue):
                    pipe.llen(key)
                depth.add_metric([queue], sum(pipe.execute()))
        except redis.RedisError:
            logger.warning("reading queue depths from the broker failed", exc_info=True)
            up.add_metric([], 0)
            yield up
            return
        finally:
            client.close()
        up.add_metric([], 1)
        yield up
        yield depth


def _http_exposition() -> bytes:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        merged = CollectorRegistry()
        MultiProcessCollector(merged)
        return generate_latest(merged)
    return generate_latest(_http_registry)


def metrics_view(request: HttpRequest) -> HttpResponse:
    return HttpResponse(generate_latest(registry) + _http_exposition(), content_type=CONTENT_TYPE_LATEST)
