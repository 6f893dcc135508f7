"""CRM inbound: HubSpot v3 signatures, Salesforce/generic HMAC, API key, idempotent retries, named errors."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlsplit

import pytest
from rest_framework.test import APIClient

from campaigns.crm import BAD_SIGNATURE, UNMAPPED_FIELD, UNMAPPED_REQUIRED, body_signature, hubspot_signature
from campaigns.models import IntegrationRender
from render.models import Render
from tests.campaigns.helpers import make_flat_template
from tests.campaigns.servers import receiver
from tests.factories import api_key_for
from tests.render.test_api_renders import make_brand, make_template

SECRET = "hubspot-client-secret"
FIELD_MAP = {"firstname": "first_name", "company": "company"}


def make_integration(api: APIClient, kind: str = "hubspot", **extra: Any) -> dict[str, Any]:
    body = {
        "kind": kind,
        "template": make_template(api),
        "brand": make_brand(api),
        "field_map": FIELD_MAP,
        "secret": SECRET,
        **extra,
    }
    response = api.post("/api/v1/integrations/", body, format="json")
    assert response.status_code == 201, response.json()
    result: dict[str, Any] = response.json()
    return result


def hubspot_post(
    client: APIClient,
    integration: dict[str, Any],
    event: dict[str, Any],
    *,
    timestamp_ms: int | None = None,
    tamper: bool = False,
):
    path = f"/inbound/{integration['id']}/"
    body = json.dumps(event).encode()
    stamp = str(timestamp_ms if timestamp_ms is not None else int(time.time() * 1000))
    signature = hubspot_signature(
        secret=SECRET, method="POST", uri=f"http://testserver{path}", body=body, timestamp=stamp
    )
    if tamper:
        body = body.replace(b"Zo", b"Xo")
    return client.generic(
        "POST", path, body.decode(), content_type="application/json",
        HTTP_X_HUBSPOT_SIGNATURE_V3=signature, HTTP_X_HUBSPOT_REQUEST_TIMESTAMP=stamp,
    )  # fmt: skip


def reelsmith_signed(
    integration: dict[str, Any], body: bytes, *, idempotency_key: str = "", timestamp: int | None = None
) -> dict[str, Any]:
    """The headers a Salesforce flow or a generic caller sends (docs/campaigns.md "CRM inbound")."""
    stamp = str(timestamp if timestamp is not None else int(time.time()))
    headers = {
        "HTTP_X_REELSMITH_TIMESTAMP": stamp,
        "HTTP_X_REELSMITH_SIGNATURE": body_signature(
            secret=SECRET,
            body=body,
            timestamp=stamp,
            path=f"/inbound/{integration['id']}/",
            idempotency_key=idempotency_key,
        ),
    }
    if idempotency_key:
        headers["HTTP_IDEMPOTENCY_KEY"] = idempotency_key
    return headers


EVENT = {
    "objectId": 901,
    "occurredAt": 1732400000000,
    "properties": {"firstname": {"value": "Zoë"}, "company": "Acme"},
}


@pytest.mark.django_db
def test_hubspot_event_sent_three_times_makes_one_render(api: APIClient) -> None:
    integration = make_integration(api)
    assert integration["inbound_url"].endswith(f"/inbound/{integration['id']}/")
    anonymous = APIClient()
    answers = [hubspot_post(anonymous, integration, EVENT) for _ in range(3)]
    assert [a.status_code for a in answers] == [202, 202, 202]
    assert len({a.json()["id"] for a in answers}) == 1
    render = Render.objects.get()
    assert render.variables["first_name"] == "Zoë"
    assert render.external_id == "901"


@pytest.mark.django_db
def test_tampered_or_stale_hubspot_requests_answer_401_and_render_nothing(api: APIClient) -> None:
    integration = make_integration(api)
    anonymous = APIClient()
    tampered = hubspot_post(anonymous, integration, EVENT, tamper=True)
    stale = hubspot_post(anonymous, integration, EVENT, timestamp_ms=int((time.time() - 301) * 1000))
    unsigned = anonymous.post(f"/inbound/{integration['id']}/", EVENT, format="json")
    for answer in (tampered, stale, unsigned):
        assert answer.status_code == 401
        assert answer.json()["message"] == BAD_SIGNATURE
    assert Render.objects.count() == 0


@pytest.mark.django_db
def test_salesforce_hmac_and_idempotency_key(api: APIClient) -> None:
    integration = make_integration(api, kind="salesforce")
    body = json.dumps({"Id": "003XYZ", "firstname": "Ana", "company": "Sol"}).encode()
    path = f"/inbound/{integration['id']}/"
    anonymous = APIClient()
    signed = reelsmith_signed(integration, body, idempotency_key="evt-1")
    first = anonymous.generic("POST", path, body.decode(), content_type="application/json", **signed)
    again = anonymous.generic("POST", path, body.decode(), content_type="application/json", **signed)
    assert first.status_code == again.status_code == 202
    assert first.json()["id"] == again.json()["id"]
    wrong = anonymous.generic(
        "POST", path, body.decode(), content_type="application/json", HTTP_X_REELSMITH_SIGNATURE="sha256=00"
    )
    assert wrong.status_code == 401
    assert Render.objects.count() == 1


@pytest.mark.django_db
def test_generic_accepts_the_workspace_api_key_only(api: APIClient, other_api: APIClient) -> None:
    integration = make_integration(api, kind="generic")
    path = f"/inbound/{integration['id']}/"
    event = {"id": "c-1", "timestamp": "2026-11-24T10:00:00Z", "firstname": "Li"}
    own = APIClient()
    own.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_for(api.workspace)}")  # type: ignore[attr-defined]
    foreign = APIClient()
    foreign.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_for(other_api.workspace)}")  # type: ignore[attr-defined]
    assert foreign.post(path, event, format="json").status_code == 401
    assert own.post(path, event, format="json").status_code == 202
    assert own.post(path, event, format="json").status_code == 202
    assert Render.objects.count() == 1


@pytest.mark.django_db
def test_invalid_and_unmapped_fields_are_named(api: APIClient) -> None:
    integration = make_integration(api, kind="generic")
    path = f"/inbound/{integration['id']}/"
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_for(api.workspace)}")  # type: ignore[attr-defined]
    too_long = client.post(path, {"id": "1", "timestamp": "t", "firstname": "x" * 40}, format="json")
    assert too_long.status_code == 400
    assert list(too_long.json()["fields"]) == ["properties.firstname"]
    missing = client.post(path, {"id": "2", "timestamp": "t"}, format="json")
    assert missing.status_code == 400
    assert list(missing.json()["fields"]) == ["properties.firstname"]
    no_identity = client.post(path, {"firstname": "A"}, format="json")
    assert no_identity.status_code == 400
    assert "Idempotency-Key" in no_identity.json()["fields"]

    bad_map = api.post(
        "/api/v1/integrations/",
        {
            "kind": "hubspot",
            "template": make_template(api),
            "brand": make_brand(api),
            "field_map": {"nick": "nickname"},
        },
        format="json",
    )
    assert bad_map.status_code == 400
    fields = bad_map.json()["fields"]
    assert fields["field_map.nick"][0] == UNMAPPED_FIELD.format(variables="company, first_name, industry")
    assert fields["field_map.first_name"] == [UNMAPPED_REQUIRED]
    assert Render.objects.count() == 0


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("run_tasks_inline")
def test_hubspot_writeback_puts_the_video_link_on_the_contact(api: APIClient) -> None:
    with receiver() as hubspot:
        integration = make_integration(
            api,
            template=make_flat_template(api),
            writeback={
                "enabled": True,
                "field": "reelsmith_video",
                "token": "pat-test",
                "base_url": f"http://127.0.0.1:{hubspot.port}",
            },
        )
        assert "token" not in integration["writeback"]
        assert hubspot_post(APIClient(), integration, EVENT).status_code == 202
        assert Render.objects.get().status == "succeeded"
        [call] = hubspot.requests
    assert (call.method, call.path) == ("PATCH", "/crm/v3/objects/contacts/901")
    assert call.headers["authorization"] == "Bearer pat-test"
    sent = json.loads(call.body)["properties"]["reelsmith_video"]
    assert (
        urlsplit(sent).path == f"/w/{Render.objects.get().watch_page.token}"
    )  # the watch page, never expiring
    assert IntegrationRender.objects.get().writeback == "done"


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("run_tasks_inline")
def test_salesforce_writeback_and_off_by_default(api: APIClient) -> None:
    with receiver() as salesforce:
        base = f"http://127.0.0.1:{salesforce.port}"
        off = make_integration(api, kind="salesforce", template=make_flat_template(api))
        on = make_integration(
            api,
            kind="salesforce",
            template=make_flat_template(api),
            writeback={"enabled": True, "field": "Video_URL__c", "token": "00Dtoken", "base_url": base},
        )
        for integration, record in ((off, "003A"), (on, "003B")):
            body = json.dumps({"Id": record, "LastModifiedDate": "2026-11-24T10:00:00Z", "firstname": "Ana"})
            answer = APIClient().generic(
                "POST",
                f"/inbound/{integration['id']}/",
                body,
                content_type="application/json",
                **reelsmith_signed(integration, body.encode()),
            )
            assert answer.status_code == 202
        [call] = salesforce.requests
    assert (call.method, call.path) == ("PATCH", "/services/data/v61.0/sobjects/Contact/003B")
    assert list(json.loads(call.body)) == ["Video_URL__c"]
    incomplete = api.post(
        "/api/v1/integrations/",
        {
            "kind": "salesforce",
            "template": make_flat_template(api),
            "brand": make_brand(api),
            "field_map": FIELD_MAP,
            "writeback": {"enabled": True},
        },
        format="json",
    )
    assert incomplete.status_code == 400
    assert set(incomplete.json()["fields"]) == {"writeback.field", "writeback.token", "writeback.base_url"}


# --- signed means unreplayable (docs/reliability.md R19) -----------------------------------------------------


@pytest.mark.django_db
def test_the_signature_covers_body_path_idempotency_key_and_time(api: APIClient) -> None:
    integration = make_integration(api, kind="salesforce")
    other = make_integration(api, kind="salesforce")  # same secret, another path
    path = f"/inbound/{integration['id']}/"
    body = json.dumps({"Id": "003XYZ", "firstname": "Ana"}).encode()
    anonymous = APIClient()

    def post(target: str, headers: dict[str, Any]) -> Any:
        return anonymous.generic("POST", target, body.decode(), content_type="application/json", **headers)

    signed = reelsmith_signed(integration, body, idempotency_key="evt-1")
    first, replay = post(path, signed), post(path, signed)
    assert first.status_code == replay.status_code == 202
    assert first.json()["id"] == replay.json()["id"]  # a replay inside the window: the same render
    new_key = {**signed, "HTTP_IDEMPOTENCY_KEY": "evt-2"}
    assert post(path, new_key).status_code == 401  # the key is signed: a new one is a new signature
    assert post(f"/inbound/{other['id']}/", signed).status_code == 401  # so is the path
    for skew in (-301, 301):
        stale = reelsmith_signed(
            integration, body, idempotency_key="evt-3", timestamp=int(time.time()) + skew
        )
        assert post(path, stale).status_code == 401
    huge = {**signed, "HTTP_X_REELSMITH_TIMESTAMP": "9" * 400}
    assert post(path, huge).status_code == 401
    assert Render.objects.count() == 1


@pytest.mark.django_db
def test_a_captured_call_replayed_after_the_window_is_401(
    api: APIClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    integration = make_integration(api, kind="generic")
    path = f"/inbound/{integration['id']}/"
    body = json.dumps({"id": "c-1", "timestamp": "t1", "firstname": "Li"}).encode()
    signed = reelsmith_signed(integration, body)
    anonymous = APIClient()
    assert (
        anonymous.generic("POST", path, body.decode(), content_type="application/json", **signed).status_code
        == 202
    )
    later = time.time() + 6 * 60
    monkeypatch.setattr("campaigns.crm.time.time", lambda: later)
    replay = anonymous.generic("POST", path, body.decode(), content_type="application/json", **signed)
    assert replay.status_code == 401
    assert replay.json()["message"] == BAD_SIGNATURE
    assert Render.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("stamp", ["9" * 400, "9" * 5000, "\u00b2" * 3, "-1", "1e3", ""])
def test_a_hubspot_timestamp_of_any_size_is_401_never_500(api: APIClient, stamp: str) -> None:
    """It was parsed before the signature was checked: 400 digits overflowed a float."""
    integration = make_integration(api)
    response = APIClient().generic(
        "POST",
        f"/inbound/{integration['id']}/",
        json.dumps(EVENT),
        content_type="application/json",
        HTTP_X_HUBSPOT_SIGNATURE_V3="c2ln",
        HTTP_X_HUBSPOT_REQUEST_TIMESTAMP=stamp,
    )
    assert response.status_code == 401
    assert Render.objects.count() == 0


@pytest.mark.django_db
def test_hubspot_signs_no_idempotency_key_so_it_decides_nothing(api: APIClient) -> None:
    """A replayed HubSpot call with a made-up Idempotency-Key is still the same event: one render."""
    integration = make_integration(api)
    path = f"/inbound/{integration['id']}/"
    body = json.dumps(EVENT).encode()
    stamp = str(int(time.time() * 1000))
    signature = hubspot_signature(
        secret=SECRET, method="POST", uri=f"http://testserver{path}", body=body, timestamp=stamp
    )
    ids = set()
    for key in ("k-1", "k-2", "k-3"):
        response = APIClient().generic(
            "POST", path, body.decode(), content_type="application/json",
            HTTP_X_HUBSPOT_SIGNATURE_V3=signature, HTTP_X_HUBSPOT_REQUEST_TIMESTAMP=stamp, HTTP_IDEMPOTENCY_KEY=key,
        )  # fmt: skip
        assert response.status_code == 202
        ids.add(response.json()["id"])
    assert len(ids) == 1
    assert Render.objects.count() == 1


@pytest.mark.django_db
def test_signed_bodies_are_read_under_the_api_limits(api: APIClient) -> None:
    integration = make_integration(api, kind="generic")
    path = f"/inbound/{integration['id']}/"
    for body, field in (
        ("[" * 1000 + "]" * 1000, "body"),
        ('{"id": "c-1", "timestamp": "t", "firstname": "A\\u0000"}', "firstname"),
        ('{"id": "c-2", "timestamp": "t", "firstname": "A\\ud800"}', "firstname"),
    ):
        headers = reelsmith_signed(integration, body.encode())
        response = APIClient().generic("POST", path, body, content_type="application/json", **headers)
        assert response.status_code == 400, body[:40]
        assert list(response.json()["fields"]) == [field]
    assert Render.objects.count() == 0
