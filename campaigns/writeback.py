"""Write-back: a succeeded CRM-triggered render's watch page link goes into the CRM record, and, where the
integration names fields for them, the page's view and CTA-click counts as viewers come. Off by default.

One function per vendor, each one HTTP call through `core.outbound` (the same private-address rules as
webhooks). HubSpot: `PATCH /crm/v3/objects/contacts/{id}` with `{"properties": {field: value}}`
(https://developers.hubspot.com/docs/api/crm/contacts). Salesforce: `PATCH
/services/data/v61.0/sobjects/{object}/{id}` with `{field: value}` (REST API "Update a Record").
The link is the watch page (render/watch), never a storage URL that expires while the record is read.
Tests point `writeback_base_url` at a local fake server.
"""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import F

from campaigns.models import Integration, IntegrationRender
from core import outbound
from core.queue import enqueue
from render.models import RenderStatus
from render.watch.selectors import render_watch_url
from render.watch.services import watch_page_ensure

logger = logging.getLogger(__name__)

TASK_WRITEBACK = "crm.writeback"
TASK_WRITEBACK_ENGAGEMENT = "crm.writeback_engagement"
# Engagement counts go to a record at most once per this many seconds (the counts written are those when the
# task runs): HubSpot allows 100 calls per 10 s per private app, and a shared link can draw a crowd.
ENGAGEMENT_WRITEBACK_SECONDS = 60
HUBSPOT_API = "https://api.hubapi.com"
# The Salesforce REST API version we speak (Summer '24); PATCH on sobjects is unchanged across versions.
SALESFORCE_API_VERSION = "v61.0"
# Write-back is a nicety on top of the video: a few tries, then the error is recorded on the link.
MAX_ATTEMPTS = 3


def _hubspot(integration: Integration, object_id: str, values: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    base = (integration.writeback_base_url or HUBSPOT_API).rstrip("/")
    return f"{base}/crm/v3/objects/contacts/{quote(object_id, safe='')}", {"properties": values}


def _salesforce(
    integration: Integration, object_id: str, values: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    base = integration.writeback_base_url.rstrip("/")
    sobject = integration.salesforce_object or "Contact"
    url = f"{base}/services/data/{SALESFORCE_API_VERSION}/sobjects/{quote(sobject, safe='')}/{quote(object_id, safe='')}"
    return url, dict(values)


VENDORS = {Integration.Kind.HUBSPOT: _hubspot, Integration.Kind.SALESFORCE: _salesforce}


def writeback_schedule(*, render_id: Any) -> None:
    """From the render_finished receiver (inside that transaction): queue the write-back if configured."""
    link = IntegrationRender.objects.select_related("integration").filter(render_id=render_id).first()
    if link is None or not link.integration.writeback_enabled or link.integration.kind not in VENDORS:
        return
    if IntegrationRender.objects.filter(pk=link.pk, writeback=IntegrationRender.WriteBack.OFF).update(
        writeback=IntegrationRender.WriteBack.PENDING
    ):
        enqueue(TASK_WRITEBACK, str(render_id))


def _record_patch(integration: Integration, object_id: str, values: dict[str, Any]) -> str:
    """PATCH the CRM record's properties through the private-address guard; "" when the CRM took it, else
    why not (an HTTP status and the start of the body, or the connection's error)."""
    url, payload = VENDORS[Integration.Kind(integration.kind)](integration, object_id, values)
    try:
        response = outbound.request(
            "PATCH",
            url,
            body=json.dumps(payload).encode(),
            headers={"Authorization": f"Bearer {integration.writeback_token}"},
            timeout=settings.REELSMITH_WEBHOOK_TIMEOUT,
        )
    except outbound.OutboundError as exc:
        return str(exc)
    return "" if 200 <= response.status < 300 else f"HTTP {response.status}: {response.body[:200]!r}"


def writeback_run(*, render_id: Any) -> str:
    link = (
        IntegrationRender.objects.select_related("integration", "render")
        .filter(render_id=render_id, writeback=IntegrationRender.WriteBack.PENDING)
        .first()
    )
    if link is None or link.render.status != RenderStatus.SUCCEEDED:
        return "skipped"
    integration = link.integration
    watch_page_ensure(render_id=link.render_id)
    page_url = render_watch_url(link.render) or ""
    IntegrationRender.objects.filter(pk=link.pk).update(writeback_attempts=F("writeback_attempts") + 1)
    error = _record_patch(integration, link.object_id, {integration.writeback_field: page_url})
    if not error:
        IntegrationRender.objects.filter(pk=link.pk).update(writeback=IntegrationRender.WriteBack.DONE)
        return "done"
    link.refresh_from_db()
    if link.writeback_attempts >= MAX_ATTEMPTS:
        IntegrationRender.objects.filter(pk=link.pk).update(
            writeback=IntegrationRender.WriteBack.FAILED, writeback_error=error[:500]
        )
        return "failed"
    IntegrationRender.objects.filter(pk=link.pk).update(writeback_error=error[:500])
    with transaction.atomic():
        # Back off 60 s, 120 s (short: these are the CRM's own API limits, not a receiver being down).
        enqueue(TASK_WRITEBACK, str(render_id), countdown=60 * link.writeback_attempts)
    return "pending"


def writeback_engagement_schedule(*, render_id: Any) -> None:
    """From the watch-engaged receiver: send the render's view and click counts to its CRM record, if its
    integration writes engagement back; at most one call per record per ENGAGEMENT_WRITEBACK_SECONDS
    (Django's cache keeps the window; a view inside it is written by the call the window's first one queued)."""
    link = IntegrationRender.objects.select_related("integration").filter(render_id=render_id).first()
    if link is None:
        return
    integration = link.integration
    if (
        not integration.writeback_enabled
        or integration.kind not in VENDORS
        or not (integration.writeback_views_field or integration.writeback_clicks_field)
    ):
        return
    if cache.add(f"crm:engagement:{render_id}", 1, ENGAGEMENT_WRITEBACK_SECONDS):
        # Sent at the end of the window, so it writes the window's last counts (embedded mode runs it now).
        enqueue(TASK_WRITEBACK_ENGAGEMENT, str(render_id), countdown=ENGAGEMENT_WRITEBACK_SECONDS)


def writeback_engagement_run(*, render_id: Any) -> str:
    """PATCH the record's view / click count properties with the page's totals now (absolute values, so a
    repeated or late call writes the truth, never a double count)."""
    link = (
        IntegrationRender.objects.select_related("integration", "render__watch_page")
        .filter(render_id=render_id)
        .first()
    )
    if link is None or not link.integration.writeback_enabled or link.integration.kind not in VENDORS:
        return "skipped"
    integration = link.integration
    page = getattr(link.render, "watch_page", None)
    if page is None:
        return "skipped"
    values: dict[str, Any] = {}
    if integration.writeback_views_field:
        values[integration.writeback_views_field] = page.views
    if integration.writeback_clicks_field:
        values[integration.writeback_clicks_field] = page.cta_clicks
    if not values:
        return "skipped"
    error = _record_patch(integration, link.object_id, values)
    if error:
        # Not retried: the next view or click writes the counts again (they are totals, not increments).
        logger.warning("engagement write-back for render %s failed: %s", render_id, error)
        IntegrationRender.objects.filter(pk=link.pk).update(writeback_error=error[:500])
        return "failed"
    return "done"
