"""The human gate and the fan-out: samples → approve → launch → completed, pause/resume/cancel, the cap."""

from __future__ import annotations

import csv
import io
from typing import Any
from urllib.parse import urlsplit

import pytest
from rest_framework.test import APIClient

from campaigns.models import Campaign, CampaignRun
from campaigns.services import NOT_APPROVED, SAMPLES_NOT_READY, campaign_fanout
from render.models import Priority, Render, RenderStatus
from tests.campaigns.helpers import make_campaign, upload_json
from tests.campaigns.test_recipients import BAD_ROWS, fifty_row_csv, upload_csv
from tests.render.test_api_renders import make_brand, make_template


def detail(api: APIClient, campaign_id: str) -> dict[str, Any]:
    body: dict[str, Any] = api.get(f"/api/v1/campaigns/{campaign_id}/").json()
    return body


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("run_tasks_inline")
def test_fifty_rows_samples_approve_launch_complete(api: APIClient, settings: Any) -> None:
    # Several chunks, each task enqueuing the next. (Inline tasks nest in the caller's stack, so a small cap
    # here would nest render inside render; the cap has its own tests below.)
    settings.REELSMITH_CAMPAIGN_CHUNK = 20
    campaign = make_campaign(api)
    cid = campaign["id"]
    report = upload_csv(api, cid, fifty_row_csv()).json()
    assert {r["row"] for r in report["rejected"]} == BAD_ROWS

    assert api.post(f"/api/v1/campaigns/{cid}/launch/").status_code == 409
    early = api.post(f"/api/v1/campaigns/{cid}/approve/")
    assert early.status_code == 409
    assert early.json()["message"] == SAMPLES_NOT_READY

    samples = api.post(f"/api/v1/campaigns/{cid}/samples/", {}, format="json")
    assert samples.status_code == 202
    assert len(samples.json()["samples"]) == 3
    # Embedded tasks ran on commit: the samples are done and the campaign waits for a person.
    body = detail(api, cid)
    assert body["status"] == "awaiting_approval"
    assert body["counts"]["succeeded"] == 3
    assert api.post(f"/api/v1/campaigns/{cid}/launch/").json()["message"] == NOT_APPROVED

    approved = api.post(f"/api/v1/campaigns/{cid}/approve/")
    assert approved.status_code == 200
    assert approved.json()["approved_by"] == "api-key:test"
    assert approved.json()["approved_at"]

    launched = api.post(f"/api/v1/campaigns/{cid}/launch/")
    assert launched.status_code == 202
    body = detail(api, cid)
    assert body["status"] == "completed"
    assert body["counts"]["succeeded"] == body["counts"]["total"] == 46
    assert body["eta_seconds"] == 0.0
    renders = Render.objects.filter(campaign_link__campaign_id=cid)
    assert renders.count() == 46  # once per recipient: samples were not rendered again
    assert set(
        renders.exclude(campaign_link__recipient__position__lte=3).values_list("priority", flat=True)
    ) == {Priority.BATCH}
    assert CampaignRun.objects.filter(campaign_id=cid).count() == 1

    results = api.get(f"/api/v1/campaigns/{cid}/results.csv")
    assert results.status_code == 200
    rows = list(csv.DictReader(io.StringIO(b"".join(results.streaming_content).decode())))  # type: ignore[attr-defined]
    assert len(rows) == 46
    assert {r["status"] for r in rows} == {"succeeded"}
    assert all(
        urlsplit(r["watch_url"]).path.startswith("/w/") for r in rows
    )  # the watch page, never expiring
    assert {r["external_id"] for r in rows} == {f"crm-{n}" for n in range(2, 52) if n not in BAD_ROWS}


