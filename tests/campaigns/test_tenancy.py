"""Every campaign, webhook and integration route answers a foreign id exactly like a missing one (R11)."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from campaigns.models import Campaign, WebhookDelivery
from tests.campaigns.helpers import make_campaign, upload_json
from tests.campaigns.test_crm import make_integration

MISSING = "00000000-0000-0000-0000-000000000000"


@pytest.mark.django_db
def test_every_new_route_hides_foreign_objects(api: APIClient, other_api: APIClient) -> None:
    campaign = make_campaign(other_api)["id"]
    upload_json(other_api, campaign, [{"first_name": "Zoë"}])
    endpoint = other_api.post(
        "/api/v1/webhooks/", {"url": "http://127.0.0.1:9/h", "events": ["render.failed"]}, format="json"
    ).json()["id"]
    delivery = WebhookDelivery.objects.create(
        workspace=other_api.workspace,  # type: ignore[attr-defined]
        endpoint_id=endpoint,
        url="http://127.0.0.1:9/h",
        event="render.failed",
        message_id="msg_x",
        dedupe_key="x",
        payload={},
        status="failed",
    )
    integration = make_integration(other_api)["id"]
    routes = [
        ("get", "/api/v1/campaigns/{c}/"),
        ("post", "/api/v1/campaigns/{c}/recipients/"),
        ("post", "/api/v1/campaigns/{c}/samples/"),
        ("post", "/api/v1/campaigns/{c}/approve/"),
        ("post", "/api/v1/campaigns/{c}/launch/"),
        ("post", "/api/v1/campaigns/{c}/pause/"),
        ("post", "/api/v1/campaigns/{c}/resume/"),
        ("post", "/api/v1/campaigns/{c}/cancel/"),
        ("get", "/api/v1/campaigns/{c}/results.csv"),
        ("get", "/api/v1/webhooks/{w}/"),
        ("get", "/api/v1/webhooks/{w}/deliveries/"),
        ("post", "/api/v1/webhooks/{w}/deliveries/{d}/replay/"),
        ("get", "/api/v1/integrations/{i}/"),
    ]
    foreign_ids = {"c": campaign, "w": endpoint, "d": str(delivery.pk), "i": integration}
    missing_ids = dict.fromkeys(foreign_ids, MISSING)
    for method, route in routes:
        foreign = getattr(api, method)(route.format(**foreign_ids), {}, format="json")
        nonexistent = getattr(api, method)(route.format(**missing_ids), {}, format="json")
        assert foreign.status_code == nonexistent.status_code == 404, route
        assert foreign.json() == nonexistent.json(), route
    assert Campaign.objects.get(pk=campaign).status == Campaign.Status.DRAFT
    delivery.refresh_from_db()
    assert delivery.status == "failed"
    for listing in ("/api/v1/campaigns/", "/api/v1/webhooks/", "/api/v1/integrations/"):
        assert api.get(listing).json()["results"] == [], listing


@pytest.mark.django_db
def test_foreign_template_and_brand_in_a_campaign_body_read_as_missing(
    api: APIClient, other_api: APIClient
) -> None:
    from tests.render.test_api_renders import make_brand, make_template

    foreign = api.post(
        "/api/v1/campaigns/",
        {"name": "x", "template": make_template(other_api), "brand": make_brand(other_api)},
        format="json",
    )
    missing = api.post(
        "/api/v1/campaigns/", {"name": "x", "template": MISSING, "brand": MISSING}, format="json"
    )
    assert foreign.status_code == missing.status_code == 400
    assert foreign.json() == missing.json()
    inbound = APIClient().post(f"/inbound/{MISSING}/", {}, format="json")
    assert inbound.status_code == 404
