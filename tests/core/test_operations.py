"""What operations expect of the API (issue 14, item 7): throttling with Retry-After, request ids and
structured logs, liveness and readiness, HTTP and queue metrics, errors to Sentry."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog
from celery import shared_task
from django.core.management import call_command
from rest_framework.test import APIClient

from core import health
from core.logs import _pre_chain, task_context_bind, task_headers_add
from core.models import Workspace
from render.services import requests as render_requests
from render.services.requests import IN_FLIGHT_RETRY_AFTER_SECONDS
from tests.conftest import SERVICES
from tests.factories import WorkspaceFactory, api_key_for, small_spec
from tests.render.test_api_renders import make_brand, make_template, request_render

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def captured_json_logs() -> Iterator[list[dict[str, Any]]]:
    """Every log record, rendered as service mode renders it (JSON, with the bound context)."""
    lines: list[dict[str, Any]] = []

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(json.loads(self.format(record)))

    handler = Capture()
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                structlog.processors.JSONRenderer(),
            ],
            foreign_pre_chain=_pre_chain(),
        )
    )
    root, request_logger = logging.getLogger(), logging.getLogger("reelsmith.request")
    previous = request_logger.level
    root.addHandler(handler)
    request_logger.setLevel(logging.INFO)
    yield lines
    root.removeHandler(handler)
    request_logger.setLevel(previous)


# --- throttling -----------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_each_api_key_is_throttled_on_its_own_with_retry_after(api: APIClient, settings: Any) -> None:
    settings.REELSMITH_THROTTLE_RATE = "3/minute"  # counted per key: this test's keys are new
    for _ in range(3):
        assert api.get("/api/v1/brands/").status_code == 200
    refused = api.get("/api/v1/brands/")
    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= 60
    assert set(refused.json()) == {"message"}  # the one error shape

    other = APIClient()
    other.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_for(WorkspaceFactory.create())}")
    assert other.get("/api/v1/brands/").status_code == 200  # another key has its own budget
    second_key = APIClient()
    second_key.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_for(api.workspace)}")  # type: ignore[attr-defined]
    assert second_key.get("/api/v1/brands/").status_code == 200  # per key, not per workspace


@pytest.mark.django_db
def test_throttling_can_be_switched_off(api: APIClient, settings: Any) -> None:
    settings.REELSMITH_THROTTLE_RATE = "off"
    assert all(api.get("/api/v1/brands/").status_code == 200 for _ in range(5))


@pytest.mark.django_db(transaction=True)
def test_the_in_flight_429_says_when_to_retry(
    api: APIClient, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.STRIPE_SECRET_KEY = "sk_test_reelsmith_no_calls_made"  # billing on: the free plan's 2 in flight
    settings.STRIPE_WEBHOOK_SECRET = "whsec_test_reelsmith"
    monkeypatch.setattr(render_requests, "enqueue", lambda *args, **kwargs: None)  # renders stay in flight
    workspace: Workspace = api.workspace  # type: ignore[attr-defined]
    call_command("grant_credits", str(workspace.pk), "100", "--reason", "test", "--by", "pytest")
    spec = small_spec()
    spec["scenes"] = [spec["scenes"][1]]  # no generated picture: one credit
    spec.pop("transition")
    template, brand = make_template(api, spec), make_brand(api)
    assert request_render(api, template, brand, {"first_name": "A"}).status_code == 202
    assert request_render(api, template, brand, {"first_name": "B"}).status_code == 202
    refused = request_render(api, template, brand, {"first_name": "C"})
    assert refused.status_code == 429
    assert refused["Retry-After"] == str(IN_FLIGHT_RETRY_AFTER_SECONDS)


# --- request ids and structured logs --------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_request_id_is_echoed_or_made(api: APIClient) -> None:
    given = api.get("/api/v1/brands/", HTTP_X_REQUEST_ID="req-42.a:b")
    assert given["X-Request-ID"] == "req-42.a:b"
    made = api.get("/api/v1/brands/")
    assert re.fullmatch(r"[0-9a-f]{32}", made["X-Request-ID"])
    hostile = api.get("/api/v1/brands/", HTTP_X_REQUEST_ID="a b\u202e" + "x" * 300)
    assert re.fullmatch(r"[0-9a-f]{32}", hostile["X-Request-ID"])  # never echoed as sent
    assert APIClient().get("/healthz")["X-Request-ID"]  # every answer, not only the API's


@pytest.mark.django_db
def test_each_request_is_logged_once_as_json_with_its_id(
    api: APIClient, captured_json_logs: list[dict[str, Any]]
) -> None:
    api.get("/api/v1/brands/", HTTP_X_REQUEST_ID="req-logged")
    requests = [line for line in captured_json_logs if line.get("logger") == "reelsmith.request"]
    assert len(requests) == 1
    assert requests[0] == {
        **requests[0],
        "event": "request",
        "request_id": "req-logged",
        "method": "GET",
        "route": "/api/v1/brands/",
        "status": 200,
        "level": "info",
    }


@shared_task(name="tests.core.log_with_ids")
def log_with_ids(render_id: str, campaign_id: str, note: str) -> None:
    logging.getLogger("tests.core").warning("working on it: %s", note)


def test_a_task_logs_its_ids_and_the_request_id_of_whoever_enqueued_it(
    captured_json_logs: list[dict[str, Any]],
) -> None:
    with structlog.contextvars.bound_contextvars(request_id="req-from-api"):
        log_with_ids.apply(args=["r-1", "c-2", "hello"])
        after = structlog.contextvars.get_contextvars()
    line = next(line for line in captured_json_logs if line.get("logger") == "tests.core")
    assert line["event"] == "working on it: hello"
    assert (line["render_id"], line["campaign_id"], line["request_id"]) == ("r-1", "c-2", "req-from-api")
    assert line["task"] == "tests.core.log_with_ids"
    assert "note" not in line  # only ids are bound
    assert after == {"request_id": "req-from-api"}  # the caller's context is restored after the task


def test_the_request_id_travels_with_a_message_to_the_worker() -> None:
    headers: dict[str, Any] = {}
    with structlog.contextvars.bound_contextvars(request_id="req-sent"):
        task_headers_add(headers=headers)
    assert headers == {"reelsmith_request_id": "req-sent"}

    class Request:
        reelsmith_request_id = "req-sent"  # Celery exposes a message's custom headers on task.request

    class Task:
        name = "tests.core.log_with_ids"
        request = Request()
        run = log_with_ids.run

    structlog.contextvars.clear_contextvars()
    task_context_bind(task_id="t-1", task=Task(), args=["r-9", "c-9", "n"], kwargs={})
    try:
        assert structlog.contextvars.get_contextvars()["request_id"] == "req-sent"
    finally:
        structlog.contextvars.clear_contextvars()


# --- health ----------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_liveness_touches_nothing_and_says_nothing_more(django_assert_num_queries: Any) -> None:
    with django_assert_num_queries(0):
        response = APIClient().get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readiness_checks_database_broker_and_storage() -> None:
    response = APIClient().get("/readyz")
    assert response.status_code == 200, response.json()
    expected_broker = "ok" if SERVICES else "embedded"
    assert response.json() == {
        "status": "ok",
        "checks": {"broker": expected_broker, "database": "ok", "storage": "ok"},
    }


@pytest.mark.django_db
def test_readiness_names_the_component_that_failed_and_nothing_else(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def storage_down() -> None:
        raise ConnectionError("secret-host.internal:9000 refused the connection")

    monkeypatch.setattr(health, "_storage", storage_down)
    response = APIClient().get("/readyz")
    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"
    assert response.json()["checks"]["storage"] == "unavailable"
    assert response.json()["checks"]["database"] == "ok"
    assert "secret-host" not in response.content.decode()
    assert "secret-host" in caplog.text  # the operator's log says why


@pytest.mark.django_db
def test_readiness_answers_in_time_when_a_component_hangs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(health, "CHECK_TIMEOUT_SECONDS", 0.3)
    monkeypatch.setattr(health, "_storage", lambda: time.sleep(3))
    started = time.monotonic()
    response = APIClient().get("/readyz")
    assert time.monotonic() - started < 2
    assert response.status_code == 503
    assert response.json()["checks"]["storage"] == "unavailable"


@pytest.mark.skipif(not SERVICES, reason="needs the Redis broker of service mode")
@pytest.mark.services
@pytest.mark.django_db
def test_readiness_fails_when_the_broker_is_unreachable(settings: Any) -> None:
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    response = APIClient().get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["broker"] == "unavailable"


# --- metrics ---------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_http_requests_are_counted_by_route_and_status(api: APIClient) -> None:
    api.get("/api/v1/brands/")
    api.get("/api/v1/brands/00000000-0000-0000-0000-000000000000/")
    text = APIClient().get("/metrics").content.decode()
    ok = re.search(
        r'reelsmith_http_requests_total\{method="GET",route="/api/v1/brands/",status="200"\} (\S+)', text
    )
    assert ok is not None
    assert float(ok.group(1)) >= 1
    assert 'route="/api/v1/brands/<str:brand_id>/",status="404"' in text  # the pattern, never the id
    assert "00000000-0000" not in text
    assert (
        'reelsmith_http_request_duration_seconds_bucket{le="0.1",method="GET",route="/api/v1/brands/"}'
        in text
    )


@pytest.mark.services
@pytest.mark.django_db
def test_queue_depth_is_read_from_redis_at_scrape_time(settings: Any) -> None:
    import redis

    queue = f"h14-depth-{uuid.uuid4().hex[:8]}"  # a queue no worker consumes
    settings.CELERY_TASK_DEFAULT_QUEUE = queue
    settings.CELERY_TASK_ROUTES = {}
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    try:
        client.rpush(queue, b"m1", b"m2")  # priority 0
        client.rpush(f"{queue}:6", b"m3")  # a campaign's priority
        text = APIClient().get("/metrics").content.decode()
    finally:
        client.delete(queue, f"{queue}:6")
    assert f'reelsmith_queue_depth{{queue="{queue}"}} 3.0' in text
    assert "reelsmith_queue_up 1.0" in text


# --- Sentry ----------------------------------------------------------------------------------------------------

SENTRY_SCRIPT = """
import sys, threading, json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

