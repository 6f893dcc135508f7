"""Managing webhook endpoints and CRM integrations through the API: PATCH (URL, events, on/off), DELETE,
rotate the secret, send a signed test event through the normal delivery machinery; secrets hidden from
viewers (docs/api.md)."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient
from standardwebhooks.webhooks import Webhook

from campaigns.models import Integration, WebhookDelivery, WebhookEndpoint
from campaigns.webhooks import PING_EVENT, TEST_WHILE_DISABLED
from core.models import Membership, Workspace
from tests.campaigns.servers import receiver
from tests.campaigns.test_crm import make_integration
from tests.campaigns.test_webhooks import make_endpoint


def _viewer(workspace: Workspace) -> APIClient:
    user = get_user_model().objects.create_user("viewer@example.com", password="pw-for-tests-only")
    Membership.objects.create(workspace=workspace, user=user, role=Membership.Role.VIEWER)
    client = APIClient()
    client.force_login(user)
    return client


@pytest.mark.django_db
def test_patch_changes_what_is_given_and_bad_input_saves_nothing(api: APIClient, settings: Any) -> None:
    endpoint = make_endpoint(api, "http://127.0.0.1:9/a")
    path = f"/api/v1/webhooks/{endpoint['id']}/"
    bad = api.patch(path, {"url": "http://127.0.0.1:9/b", "events": ["render.nope"]}, format="json")
    assert bad.status_code == 400
    assert bad.json()["fields"] == {"events[0]": [bad.json()["message"]]}
    settings.OUTBOUND_ALLOW_PRIVATE = False
    private = api.patch(path, {"url": "http://127.0.0.1/x"}, format="json")
    settings.OUTBOUND_ALLOW_PRIVATE = True
    assert private.status_code == 400
    assert list(private.json()["fields"]) == ["url"]
    assert WebhookEndpoint.objects.get().url == "http://127.0.0.1:9/a"
    changed = api.patch(
        path, {"url": "http://127.0.0.1:9/b", "events": ["campaign.completed"]}, format="json"
    ).json()
    assert (changed["url"], changed["events"], changed["disabled_at"]) == (
        "http://127.0.0.1:9/b",
        ["campaign.completed"],
        None,
    )
    off = api.patch(path, {"enabled": False}, format="json").json()
    assert off["disabled_at"] is not None
    assert off["disabled_reason"] == "Disabled by a member of the workspace."
    assert off["events"] == ["campaign.completed"]
    on = api.patch(path, {"enabled": True}, format="json").json()
    assert (on["disabled_at"], on["disabled_reason"]) == (None, "")


@pytest.mark.django_db
def test_rotate_secret_then_delete(api: APIClient, other_api: APIClient) -> None:
    endpoint = make_endpoint(api, "http://127.0.0.1:9/a")
    rotated = api.post(f"/api/v1/webhooks/{endpoint['id']}/rotate-secret/")
    assert rotated.status_code == 200
    assert rotated["Cache-Control"] == "no-store"
    assert rotated.json()["secret"].startswith("whsec_")
    assert rotated.json()["secret"] != endpoint["secret"]
    assert WebhookEndpoint.objects.get().secret == rotated.json()["secret"]
    assert other_api.post(f"/api/v1/webhooks/{endpoint['id']}/rotate-secret/").status_code == 404
    assert other_api.delete(f"/api/v1/webhooks/{endpoint['id']}/").status_code == 404
    assert api.delete(f"/api/v1/webhooks/{endpoint['id']}/").status_code == 204
    assert api.get(f"/api/v1/webhooks/{endpoint['id']}/").status_code == 404


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("run_tasks_inline")
def test_a_test_event_is_a_signed_ping_in_the_delivery_log(api: APIClient) -> None:
    with receiver() as hook:
        endpoint = make_endpoint(api, hook.url)
        sent = api.post(f"/api/v1/webhooks/{endpoint['id']}/test/")
        assert sent.status_code == 202, sent.json()
        assert len(hook.requests) == 1
        payload: dict[str, Any] = Webhook(endpoint["secret"]).verify(
            hook.requests[0].body, hook.requests[0].headers
        )
        assert payload["type"] == PING_EVENT
        assert payload["data"] == {"endpoint": endpoint["id"]}
        api.post(f"/api/v1/webhooks/{endpoint['id']}/test/")  # each test is its own message
        assert len(hook.requests) == 2
    log = api.get(f"/api/v1/webhooks/{endpoint['id']}/deliveries/").json()["results"]
    assert [(d["event"], d["status"]) for d in log] == [(PING_EVENT, "succeeded")] * 2
    api.patch(f"/api/v1/webhooks/{endpoint['id']}/", {"enabled": False}, format="json")
    refused = api.post(f"/api/v1/webhooks/{endpoint['id']}/test/")
    assert refused.status_code == 409
    assert refused.json() == {"message": TEST_WHILE_DISABLED}
    assert WebhookDelivery.objects.count() == 2


@pytest.mark.django_db
def test_viewers_read_endpoints_and_integrations_without_their_secrets(
    api: APIClient, workspace: Workspace
) -> None:
    endpoint = make_endpoint(api, "http://127.0.0.1:9/a")
    integration = make_integration(api, "generic")
    viewer = _viewer(workspace)
    listed = viewer.get("/api/v1/webhooks/").json()["results"]
    assert [(e["id"], e["secret"]) for e in listed] == [(endpoint["id"], "")]
    assert viewer.get(f"/api/v1/webhooks/{endpoint['id']}/").json()["secret"] == ""
    assert viewer.get(f"/api/v1/integrations/{integration['id']}/").json()["secret"] == ""
    assert viewer.get("/api/v1/integrations/").json()["results"][0]["secret"] == ""
    assert viewer.get("/api/v1/webhooks/callback-secret/").status_code == 403
    assert viewer.post(f"/api/v1/webhooks/{endpoint['id']}/rotate-secret/").status_code == 403
    assert viewer.delete(f"/api/v1/integrations/{integration['id']}/").status_code == 403


@pytest.mark.django_db
def test_deleting_an_integration_stops_its_inbound_url(api: APIClient, other_api: APIClient) -> None:
    integration = make_integration(api, "generic")
    assert other_api.delete(f"/api/v1/integrations/{integration['id']}/").status_code == 404
    assert api.delete(f"/api/v1/integrations/{integration['id']}/").status_code == 204
    assert not Integration.objects.exists()
    assert api.post(f"/inbound/{integration['id']}/", {}, format="json").status_code == 404
