"""Outbound webhooks: endpoints, Standard Webhooks signing, the delivery table, retries
(docs/reliability.md R9).

Deliveries are rows inserted in the transaction that caused them (a render finishing, a campaign moving on)
and sent after commit by `webhooks.deliver`. A failed attempt schedules the next one with exponential
backoff and jitter (`REELSMITH_WEBHOOK_RETRY_SCHEDULE`, about 3 days in all); the beat-driven
`webhooks.dispatch_due` sends those when due, so no long countdown sits in the broker (a Redis ETA task
longer than the visibility timeout would be redelivered). A 410 Gone disables the endpoint.
"""

from __future__ import annotations

import base64
import json
import logging
import random
import secrets
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from standardwebhooks import Webhook

from campaigns.models import WebhookDelivery, WebhookEndpoint, WebhookEvent, WorkspaceCallbackSecret
from core import outbound
from core.audit import audit_record, changes
from core.errors import ApplicationError, ConflictError
from core.models import Workspace
from core.queue import enqueue

logger = logging.getLogger(__name__)

TASK_DELIVER = "webhooks.deliver"
SECRET_PREFIX = "whsec_"  # noqa: S105  (the Standard Webhooks secret prefix, not a secret)
UNKNOWN_EVENT = "Unknown event; choose from: " + ", ".join(WebhookEvent.values)
NO_EVENTS = "Choose at least one event."
ENDPOINT_DISABLED = "This endpoint is disabled."
GONE = "The receiver answered 410 Gone; the endpoint was disabled."
DISABLED_BY_HAND = "Disabled by a member of the workspace."
# The test event an endpoint is sent on request (`webhook_endpoint_test`); never emitted by anything else.
PING_EVENT = "ping"
TEST_WHILE_DISABLED = "This endpoint is disabled; enable it to send a test event."
# A delivery being sent is hidden from the due-sweep for this long (seconds): longer than one attempt's timeout.
CLAIM_SECONDS = 120


