"""Operations: health, metrics, schema, the API-key command, deploy checks, queue settings, embedded worker."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from rest_framework.test import APIClient

from core.models import ApiKey, Workspace
from tests.conftest import SERVICES
from tests.render.test_api_renders import make_brand, make_template, request_render

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.django_db
def test_healthz_reports_database_reachable() -> None:
    response = APIClient().get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_metrics_expose_renders_generations_cache_hits_and_batch_sizes(api: APIClient) -> None:
    request_render(api, make_template(api), make_brand(api), {"first_name": "Zoë"})
    text = APIClient().get("/metrics").content.decode()
    assert 'reelsmith_renders{status="queued"} 1.0' in text
    for name in (
        "reelsmith_generations_total",
        "reelsmith_generation_cache_hits_total",
        "reelsmith_generation_batch_size_bucket",
        "reelsmith_generation_seconds_total",
    ):
        assert name in text, name


@pytest.mark.django_db
def test_openapi_schema_covers_the_contract() -> None:
    response = APIClient().get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json() if response["Content-Type"].endswith("json") else None
    if schema is None:
        import yaml

        schema = yaml.safe_load(response.content)
    assert schema["openapi"].startswith("3.")
    for path in (
        "/api/v1/brands/",
        "/api/v1/brands/{brand_id}/assets/",
        "/api/v1/templates/",
        "/api/v1/templates/{template_id}/versions/",
        "/api/v1/renders/",
        "/api/v1/renders/{render_id}/",
        "/api/v1/renders/{render_id}/cancel/",
        "/api/v1/brands/{brand_id}/",
        "/api/v1/brands/{brand_id}/assets/{asset_id}/",
        "/api/v1/templates/{template_id}/preview/",
        "/api/v1/webhooks/{endpoint_id}/rotate-secret/",
        "/api/v1/webhooks/{endpoint_id}/test/",
        "/api/v1/api-keys/",
        "/api/v1/api-keys/{api_key_id}/revoke/",
        "/api/v1/members/",
        "/api/v1/members/{member_id}/",
    ):
        assert path in schema["paths"], path


@pytest.mark.django_db
def test_create_api_key_prints_the_key_alone_on_the_last_line() -> None:
    out, err = io.StringIO(), io.StringIO()
    call_command("create_api_key", "acme", stdout=out, stderr=err)
    key = out.getvalue().strip().splitlines()[-1]
    workspace = Workspace.objects.get(name="acme")
    stored = ApiKey.objects.get(workspace=workspace)
    assert key.startswith(f"rsk_{stored.prefix}_")
    assert key not in stored.key_hash
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert client.get("/api/v1/brands/").status_code == 200
    call_command("create_api_key", "acme", stdout=io.StringIO(), stderr=io.StringIO())
    assert Workspace.objects.filter(name="acme").count() == 1
    assert ApiKey.objects.filter(workspace=workspace).count() == 2


def test_production_settings_pass_check_deploy() -> None:
    """docs/reliability.md R16: service mode with real secrets passes `check --deploy` with no warnings."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "DATABASE_URL", "AWS_", "CELERY_", "REELSMITH_TEST"))
    }
    env.update(
        DJANGO_SECRET_KEY="a-long-random-production-secret-" + "x7Q!p2#Lm9$Zr4&Kt8*Wn3^Hb6@Vc1%Fy5" * 2,
        DJANGO_ALLOWED_HOSTS="reelsmith.example.com",
        DATABASE_URL="postgres://reelsmith@127.0.0.1:5432/reelsmith",
        CELERY_BROKER_URL="redis://127.0.0.1:6379/0",
        AWS_STORAGE_BUCKET_NAME="reelsmith-prod",
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_redis_redelivery_waits_longer_than_the_longest_task() -> None:
    """docs/reliability.md R5: a task still running legitimately is never handed to a second worker."""
    from core.celery import app

    visibility = app.conf.broker_transport_options["visibility_timeout"]
    assert app.conf.task_time_limit is not None
    assert visibility > app.conf.task_time_limit
    assert app.conf.task_soft_time_limit < app.conf.task_time_limit
    assert app.conf.task_acks_late
    assert app.conf.task_reject_on_worker_lost
    assert app.conf.worker_prefetch_multiplier == 1
    # The render lease no longer outlasts the hard limit: a heartbeat renews it while a task works
    # (render/services/lease.py), so a live task keeps it however long it runs, and the hard limit ends a hung
    # one, heartbeat and all. Several beats fit in one lease.
    assert 3 * settings.REELSMITH_HEARTBEAT_SECONDS <= settings.REELSMITH_RENDER_LEASE_SECONDS


@pytest.mark.skipif(SERVICES, reason="embedded mode's background thread; service mode uses real workers")
@pytest.mark.django_db(transaction=True)
def test_runserver_alone_completes_renders_on_its_background_thread(api: APIClient, settings) -> None:
    settings.REELSMITH_EMBEDDED_WORKER = "thread"
    response = request_render(api, make_template(api), make_brand(api), {"first_name": "Zoë"})
    assert response.status_code == 202
    render_id = response.json()["id"]
    deadline = time.monotonic() + 120
    status = response.json()["status"]
    while status not in ("succeeded", "failed") and time.monotonic() < deadline:
        time.sleep(0.2)
        status = api.get(f"/api/v1/renders/{render_id}/").json()["status"]
    assert status == "succeeded"
