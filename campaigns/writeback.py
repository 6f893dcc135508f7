"""Write-back: a succeeded CRM-triggered render's video link goes into the CRM record. Off by default.

One function per vendor, each one HTTP call through `core.outbound` (the same private-address rules as
webhooks). HubSpot: `PATCH /crm/v3/objects/contacts/{id}` with `{"properties": {field: url}}`
(https://developers.hubspot.com/docs/api/crm/contacts). Salesforce: `PATCH
/services/data/v61.0/sobjects/{object}/{id}` with `{field: url}` (REST API "Update a Record").
Tests point `writeback_base_url` at a local fake server.
"""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.db import transaction
from django.db.models import F

from campaigns.models import Integration, IntegrationRender
from core import outbound
from core.queue import enqueue
from render.models import RenderStatus
from render.selectors import render_urls

logger = logging.getLogger(__name__)

TASK_WRITEBACK = "crm.writeback"
HUBSPOT_API = "https://api.hubapi.com"
# The Salesforce REST API version we speak (Summer '24); PATCH on sobjects is unchanged across versions.
SALESFORCE_API_VERSION = "v61.0"
# Write-back is a nicety on top of the video: a few tries, then the error is recorded on the link.
MAX_ATTEMPTS = 3


def _hubspot(integration: Integration, object_id: str, video_url: str) -> tuple[str, dict[str, Any]]:
    base = (integration.writeback_base_url or HUBSPOT_API).rstrip("/")
    return f"{base}/crm/v3/objects/contacts/{quote(object_id, safe='')}", {
        "properties": {integration.writeback_field: video_url}
    }


def _salesforce(integration: Integration, object_id: str, video_url: str) -> tuple[str, dict[str, Any]]:
    base = integration.writeback_base_url.rstrip("/")
    sobject = integration.salesforce_object or "Contact"
    url = f"{base}/services/data/{SALESFORCE_API_VERSION}/sobjects/{quote(sobject, safe='')}/{quote(object_id, safe='')}"
    return url, {integration.writeback_field: video_url}


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


def writeback_run(*, render_id: Any) -> str:
    link = (
        IntegrationRender.objects.select_related("integration", "render")
        .filter(render_id=render_id, writeback=IntegrationRender.WriteBack.PENDING)
        .first()
    )
    if link is None or link.render.status != RenderStatus.SUCCEEDED:
        return "skipped"
    integration = link.integration
    video_url = render_urls(link.render)["video_url"] or ""
    url, payload = VENDORS[Integration.Kind(integration.kind)](integration, link.object_id, video_url)
    IntegrationRender.objects.filter(pk=link.pk).update(writeback_attempts=F("writeback_attempts") + 1)
    try:
        response = outbound.request(
            "PATCH",
            url,
            body=json.dumps(payload).encode(),
            headers={"Authorization": f"Bearer {integration.writeback_token}"},
            timeout=settings.REELSMITH_WEBHOOK_TIMEOUT,
        )
        error = "" if 200 <= response.status < 300 else f"HTTP {response.status}: {response.body[:200]!r}"
    except outbound.OutboundError as exc:
        error = str(exc)
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