@pytest.mark.django_db
def test_pause_resume_cancel_lose_nothing(api: APIClient, settings: Any) -> None:
    settings.REELSMITH_CAMPAIGN_MAX_IN_FLIGHT = 2
    campaign = make_campaign(api)
    cid = campaign["id"]
    upload_json(api, cid, [{"first_name": f"P{i}"} for i in range(5)])
    Campaign.objects.filter(pk=cid).update(status=Campaign.Status.APPROVED)  # gate tested above
    # Tasks do not run here (no on_commit in a rolled-back test transaction): drive the fan-out by hand.
    assert api.post(f"/api/v1/campaigns/{cid}/launch/").status_code == 202
    assert campaign_fanout(campaign_id=cid) == 2  # the per-workspace cap
    assert campaign_fanout(campaign_id=cid) == 0
    assert api.post(f"/api/v1/campaigns/{cid}/pause/").json()["status"] == "paused"
    Render.objects.filter(campaign_link__campaign_id=cid).update(status=RenderStatus.SUCCEEDED)
    assert campaign_fanout(campaign_id=cid) == 0  # paused: nothing new starts
    assert api.post(f"/api/v1/campaigns/{cid}/resume/").json()["status"] == "running"
    assert campaign_fanout(campaign_id=cid) == 2
    body = detail(api, cid)
    assert body["counts"]["pending"] == 1
    assert body["counts"]["queued"] == 2
    canceled = api.post(f"/api/v1/campaigns/{cid}/cancel/")
    assert canceled.status_code == 202
    assert canceled.json()["status"] == "canceled"
    counts = detail(api, cid)["counts"]
    assert (counts["succeeded"], counts["canceled"], counts["pending"]) == (2, 2, 1)
    assert api.post(f"/api/v1/campaigns/{cid}/cancel/").status_code == 202  # idempotent
    assert api.post(f"/api/v1/campaigns/{cid}/resume/").status_code == 409


@pytest.mark.django_db
def test_cap_is_per_workspace_across_campaigns(api: APIClient, settings: Any) -> None:
    settings.REELSMITH_CAMPAIGN_MAX_IN_FLIGHT = 3
    ids = []
    for _ in range(2):
        cid = make_campaign(api)["id"]
        upload_json(api, cid, [{"first_name": f"P{i}"} for i in range(3)])
        Campaign.objects.filter(pk=cid).update(status=Campaign.Status.APPROVED)
        api.post(f"/api/v1/campaigns/{cid}/launch/")
        ids.append(cid)
    assert campaign_fanout(campaign_id=ids[0]) == 3
    assert campaign_fanout(campaign_id=ids[1]) == 0
    # A single API render is never held back by campaigns (and does not count against their cap).
    assert Render.objects.filter(campaign_link__isnull=True).count() == 0


@pytest.mark.django_db
def test_samples_need_recipients_and_bad_input_is_named(api: APIClient) -> None:
    cid = make_campaign(api)["id"]
    assert api.post(f"/api/v1/campaigns/{cid}/samples/", {}, format="json").status_code == 409
    bad = api.post(f"/api/v1/campaigns/{cid}/samples/", {"count": 0}, format="json")
    assert bad.status_code == 400
    assert "count" in bad.json()["fields"]
    schedule = api.post(
        "/api/v1/campaigns/",
        {
            "name": "x",
            "template": "00000000-0000-0000-0000-000000000000",
            "brand": "00000000-0000-0000-0000-000000000000",
        },
        format="json",
    )
    assert schedule.status_code == 400


@pytest.mark.django_db
def test_detail_shows_the_estimated_cost_before_launch(api: APIClient) -> None:
    # The small template: 2 s at 180x320 (1 credit a second) and one generated picture (1 credit).
    response = api.post(
        "/api/v1/campaigns/",
        {"name": "Spring", "template": make_template(api), "brand": make_brand(api)},
        format="json",
    )
    campaign = response.json()["id"]
    upload_json(api, campaign, [{"first_name": f"R{i}", "industry": f"trade {i}"} for i in range(7)])
    estimate = detail(api, campaign)["estimated_cost"]
    assert estimate == {"renders": 7, "credits_min": 7 * 2, "credits_max": 7 * 3, "per_render_max": 3}