def secret_generate() -> str:
    # 24 random bytes, as svix/standardwebhooks generate (whsec_ + base64).
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def sign(*, secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """`webhook-signature` as the Standard Webhooks spec defines it, made by its reference library:
    v1,<base64 HMAC-SHA256 of "id.timestamp.body"> with the base64 key after `whsec_`."""
    return Webhook(secret).sign(message_id, datetime.fromtimestamp(timestamp, tz=UTC), body.decode("utf-8"))


# --- endpoints ----------------------------------------------------------------------------------------------


def _events_check(events: list[str]) -> None:
    if not events:
        raise ApplicationError(NO_EVENTS, fields={"events": NO_EVENTS})
    bad = {f"events[{i}]": UNKNOWN_EVENT for i, e in enumerate(events) if e not in WebhookEvent.values}
    if bad:
        raise ApplicationError(UNKNOWN_EVENT, fields=bad)


def webhook_endpoint_create(*, workspace: Workspace, url: str, events: list[str]) -> WebhookEndpoint:
    _events_check(events)
    _url_validate(url, field="url")
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.create(
            workspace=workspace, url=url, events=sorted(set(events)), secret=secret_generate()
        )
        _audit(endpoint, "webhook.created", after=_endpoint_snapshot(endpoint))
    return endpoint


def _endpoint_snapshot(endpoint: WebhookEndpoint) -> dict[str, Any]:
    """What an audit entry says of an endpoint: never its secret."""
    return {"url": endpoint.url, "events": list(endpoint.events), "enabled": endpoint.disabled_at is None}


def _audit(endpoint: WebhookEndpoint, action: str, *, before: Any = None, after: Any = None) -> None:
    audit_record(
        action,
        workspace=endpoint.workspace_id,
        object_type="webhook",
        object_id=endpoint.pk,
        before=before,
        after=after,
    )


def webhook_endpoint_set_enabled(*, endpoint: WebhookEndpoint, enabled: bool) -> WebhookEndpoint:
    """Switch an endpoint on (clearing why it was off) or off by hand; deliveries due meanwhile fail."""
    was = endpoint.disabled_at is None
    if enabled:
        endpoint.disabled_at = None
        endpoint.disabled_reason = ""
    elif endpoint.disabled_at is None:
        endpoint.disabled_at = timezone.now()
        endpoint.disabled_reason = DISABLED_BY_HAND
    with transaction.atomic():
        endpoint.save(update_fields=["disabled_at", "disabled_reason"])
        if was != enabled:
            _audit(
                endpoint,
                "webhook.enabled" if enabled else "webhook.disabled",
                before={"enabled": was},
                after={"enabled": enabled},
            )
    return endpoint


def webhook_endpoint_update(
    *,
    endpoint: WebhookEndpoint,
    url: str | None = None,
    events: list[str] | None = None,
    enabled: bool | None = None,
) -> WebhookEndpoint:
    """Change what is given (the URL, the events, on or off), all checked before anything is saved."""
    if events is not None:
        _events_check(events)
    was = _endpoint_snapshot(endpoint)
    if url is not None:
        _url_validate(url, field="url")
        endpoint.url = url
    if events is not None:
        endpoint.events = sorted(set(events))
    with transaction.atomic():
        endpoint.save(update_fields=["url", "events"])
        before, after = changes(was, _endpoint_snapshot(endpoint))
        if after:
            _audit(endpoint, "webhook.updated", before=before, after=after)
    if enabled is not None:
        webhook_endpoint_set_enabled(endpoint=endpoint, enabled=enabled)
    return endpoint


def webhook_endpoint_rotate_secret(*, endpoint: WebhookEndpoint) -> WebhookEndpoint:
    """A new signing secret; every attempt from now on (retries of older messages included) is signed with
    it, since a delivery is signed when it is sent."""
    endpoint.secret = secret_generate()
    with transaction.atomic():
        endpoint.save(update_fields=["secret"])
        _audit(endpoint, "webhook.secret_rotated")
    return endpoint


def webhook_endpoint_test(*, endpoint: WebhookEndpoint) -> WebhookDelivery:
    """Send a signed `ping` to the endpoint through the normal machinery (a delivery row, retries, the log),
    whatever events it subscribes to. Each test is its own message."""
    if endpoint.disabled_at is not None:
        raise ConflictError(TEST_WHILE_DISABLED)
    message_id = f"msg_{uuid.uuid4().hex}"
    with transaction.atomic():
        delivery = WebhookDelivery.objects.create(
            workspace_id=endpoint.workspace_id,
            endpoint=endpoint,
            url=endpoint.url,
            event=PING_EVENT,
            message_id=message_id,
            dedupe_key=f"{endpoint.pk}:{PING_EVENT}:{message_id}",
            payload=_payload(PING_EVENT, {"endpoint": str(endpoint.pk)}),
            next_attempt_at=timezone.now(),
        )
        enqueue(TASK_DELIVER, str(delivery.pk))
    return delivery


def webhook_endpoint_delete(*, endpoint: WebhookEndpoint) -> None:
    """Remove an endpoint and its delivery log; nothing more is sent to it."""
    with transaction.atomic():
        WebhookEndpoint.objects.filter(pk=endpoint.pk).delete()
        _audit(endpoint, "webhook.deleted", before=_endpoint_snapshot(endpoint))


def _url_validate(url: str, *, field: str) -> None:
    try:
        outbound.url_check(url)
    except outbound.OutboundError as exc:
        raise ApplicationError(str(exc), fields={field: str(exc)}) from None


def callback_secret_get(*, workspace: Workspace) -> str:
    row, _ = WorkspaceCallbackSecret.objects.get_or_create(
        workspace=workspace, defaults={"secret": secret_generate()}
    )
    return row.secret


# --- enqueueing deliveries (inside the caller's transaction) ------------------------------------------------


def _payload(event: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"type": event, "timestamp": timezone.now().isoformat(), "data": data}


def webhook_event_emit(
    *, workspace_id: Any, event: str, object_id: Any, data: dict[str, Any], callback_url: str = ""
) -> int:
    """Insert one delivery per subscribed endpoint (and the callback URL); send each after commit."""
    payload = _payload(event, data)
    endpoints = WebhookEndpoint.objects.filter(workspace_id=workspace_id, disabled_at__isnull=True)
    targets: list[tuple[WebhookEndpoint | None, str]] = [
        (endpoint, endpoint.url) for endpoint in endpoints if event in endpoint.events
    ]
    if callback_url:
        targets.append((None, callback_url))
    created = 0
    for endpoint, url in targets:
        dedupe_key = f"{endpoint.pk if endpoint else 'callback'}:{event}:{object_id}"
        delivery, was_created = WebhookDelivery.objects.get_or_create(
            dedupe_key=dedupe_key,
            defaults={
                "workspace_id": workspace_id,
                "endpoint": endpoint,
                "url": url,
                "event": event,
                "message_id": f"msg_{uuid.uuid4().hex}",
                "payload": payload,
                "next_attempt_at": timezone.now(),
            },
        )
        if was_created:
            enqueue(TASK_DELIVER, str(delivery.pk))
            created += 1
    return created


# --- sending ------------------------------------------------------------------------------------------------


def _retry_delay(attempts: int) -> float | None:
    """Seconds until the next attempt after `attempts` failures, with ±20 % jitter; None: give up."""
    schedule: list[int] = settings.REELSMITH_WEBHOOK_RETRY_SCHEDULE
    if attempts > len(schedule):
        return None
    base = schedule[attempts - 1]
    return base * random.uniform(0.8, 1.2)  # noqa: S311  (jitter, not cryptography)


def _secret_for(delivery: WebhookDelivery) -> str:
    if delivery.endpoint is not None:
        return delivery.endpoint.secret
    return callback_secret_get(workspace=delivery.workspace)


def webhook_delivery_attempt(*, delivery_id: Any) -> str:
    """Send one pending delivery once. Returns its status afterwards."""
    now = timezone.now()
    # Claim: only a pending delivery that is due, and hide it from the sweep while this attempt runs.
    claimed = WebhookDelivery.objects.filter(
        pk=delivery_id, status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now
    ).update(next_attempt_at=now + timedelta(seconds=CLAIM_SECONDS), attempts=F("attempts") + 1)
    delivery = WebhookDelivery.objects.select_related("endpoint", "workspace").filter(pk=delivery_id).first()
    if delivery is None:
        return "missing"
    if not claimed:
        return str(delivery.status)
    if delivery.endpoint is not None and delivery.endpoint.disabled_at is not None:
        _finish(delivery, WebhookDelivery.Status.FAILED, error=ENDPOINT_DISABLED)
        return WebhookDelivery.Status.FAILED
    body = json.dumps(delivery.payload, separators=(",", ":"), ensure_ascii=False).encode()
    timestamp = int(time.time())
    headers = {
        "webhook-id": delivery.message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(
            secret=_secret_for(delivery), message_id=delivery.message_id, timestamp=timestamp, body=body
        ),
        "User-Agent": "Reelsmith-Webhooks/1",
    }
    status_code: int | None = None
    error = ""
    try:
        response = outbound.post(
            delivery.url, body=body, headers=headers, timeout=settings.REELSMITH_WEBHOOK_TIMEOUT
        )
        status_code = response.status
        if 300 <= status_code < 400:
            error = f"redirect to {response.location!r} not followed"
    except outbound.OutboundError as exc:
        error = str(exc)[:500]
    if status_code is not None and 200 <= status_code < 300:
        _finish(delivery, WebhookDelivery.Status.SUCCEEDED, status_code=status_code)
        return WebhookDelivery.Status.SUCCEEDED
    if status_code == 410 and delivery.endpoint is not None:
        WebhookEndpoint.objects.filter(pk=delivery.endpoint.pk, disabled_at__isnull=True).update(
            disabled_at=timezone.now(), disabled_reason=GONE
        )
        _finish(delivery, WebhookDelivery.Status.FAILED, status_code=status_code, error=GONE)
        return WebhookDelivery.Status.FAILED
    delay = _retry_delay(delivery.attempts)
    if delay is None:
        _finish(delivery, WebhookDelivery.Status.FAILED, status_code=status_code, error=error)
        return WebhookDelivery.Status.FAILED
    WebhookDelivery.objects.filter(pk=delivery.pk, status=WebhookDelivery.Status.PENDING).update(
        next_attempt_at=timezone.now() + timedelta(seconds=delay),
        last_status_code=status_code,
        last_error=error or f"HTTP {status_code}",
    )
    return WebhookDelivery.Status.PENDING


def _finish(
    delivery: WebhookDelivery, status: str, *, status_code: int | None = None, error: str = ""
) -> None:
    WebhookDelivery.objects.filter(pk=delivery.pk, status=WebhookDelivery.Status.PENDING).update(
        status=status,
        last_status_code=status_code,
        last_error=error[:500],
        next_attempt_at=None,
        delivered_at=timezone.now() if status == WebhookDelivery.Status.SUCCEEDED else None,
    )


def webhook_deliveries_dispatch_due(*, limit: int = 500) -> int:
    """The beat sweep: enqueue every pending delivery whose next attempt is due (bounded per tick)."""
    due = list(
        WebhookDelivery.objects.filter(
            status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=timezone.now()
        )
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
    for delivery_id in due:
        enqueue(TASK_DELIVER, str(delivery_id))
    return len(due)


def webhook_delivery_replay(*, delivery: WebhookDelivery) -> WebhookDelivery:
    """Send a message again, same `webhook-id` (receivers dedupe on it), with a fresh attempt budget."""
    with transaction.atomic():
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            status=WebhookDelivery.Status.PENDING, attempts=0, next_attempt_at=timezone.now(), last_error=""
        )
        enqueue(TASK_DELIVER, str(delivery.pk))
    delivery.refresh_from_db()
    return delivery
