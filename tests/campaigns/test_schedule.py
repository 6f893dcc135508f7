"""Schedules: cron slots in a time zone, exactly one run per slot (R6), recipients added since the last run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import IntegrityError, transaction
from rest_framework.test import APIClient

from campaigns.models import Campaign, CampaignRun
from campaigns.schedule import BAD_CRON, cron_latest, cron_next, cron_parse
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


# --- the parser (croniter) ----------------------------------------------------------------------------------


def test_day_names_month_names_and_macros() -> None:
    friday_noon = datetime(2026, 3, 6, 12, 0, tzinfo=UTC)
    assert cron_next("0 9 * * MON-FRI", "UTC", friday_noon) == datetime(2026, 3, 9, 9, 0, tzinfo=UTC)
    assert cron_next("0 9 * * mon-fri", "UTC", friday_noon) == datetime(2026, 3, 9, 9, 0, tzinfo=UTC)
    assert cron_next("0 0 1 JAN *", "UTC", friday_noon) == datetime(2027, 1, 1, 0, 0, tzinfo=UTC)
    assert cron_next("@daily", "UTC", friday_noon) == datetime(2026, 3, 7, 0, 0, tzinfo=UTC)
    assert cron_next("@hourly", "UTC", friday_noon) == datetime(2026, 3, 6, 13, 0, tzinfo=UTC)
    assert cron_next("@weekly", "UTC", friday_noon) == datetime(2026, 3, 8, 0, 0, tzinfo=UTC)  # Sunday
    assert cron_next("@monthly", "UTC", friday_noon) == datetime(2026, 4, 1, 0, 0, tzinfo=UTC)
    assert cron_next("@yearly", "UTC", friday_noon) == datetime(2027, 1, 1, 0, 0, tzinfo=UTC)
    # In the schedule's zone: midnight in Tokyo is 15:00 UTC the day before.
    assert cron_next("@daily", "Asia/Tokyo", friday_noon) == datetime(2026, 3, 6, 15, 0, tzinfo=UTC)


def test_existing_expressions_keep_their_slots() -> None:
    """Slots the earlier hand-written parser gave, for the kinds of expression campaigns use."""
    after = datetime(2026, 3, 6, 12, 7, 30, tzinfo=UTC)  # a Friday
    expected = {
        "* * * * *": datetime(2026, 3, 6, 12, 8, tzinfo=UTC),
        "*/15 * * * *": datetime(2026, 3, 6, 12, 15, tzinfo=UTC),
        "5,35 */2 * * *": datetime(2026, 3, 6, 12, 35, tzinfo=UTC),
        "0 0 * * 7": datetime(2026, 3, 8, 0, 0, tzinfo=UTC),  # 7 is Sunday, like 0
        "0 9 1,15 * 1": datetime(2026, 3, 9, 9, 0, tzinfo=UTC),  # both day fields restricted: either matches
        "10-20/5 3 * 6-8 *": datetime(2026, 6, 1, 3, 10, tzinfo=UTC),
        "0 0 29 2 *": datetime(2028, 2, 29, 0, 0, tzinfo=UTC),
    }
    for expression, slot in expected.items():
        assert cron_next(expression, "UTC", after) == slot, expression
    assert cron_next("0 0 31 2 *", "UTC", after) is None  # valid fields, no such day
    assert cron_latest("* * * * *", "UTC", after, after + timedelta(seconds=45)) == datetime(
        2026, 3, 6, 12, 8, tzinfo=UTC
    )
    assert cron_latest("* * * * *", "UTC", after, after + timedelta(seconds=20)) is None


@pytest.mark.parametrize(
    "expression",
    [
        "61 * * * *",
        "* * * *",
        "0 0 * * * *",  # croniter's seconds field: slots are whole minutes
        "R * * * *",  # croniter's random value: a slot must be the same every time (R6)
        "H * * * *",
        "@reboot",
        "0 9 * * FUNDAY",
        "",
    ],
)
def test_expressions_the_schedule_cannot_keep_are_refused(expression: str) -> None:
    with pytest.raises(ValueError, match="five fields"):
        cron_parse(expression)
    assert BAD_CRON.startswith("A cron expression has five fields")


@pytest.mark.django_db
def test_a_schedule_with_day_names_is_accepted_by_the_api(api: APIClient) -> None:
    body = make_campaign(api, schedule={"cron": "30 8 * * MON-FRI", "timezone": "Europe/Berlin"})
    assert body["schedule"] == {"cron": "30 8 * * MON-FRI", "timezone": "Europe/Berlin"}
    assert make_campaign(api, schedule={"cron": "@daily"})["schedule"] == {
        "cron": "@daily",
        "timezone": "UTC",
    }
