"""A campaign whose brand's likeness has no valid consent (docs/trust.md): refused at creation (400 naming
`brand`), a schedule slot is skipped with the reason, a running fan-out pauses with it; each in the audit log."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from campaigns.models import Campaign, CampaignRun
from campaigns.services import campaign_fanout, campaign_schedule_run
from core.models import AuditEntry, Consent
from render.models import Render
from tests.campaigns.helpers import upload_json
from tests.core.test_consent import portrait_setup

pytestmark = pytest.mark.django_db


def _campaign(api: APIClient, template: str, brand: str, **extra: object) -> dict:
    response = api.post(
        "/api/v1/campaigns/", {"name": "Faces", "template": template, "brand": brand, **extra}, format="json"
    )
    assert response.status_code == 201, response.json()
    upload_json(api, response.json()["id"], [{"first_name": "Ann"}, {"first_name": "Bob"}])
    return dict(response.json())


def test_a_campaign_is_not_made_with_a_likeness_without_consent(api: APIClient) -> None:
    brand, template, consent = portrait_setup(api)
    Consent.objects.filter(pk=consent).update(revoked_at=timezone.now())
    refused = api.post(
        "/api/v1/campaigns/", {"name": "Faces", "template": template, "brand": brand}, format="json"
    )
    assert refused.status_code == 400
    assert list(refused.json()["fields"]) == ["brand"]


def test_a_schedule_slot_is_skipped_and_a_fanout_pauses_with_the_reason(api: APIClient) -> None:
    brand, template, consent = portrait_setup(api)
    scheduled = Campaign.objects.get(pk=_campaign(api, template, brand, schedule={"cron": "0 9 * * *"})["id"])
    running = Campaign.objects.get(pk=_campaign(api, template, brand)["id"])
    launched = timezone.now() - timedelta(days=2)
    Campaign.objects.filter(pk__in=[scheduled.pk, running.pk]).update(
        status=Campaign.Status.RUNNING, launched_at=launched, last_slot=launched
    )
    Consent.objects.filter(pk=consent).update(revoked_at=timezone.now())

    scheduled.refresh_from_db()
    assert campaign_schedule_run(campaign=scheduled, now=timezone.now()) is None
    scheduled.refresh_from_db()
    assert not CampaignRun.objects.filter(campaign=scheduled).exists()
    assert scheduled.status == Campaign.Status.RUNNING
    assert scheduled.last_slot is not None
    assert scheduled.last_slot > launched
    assert "skipped" in scheduled.status_reason
    assert "was revoked" in scheduled.status_reason

    assert campaign_fanout(campaign_id=running.pk) == 0
    running.refresh_from_db()
    assert running.status == Campaign.Status.PAUSED
    assert "was revoked" in running.status_reason
    assert not Render.objects.filter(campaign_link__campaign=running).exists()
    actions = set(AuditEntry.objects.values_list("action", flat=True))
    assert {"campaign.slot_skipped", "campaign.paused"} <= actions
