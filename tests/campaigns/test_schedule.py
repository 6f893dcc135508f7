"""Schedules: cron slots in a time zone, exactly one run per slot (R6), recipients added since the last run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import IntegrityError, transaction
from rest_framework.test import APIClient

from campaigns.models import Campaign, CampaignRun
from campaigns.schedule import BAD_CRON, cron_latest, cron_next
from campaigns.services import campaign_fanout, campaigns_tick
from render.models import Render
from tests.campaigns.helpers import make_campaign, upload_json


def test_cron_next_in_a_time_zone() -> None:
    after = datetime(2026, 3, 6, 12, 0, tzinfo=UTC)  # a Friday
    # 09:00 on weekdays in New York (UTC-5 in early March) is 14:00 UTC.
    assert cron_next("0 9 * * 1-5", "America/New_York", after) == datetime(2026, 3, 6, 14, 0, tzinfo=UTC)
    assert cron_next("0 9 * * 1-5", "America/New_York", datetime(2026, 3, 6, 14, 0, tzinfo=UTC)) == datetime(
        2026,
        3,
        9,
        13,
        0,
        tzinfo=UTC,  # Monday, after the DST change (UTC-4)
    )
    assert cron_next("*/15 * * * *", "UTC", after) == datetime(2026, 3, 6, 12, 15, tzinfo=UTC)
    missed = cron_latest("0 * * * *", "UTC", after, after + timedelta(hours=5, minutes=3))
    assert missed == datetime(2026, 3, 6, 17, 0, tzinfo=UTC)


@pytest.mark.django_db
def test_bad_schedule_is_named(api: APIClient) -> None:
    campaign = api.post(
        "/api/v1/campaigns/",
        {
            "name": "x",
            "template": "00000000-0000-0000-0000-000000000000",
            "brand": "00000000-0000-0000-0000-000000000000",
        },
        format="json",
    )
    assert campaign.status_code == 400
    from tests.render.test_api_renders import make_brand, make_template

    bad = api.post(
        "/api/v1/campaigns/",
        {
            "name": "x",
            "template": make_template(api),
            "brand": make_brand(api),
            "schedule": {"cron": "61 * * * *"},
        },
        format="json",
    )
    assert bad.status_code == 400
    assert bad.json()["fields"] == {"schedule.cron": [BAD_CRON]}


@pytest.mark.django_db
def test_each_slot_runs_once_and_renders_only_new_recipients(api: APIClient, settings: Any) -> None:
    settings.REELSMITH_CAMPAIGN_MAX_IN_FLIGHT = 100
    cid = make_campaign(api, schedule={"cron": "0 * * * *", "timezone": "UTC"}, recurring=True)["id"]
    assert api.get(f"/api/v1/campaigns/{cid}/").json()["schedule"] == {"cron": "0 * * * *", "timezone": "UTC"}
    upload_json(api, cid, [{"first_name": f"A{i}"} for i in range(3)])
    Campaign.objects.filter(pk=cid).update(status=Campaign.Status.APPROVED)
    api.post(f"/api/v1/campaigns/{cid}/launch/")
    launched = Campaign.objects.get(pk=cid)
    assert campaign_fanout(campaign_id=cid) == 0  # armed: nothing before the first slot

    first_slot = launched.launched_at.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)  # type: ignore[union-attr]
    now = first_slot + timedelta(seconds=5)
    assert campaigns_tick(now=now)["runs"] == 1
    assert campaigns_tick(now=now)["runs"] == 0  # the beat fired twice: still one run
    assert campaign_fanout(campaign_id=cid) == 3
    with pytest.raises(IntegrityError), transaction.atomic():
        CampaignRun.objects.create(campaign_id=cid, slot=first_slot, from_position=0, to_position=3)

    upload_json(api, cid, [{"first_name": f"B{i}"} for i in range(2)])
    assert campaign_fanout(campaign_id=cid) == 0  # added after the slot: waits for the next one
    assert campaigns_tick(now=first_slot + timedelta(hours=1, seconds=1))["runs"] == 1
    assert campaign_fanout(campaign_id=cid) == 2
    runs = list(
        CampaignRun.objects.filter(campaign_id=cid)
        .order_by("slot")
        .values_list("from_position", "to_position")
    )
    assert runs == [(0, 3), (3, 5)]
    assert Render.objects.filter(campaign_link__campaign_id=cid).count() == 5