received = []

class Sentry(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        encoding = self.headers.get("Content-Encoding", "")
        if encoding == "gzip":
            import gzip
            body = gzip.decompress(body)
        elif encoding == "br":
            import brotli
            body = brotli.decompress(body)
        received.append(body)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass

server = ThreadingHTTPServer(("127.0.0.1", 0), Sentry)
threading.Thread(target=server.serve_forever, daemon=True).start()
import os
os.environ["SENTRY_DSN"] = f"http://public@127.0.0.1:{server.server_address[1]}/1"

import django
django.setup()
from django.http import HttpResponse
from django.test import Client, override_settings
from django.urls import path

def boom(request):
    raise RuntimeError("sentry-canary-error")

urlpatterns = [path("boom", boom)]
with override_settings(ROOT_URLCONF="__main__"):
    assert Client(raise_request_exception=False).get("/boom").status_code == 500
import sentry_sdk
sentry_sdk.flush(timeout=10)
server.shutdown()
print(json.dumps({"envelopes": len(received), "canary": any(b"sentry-canary-error" in r for r in received)}))
"""


def _bare_env(**extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DATABASE_URL", "CELERY_", "AWS_", "REELSMITH_TEST", "SENTRY_"))
    }
    env.update(DJANGO_SETTINGS_MODULE="core.settings", REELSMITH_EMBEDDED_PERIODIC="off", **extra)
    return env


def test_an_unhandled_error_reaches_sentry_when_a_dsn_is_set(tmp_path: Path) -> None:
    """A loopback stand-in for Sentry receives the error; nothing leaves the machine."""
    result = subprocess.run(
        [sys.executable, "-c", SENTRY_SCRIPT],
        cwd=REPO,
        env=_bare_env(SQLITE_PATH=str(tmp_path / "db.sqlite3")),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert outcome == {"envelopes": outcome["envelopes"], "canary": True}


def test_nothing_is_sent_without_a_dsn() -> None:
    import sentry_sdk

    assert not os.environ.get("SENTRY_DSN")
    assert not sentry_sdk.get_client().is_active()
