"""`/metrics` in Prometheus text. Apps register collectors that read the database at scrape time.

Renders and generations run in worker processes on other machines; counting them in the database (the source
of truth) makes the API's `/metrics` correct for the whole fleet, not just for the process that serves it.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.registry import Collector

registry = CollectorRegistry(auto_describe=False)


def register(collector: Collector) -> None:
    registry.register(collector)


def metrics_view(request: HttpRequest) -> HttpResponse:
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
