"""Embedded mode is whole (issue 14, item 6): `runserver` alone, with no broker and no beat, fires scheduled
campaigns, retries webhooks, and finishes renders a crash interrupted (core/periodic.py, docs/reliability.md
R1, R6, R9).

Each test runs `manage.py runserver` as a subprocess on a loopback port, over its own SQLite file and media
folder, and talks to it over HTTP like a client would. The in-process beat ticks every 2 s here
(REELSMITH_EMBEDDED_PERIODIC_EVERY) instead of the beat's 15-60 s; a `* * * * *` schedule still waits for
its minute. Embedded mode only (service mode has a real beat).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from standardwebhooks import Webhook

from tests.campaigns.helpers import flat_spec
from tests.campaigns.servers import receiver
from tests.conftest import SERVICES
from tests.e2e.test_chaos import slow_spec
from tests.support.processes import log_tail, stop_process, wait_until

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(SERVICES, reason="embedded mode: service mode runs a real beat"),
]

REPO = Path(__file__).resolve().parents[2]
BRAND = {"name": "Acme", "colors": {"primary": "#1F3A93", "secondary": "#FF7A00", "text": "#FFFFFF"}}


def _env(folder: Path, **extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DATABASE_URL", "CELERY_", "AWS_", "REELSMITH_", "SENTRY_", "DJANGO_"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="core.settings",
        SQLITE_PATH=str(folder / "db.sqlite3"),
        MEDIA_ROOT=str(folder / "media"),
        REELSMITH_VAR_DIR=str(folder / "var"),
        REELSMITH_EMBEDDED_PERIODIC_EVERY="2",
        REELSMITH_WEBHOOK_RETRY_SCHEDULE="1,1,1",
        OUTBOUND_ALLOW_PRIVATE="true",  # the webhook receiver is on loopback
        PYTHONUNBUFFERED="1",
        **extra,
    )
    return env


def _manage(folder: Path, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO,
        env=_env(folder),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A migrated database with an API key, copied by each test (migrating takes seconds)."""
    folder = tmp_path_factory.mktemp("embedded-template")
    _manage(folder, "migrate", "--noinput")
    key = _manage(folder, "create_api_key", "acme").strip().splitlines()[-1]
    return folder / "db.sqlite3", key


@dataclass
class Site:
    base_url: str
    key: str
    popen: subprocess.Popen[bytes]
    log: Path

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base_url + path, data=data, method=method)  # noqa: S310  (http on loopback)
        request.add_header("Authorization", f"Bearer {self.key}")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310  (http on loopback)
                raw = response.read()
                return response.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")

    def ok(self, method: str, path: str, body: Any = None) -> Any:
        status, answer = self.call(method, path, body)
        assert 200 <= status < 300, (status, answer, self.log_tail())
        return answer

    def log_tail(self) -> str:
        return log_tail(self.log, lines=60)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def runserver(folder: Path, key: str, **env: str) -> Iterator[Site]:
    """`manage.py runserver --noreload` alone, in its own process group; stopped (or already killed) on exit."""
    port = _free_port()
    log = folder / f"runserver-{port}.log"
    with log.open("ab") as out:
        popen = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
            cwd=REPO,
            env=_env(folder, **env),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    site = Site(base_url=f"http://127.0.0.1:{port}", key=key, popen=popen, log=log)

    def up() -> bool:
        assert popen.poll() is None, site.log_tail()
        with contextlib.suppress(OSError):
            return site.call("GET", "/healthz")[0] == 200
        return False

    try:
        wait_until(up, timeout=60, describe="runserver to answer /healthz", interval=0.2)
        yield site
    finally:
        stop_process(popen, first_signal_to_group=True, timeout=10)


def _site_folder(migrated: tuple[Path, str], tmp_path: Path) -> tuple[Path, str]:
    database, key = migrated
    shutil.copy(database, tmp_path / "db.sqlite3")
    return tmp_path, key


def _template_and_brand(site: Site, spec: dict[str, Any]) -> tuple[str, str]:
    brand = site.ok("POST", "/api/v1/brands/", BRAND)["id"]
    template = site.ok("POST", "/api/v1/templates/", {"name": "Hello", "spec": spec})["id"]
    return template, brand


def _wait(predicate: Any, *, timeout: float, describe: str, site: Site) -> None:
    try:
        wait_until(predicate, timeout=timeout, describe=describe, interval=0.5)
    except TimeoutError as exc:
        raise AssertionError(f"{exc}\n{site.log_tail()}") from None


