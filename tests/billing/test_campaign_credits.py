"""Campaign fan-out meets credits: the campaign pauses, with the reason, when the next render does not fit."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from campaigns.models import Campaign
from campaigns.services import campaign_fanout
from core.billing.ledger import INSUFFICIENT_CREDITS
from render.models import Render
from tests.billing.conftest import grant, one_credit_spec, subscribe
from tests.billing.fake_stripe import FakeStripe
from tests.render.test_api_renders import make_brand, make_template


@pytest.mark.django_db
def test_campaign_pauses_with_the_reason_when_credits_run_out(
    api: APIClient, fake_stripe: FakeStripe, settings: Any
) -> None:
    settings.REELSMITH_CAMPAIGN_MAX_IN_FLIGHT = 10
    workspace = api.workspace  # type: ignore[attr-defined]
    subscribe(workspace, plan="pro")
    grant(workspace, 2)  # one credit a render: two fit, the third does not
    created = api.post(
        "/api/v1/campaigns/",
        {"name": "Spring", "template": make_template(api, one_credit_spec()), "brand": make_brand(api)},
        format="json",
    )
    assert created.status_code == 201, created.json()
    cid = created.json()["id"]
    recipients = [{"first_name": f"P{i}"} for i in range(5)]
    assert (
        api.post(
            f"/api/v1/campaigns/{cid}/recipients/", {"recipients": recipients}, format="json"
        ).status_code
        == 200
    )
    Campaign.objects.filter(pk=cid).update(
        status=Campaign.Status.APPROVED
    )  # the human gate is campaigns' test
    # Tasks do not run here (no on_commit in a rolled-back test transaction): drive the fan-out by hand.
    assert api.post(f"/api/v1/campaigns/{cid}/launch/").status_code == 202
    assert campaign_fanout(campaign_id=cid) == 2
    body = api.get(f"/api/v1/campaigns/{cid}/").json()
    assert body["status"] == "paused"
    assert body["status_reason"] == INSUFFICIENT_CREDITS.format(cost=1, balance=0)
    assert Render.objects.filter(campaign_link__campaign_id=cid).count() == 2
    # Topped up and resumed: the rest starts.
    grant(workspace, 3)
    assert api.post(f"/api/v1/campaigns/{cid}/resume/").json()["status"] == "running"
    assert campaign_fanout(campaign_id=cid) == 3
