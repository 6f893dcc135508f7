"""Outbound webhooks: Standard Webhooks signatures, the delivery log, retries, 410, replay, callback_url,
and the private-address matrix (docs/reliability.md R9, R10)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.utils import timezone
from rest_framework.test import APIClient
from standardwebhooks.webhooks import Webhook

from campaigns.models import WebhookDelivery, WebhookEndpoint
from campaigns.webhooks import (
    GONE,
    secret_generate,
    webhook_deliveries_dispatch_due,
    webhook_delivery_attempt,
)
from core import outbound
from tests.campaigns.helpers import make_flat_template
from tests.campaigns.servers import receiver
from tests.render.test_api_renders import make_brand, request_render


def make_endpoint(api: APIClient, url: str, events: list[str] | None = None) -> dict[str, Any]:
    response = api.post(
        "/api/v1/webhooks/",
        {"url": url, "events": events or ["render.succeeded", "render.failed"]},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body: dict[str, Any] = response.json()
    return body


def verify(secret: str, received: Any) -> dict[str, Any]:
    payload: dict[str, Any] = Webhook(secret).verify(received.body, received.headers)
    return payload


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("run_tasks_inline")
def test_succeeded_render_is_delivered_signed_to_endpoint_and_callback(api: APIClient) -> None:
    with receiver() as hook, receiver() as callback:
        endpoint = make_endpoint(api, hook.url)
        assert endpoint["secret"].startswith("whsec_")
        render = request_render(
            api, make_flat_template(api), make_brand(api), {"first_name": "Zoë"}, callback_url=callback.url
        ).json()
        assert len(hook.requests) == 1
        payload = verify(endpoint["secret"], hook.requests[0])
        assert payload["type"] == "render.succeeded"
        assert payload["data"]["id"] == render["id"]
        assert urlsplit(payload["data"]["watch_url"]).path.startswith("/w/")
        assert (
            payload["data"]["video_url"] == payload["data"]["watch_url"] + "/video"
        )  # a redirect that never expires
        callback_secret = api.get("/api/v1/webhooks/callback-secret/").json()["secret"]
        assert verify(callback_secret, callback.requests[0]) == payload
        # A wrong secret does not verify.
        with pytest.raises(Exception, match="signature"):
            verify(callback_secret, hook.requests[0])
    log = api.get(f"/api/v1/webhooks/{endpoint['id']}/deliveries/").json()["results"]
    assert [(d["event"], d["status"], d["attempts"]) for d in log] == [("render.succeeded", "succeeded", 1)]


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("run_tasks_inline")
def test_failures_back_off_then_succeed_and_replay_keeps_the_message_id(api: APIClient) -> None:
    with receiver(status=503) as hook:
        endpoint = make_endpoint(api, hook.url)
        request_render(api, make_flat_template(api), make_brand(api), {"first_name": "Zoë"})
        delivery = WebhookDelivery.objects.get()
        assert delivery.status == "pending"
        assert delivery.attempts == 1
        assert delivery.last_status_code == 503
        # The first retry waits 5 s ± 20 % jitter.
        wait = (delivery.next_attempt_at - timezone.now()).total_seconds()  # type: ignore[operator]
        assert 3 <= wait <= 6.5
        assert webhook_deliveries_dispatch_due() == 0  # not due yet
        WebhookDelivery.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))
        hook.status = 200
        assert webhook_deliveries_dispatch_due() == 1  # the beat sweep sends it (inline here)
        delivery.refresh_from_db()
        assert (delivery.status, delivery.attempts) == ("succeeded", 2)
        replay = api.post(f"/api/v1/webhooks/{endpoint['id']}/deliveries/{delivery.pk}/replay/")
        assert replay.status_code == 202
        assert len(hook.requests) == 3
        assert len({r.headers["webhook-id"] for r in hook.requests}) == 1
        for received in hook.requests:
            verify(endpoint["secret"], received)


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("run_tasks_inline")
def test_gone_disables_the_endpoint(api: APIClient) -> None:
    with receiver(status=410) as hook:
        endpoint = make_endpoint(api, hook.url)
        template, brand = make_flat_template(api), make_brand(api)
        request_render(api, template, brand, {"first_name": "A"})
        request_render(api, template, brand, {"first_name": "B"})
        assert len(hook.requests) == 1
    row = WebhookEndpoint.objects.get(pk=endpoint["id"])
    assert row.disabled_at is not None
    assert row.disabled_reason == GONE
    assert WebhookDelivery.objects.get().status == "failed"


@pytest.mark.django_db
def test_retries_give_up_after_about_three_days(settings: Any) -> None:
    schedule = settings.REELSMITH_WEBHOOK_RETRY_SCHEDULE
    assert 2.5 * 86400 <= sum(schedule) <= 3.5 * 86400


@pytest.mark.django_db
def test_unknown_events_and_bad_urls_are_named(api: APIClient, settings: Any) -> None:
    bad = api.post(
        "/api/v1/webhooks/", {"url": "https://example.com/h", "events": ["render.exploded"]}, format="json"
    )
    assert bad.status_code == 400
    assert list(bad.json()["fields"]) == ["events[0]"]
    settings.OUTBOUND_ALLOW_PRIVATE = False
    private = api.post(
        "/api/v1/webhooks/",
        {"url": "http://169.254.169.254/latest", "events": ["render.failed"]},
        format="json",
    )
    assert private.status_code == 400
    assert private.json()["fields"] == {"url": [outbound.BLOCKED_DESTINATION]}


PRIVATE_HOSTS = [
    "127.0.0.1",
    "127.1",
    "2130706433",  # decimal
    "0x7f000001",  # hex
    "0x7f.0.0.1",
    "0177.0.0.1",  # octal
    "017700000001",
    "[::1]",
    "[::ffff:127.0.0.1]",  # IPv6-mapped
    "[::ffff:7f00:1]",
    "localhost",  # a name resolving to 127.0.0.1
    "0.0.0.0",  # noqa: S104  (reaches loopback on Linux)
]


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("run_tasks_inline")
def test_private_address_matrix_delivers_nothing_to_the_canary(api: APIClient, settings: Any) -> None:
    with receiver() as canary:
        settings.OUTBOUND_ALLOW_PRIVATE = False
        ids = []
        for host in PRIVATE_HOSTS:
            url = f"http://{host}:{canary.port}/hook"
            refused = api.post(
                "/api/v1/webhooks/", {"url": url, "events": ["render.succeeded"]}, format="json"
            )
            assert refused.status_code == 400, host  # refused up front (URL syntax or a private literal) ...
            # ... and if one got in anyway (DNS changes, a dev box's row), the send-time check stops it.
            endpoint = WebhookEndpoint.objects.create(
                workspace=api.workspace,  # type: ignore[attr-defined]
                url=url,
                events=["render.succeeded"],
                secret=secret_generate(),
            )
            ids.append(endpoint.pk)
        request_render(api, make_flat_template(api), make_brand(api), {"first_name": "Zoë"})
        assert canary.requests == []
        deliveries = WebhookDelivery.objects.filter(endpoint_id__in=ids)
        assert deliveries.count() == len(PRIVATE_HOSTS)
        assert {d.last_error for d in deliveries} == {outbound.BLOCKED_DESTINATION}
        assert {d.last_status_code for d in deliveries} == {None}


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("run_tasks_inline")
def test_redirects_are_never_followed(api: APIClient) -> None:
    with receiver() as canary, receiver(status=302, location=f"http://127.0.0.1:{0}/x") as redirector:
        redirector.location = canary.url
        make_endpoint(api, redirector.url)
        request_render(api, make_flat_template(api), make_brand(api), {"first_name": "Zoë"})
        assert len(redirector.requests) == 1
        assert canary.requests == []
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "pending"  # a 3xx is a failed attempt, retried later, never followed
    assert delivery.last_status_code == 302
    assert "not followed" in delivery.last_error


def test_address_allowed_table() -> None:
    for address in ["127.0.0.1", "10.0.0.1", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1",
                    "0.0.0.0", "::1", "fe80::1", "fc00::1", "::ffff:10.0.0.1", "2002:7f00:1::", "224.0.0.1"]:  # fmt: skip  # noqa: S104
        assert not outbound.address_allowed(address), address
    for address in ["93.184.216.34", "2606:4700:4700::1111", "::ffff:8.8.8.8"]:
        assert outbound.address_allowed(address), address


@pytest.mark.django_db
def test_a_delivery_for_a_missing_row_is_a_no_op() -> None:
    assert webhook_delivery_attempt(delivery_id="00000000-0000-0000-0000-000000000000") == "missing"


def test_payload_is_compact_json() -> None:
    assert json.dumps({"a": 1}, separators=(",", ":")) == '{"a":1}'