def test_a_webhook_that_fails_once_is_delivered_on_the_retry(
    migrated: tuple[Path, str], tmp_path: Path
) -> None:
    folder, key = _site_folder(migrated, tmp_path)
    with receiver(answers=[500], status=204) as hook, runserver(folder, key) as site:
        endpoint = site.ok("POST", "/api/v1/webhooks/", {"url": hook.url, "events": ["render.succeeded"]})
        template, brand = _template_and_brand(site, flat_spec())
        render = site.ok(
            "POST",
            "/api/v1/renders/",
            {"template": template, "brand": brand, "variables": {"first_name": "Zoë"}},
        )

        # The first attempt answers 500; only the in-process beat's `webhooks.dispatch_due` sends the retry.
        _wait(lambda: len(hook.requests) >= 2, timeout=90, describe="the webhook's retry", site=site)
        deliveries = site.ok("GET", f"/api/v1/webhooks/{endpoint['id']}/deliveries/")["results"]

    assert [(d["status"], d["attempts"]) for d in deliveries] == [("succeeded", 2)]
    first, retry = hook.requests[:2]
    assert first.headers["webhook-id"] == retry.headers["webhook-id"]
    payload = Webhook(endpoint["secret"]).verify(retry.body, retry.headers)
    assert payload["data"]["id"] == render["id"]


def test_a_campaign_scheduled_every_minute_runs_with_runserver_alone(
    migrated: tuple[Path, str], tmp_path: Path
) -> None:
    folder, key = _site_folder(migrated, tmp_path)
    with runserver(folder, key) as site:
        started = time.monotonic()
        template, brand = _template_and_brand(site, flat_spec())
        campaign = site.ok(
            "POST",
            "/api/v1/campaigns/",
            {"name": "Every minute", "template": template, "brand": brand, "schedule": {"cron": "* * * * *"}},
        )
        path = f"/api/v1/campaigns/{campaign['id']}/"
        site.ok("POST", path + "recipients/", {"recipients": [{"first_name": f"R{i}"} for i in range(4)]})
        site.ok("POST", path + "samples/", {"count": 1})
        _wait(
            lambda: site.ok("GET", path)["status"] == "awaiting_approval",
            timeout=60,
            describe="the sample",
            site=site,
        )
        site.ok("POST", path + "approve/")
        site.ok("POST", path + "launch/")
        assert site.ok("GET", path)["counts"]["succeeded"] == 1  # armed: nothing before the first slot

        # The next minute's slot starts the run (campaigns.tick in-process); its renders finish in-process.
        _wait(
            lambda: site.ok("GET", path)["status"] == "completed",
            timeout=120,
            describe="the scheduled run",
            site=site,
        )
        body = site.ok("GET", path)
    assert body["counts"]["succeeded"] == body["counts"]["total"] == 4
    assert time.monotonic() - started < 120


def test_a_render_a_crash_interrupted_finishes_after_a_restart(
    migrated: tuple[Path, str], tmp_path: Path
) -> None:
    folder, key = _site_folder(migrated, tmp_path)
    # A short lease so the test need not wait a minute; the heartbeat renews it every 2 s while composing.
    lease = {"REELSMITH_RENDER_LEASE_SECONDS": "8", "REELSMITH_HEARTBEAT_SECONDS": "2"}
    with runserver(folder, key, **lease) as site:
        template, brand = _template_and_brand(site, slow_spec())
        render = site.ok(
            "POST",
            "/api/v1/renders/",
            {"template": template, "brand": brand, "variables": {"first_name": "Zoë"}},
        )
        path = f"/api/v1/renders/{render['id']}/"
        _wait(
            lambda: site.ok("GET", path)["status"] == "composing", timeout=120, describe="compose", site=site
        )
        time.sleep(1.0)  # inside ffmpeg by now
        os.killpg(site.popen.pid, signal.SIGKILL)  # the whole process: server, worker thread, ffmpeg
        site.popen.wait(timeout=10)
    assert _render_row(folder, render["id"]) == ("composing", 1)  # killed mid-compose, its first attempt

    with runserver(folder, key, **lease) as site:
        # The reconciler runs on the first tick after start and every 2 s after; the lease runs out 8 s after
        # the last heartbeat, then the render is composed again.
        _wait(
            lambda: site.ok("GET", path)["status"] in ("succeeded", "failed"),
            timeout=120,
            describe="the interrupted render to finish",
            site=site,
        )
        body = site.ok("GET", path)
    assert body["status"] == "succeeded", body
    assert _render_row(folder, render["id"]) == ("succeeded", 2)  # composed once more, after the restart


def _render_row(folder: Path, render_id: str) -> tuple[str, int]:
    with contextlib.closing(sqlite3.connect(folder / "db.sqlite3")) as db:
        status, attempts = db.execute(
            "SELECT status, attempts FROM render_render WHERE id = ?", [render_id.replace("-", "")]
        ).fetchone()
    return str(status), int(attempts)
