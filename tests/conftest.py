"""Test fixtures. Two modes run the same suite:

- embedded (default): SQLite, local-disk media in a temp dir, Celery tasks run in-process and synchronously;
- services (`REELSMITH_TEST_SERVICES=1`, set by `infra/scripts/test.sh --services`): PostgreSQL, a Redis broker,
  SeaweedFS (`weed mini`, started here on loopback) for S3, and real `celery worker` processes for the `cpu`
  and `gpu` queues, started here against the test database.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from core.models import Workspace
from core.storage import get_storage
from tests.factories import BrandFactory, WorkspaceFactory, api_key_for

SERVICES = os.environ.get("REELSMITH_TEST_SERVICES") == "1"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skip_services = pytest.mark.skip(reason="service-mode test: run with REELSMITH_TEST_SERVICES=1")
    skip_gpu = pytest.mark.skip(reason="needs CUDA: run on a GPU machine with -m gpu")
    cuda = _cuda_available() if any("gpu" in item.keywords for item in items) else False
    for item in items:
        if "services" in item.keywords and not SERVICES:
            item.add_marker(skip_services)
        if "gpu" in item.keywords and not cuda:
            item.add_marker(skip_gpu)


def _cuda_available() -> bool:
    import torch

    return bool(torch.cuda.is_available())


@pytest.fixture(scope="session", autouse=True)
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Service mode: a real S3 endpoint (SeaweedFS checks SigV4 signatures, unlike moto) for the whole session."""
    if not SERVICES:
        yield None
        return
    from tests.support.seaweed import create_bucket, seaweedfs_s3

    with seaweedfs_s3(tmp_path_factory.mktemp("seaweedfs")) as server:
        create_bucket(server, settings.AWS_STORAGE_BUCKET_NAME)
        endpoint = {
            "AWS_S3_ENDPOINT_URL": server.endpoint_url,
            "AWS_ACCESS_KEY_ID": server.access_key,
            "AWS_SECRET_ACCESS_KEY": server.secret_key,
            "AWS_S3_REGION_NAME": server.region,
        }
        os.environ.update(endpoint)  # boto3 reads the keys from the environment; workers inherit it
        settings.AWS_S3_ENDPOINT_URL = server.endpoint_url
        settings.AWS_S3_REGION_NAME = server.region
        get_storage.cache_clear()
        yield server
        get_storage.cache_clear()


@pytest.fixture(scope="session")
def service_workers(
    django_db_setup: Any, django_db_blocker: Any, s3_server: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    """Real `celery worker` processes for the `cpu` and `gpu` queues, on the test database."""
    if not SERVICES:
        pytest.skip("service mode only")
    from tests.support.postgres import flush_redis
    from tests.support.workers import celery_worker

    flush_redis(settings.CELERY_BROKER_URL)
    db = settings.DATABASES["default"]
    env = {
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REELSMITH_TEST_SERVICES": "1",
    }
    logs = tmp_path_factory.mktemp("worker-logs")
    repo = Path(__file__).resolve().parent.parent
    with (
        celery_worker(
            app="core", queues=["cpu"], env=env, cwd=repo, concurrency=2, log_path=logs / "cpu.log"
        ) as cpu,
        celery_worker(
            app="core",
            queues=["gpu"],
            # As deployed: the GPU worker's child loads its model when it starts (render.tasks).
            env={**env, "REELSMITH_PRELOAD_MODELS": "tiny-sd"},
            cwd=repo,
            concurrency=1,
            log_path=logs / "gpu.log",
        ) as gpu,
    ):
        yield {"cpu": cpu, "gpu": gpu}


@pytest.fixture(scope="session", autouse=True)
def _isolated_media(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Embedded mode: outputs go to a throwaway media folder, never the developer's var/media."""
    root = tmp_path_factory.mktemp("media")
    original = settings.MEDIA_ROOT
    settings.MEDIA_ROOT = root
    get_storage.cache_clear()
    yield root
    settings.MEDIA_ROOT = original
    get_storage.cache_clear()


@pytest.fixture
def workspace(db: Any) -> Workspace:
    workspace: Workspace = WorkspaceFactory.create()
    return workspace


@pytest.fixture
def api(workspace: Workspace) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_for(workspace)}")
    client.workspace = workspace  # type: ignore[attr-defined]
    return client


@pytest.fixture
def other_api(db: Any) -> APIClient:
    """A second tenant: its ids must read as nonexistent to `api`, and the reverse."""
    other: Workspace = WorkspaceFactory.create()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_for(other)}")
    client.workspace = other  # type: ignore[attr-defined]
    return client


@pytest.fixture
def brand(workspace: Workspace) -> Any:
    return BrandFactory(workspace=workspace)


@pytest.fixture
def run_tasks_inline(settings: Any) -> Iterator[None]:
    """Run Celery tasks in-process right after each commit, whatever the mode (for tests of the flow itself)."""
    from core.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.REELSMITH_EMBEDDED_WORKER = "sync"
    yield
    app.conf.task_always_eager = previous


@pytest.fixture(autouse=True)
def _tasks_run_synchronously_when_embedded(settings: Any) -> None:
    """Embedded mode's default background thread would race the assertions; tests run tasks in the caller.
    Nor does the in-process beat run (core.periodic): tests that want it start a server process of their own.
    Nor are requests throttled (tests poll fast with one key); the throttling tests switch it on."""
    settings.REELSMITH_EMBEDDED_WORKER = "sync"
    settings.REELSMITH_EMBEDDED_PERIODIC = False
    settings.REELSMITH_THROTTLE_RATE = "off"
