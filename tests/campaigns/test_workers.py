"""A campaign on real Celery worker processes (service mode): fan-out, the gate and completion by counts."""

from __future__ import annotations

import time
from typing import Any

import pytest
from rest_framework.test import APIClient

from render.models import Render
from tests.campaigns.helpers import make_campaign, upload_json


def wait_status(api: APIClient, campaign_id: str, wanted: str, timeout: float = 240) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        body: dict[str, Any] = api.get(f"/api/v1/campaigns/{campaign_id}/").json()
        if body["status"] == wanted:
            return body
        assert time.monotonic() < deadline, f"campaign stuck in {body['status']}: {body['counts']}"
        time.sleep(0.25)


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_campaign_runs_to_completion_on_real_workers(api: APIClient, service_workers: Any) -> None:
    cid = make_campaign(api)["id"]
    upload_json(api, cid, [{"first_name": f"Person {i}", "external_id": f"w-{i}"} for i in range(8)])
    assert api.post(f"/api/v1/campaigns/{cid}/samples/", {"count": 2}, format="json").status_code == 202
    wait_status(api, cid, "awaiting_approval")
    assert api.post(f"/api/v1/campaigns/{cid}/approve/").status_code == 200
    assert api.post(f"/api/v1/campaigns/{cid}/launch/").status_code == 202
    body = wait_status(api, cid, "completed")
    assert body["counts"]["succeeded"] == body["counts"]["total"] == 8
    assert Render.objects.filter(campaign_link__campaign_id=cid).count() == 8


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_in_flight_cap_holds_under_concurrent_fanouts(
    api: APIClient, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two campaigns of one workspace fan out at the same moment on PostgreSQL: the workspace row lock
    keeps their renders in flight within the cap (docs/reliability.md R13)."""
    import threading

    from django.db import connection

    from campaigns.models import Campaign
    from campaigns.services import campaign_fanout
    from core import queue
    from render.models import ACTIVE_RENDER_STATUSES

    settings.REELSMITH_CAMPAIGN_MAX_IN_FLIGHT = 5
    ids = []
    for _ in range(4):
        cid = make_campaign(api)["id"]
        upload_json(api, cid, [{"first_name": f"P{i}"} for i in range(5)])
        Campaign.objects.filter(pk=cid).update(status=Campaign.Status.RUNNING)
        ids.append(cid)
    barrier = threading.Barrier(len(ids))
    started: list[int] = []

    def fan(campaign_id: str) -> None:
        try:
            barrier.wait()
            started.append(campaign_fanout(campaign_id=campaign_id))
        finally:
            connection.close()

    # Not through the broker: the renders stay queued (no tasks are sent for this test's rows).
    monkeypatch.setattr(queue, "_send", lambda *args, **kwargs: None)
    threads = [threading.Thread(target=fan, args=(cid,)) for cid in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    in_flight = Render.objects.filter(
        campaign_link__campaign_id__in=ids, status__in=ACTIVE_RENDER_STATUSES
    ).count()
    assert sum(started) == in_flight == 5
