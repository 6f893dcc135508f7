"""Erasing a recipient at their request (docs/trust.md): their values, what was rendered for them, their watch
page and its events, in one task run, leaving an audit entry that names no personal data.

`recipient_erase_request` (the API, the dashboard) sends the task on commit; `recipient_erase` is the task's
service and is safe to run twice: a recipient already gone is nothing to do. Order: first every render made for
them is erased (render.services.erasure: canceled if still running, every output deleted from storage, the
pictures generated for them alone, their pictures, their watch page), then, under the campaign's row lock that
fan-out also takes, any render that fan-out started meanwhile, then the recipient row itself. The render rows
stay (without the values), so the campaign's counts do not change.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction

from adspec.vocabulary import IMAGE_UPLOAD
from campaigns.models import Campaign, Recipient, WebhookDelivery
from core.audit import audit_context, audit_record
from core.models import Workspace
from core.queue import enqueue
from render.models import Render
from render.services.erasure import render_erase
from render.services.images import uploaded_image_delete

logger = logging.getLogger(__name__)

TASK_ERASE = "campaigns.erase_recipient"
ERASED_REASON = "Erased at the recipient's request."


def recipient_erase_request(*, recipient: Recipient) -> None:
    """Erase the recipient in a task (sent on commit; done before the answer in embedded sync mode), acting for
    whoever asked."""
    enqueue(TASK_ERASE, str(recipient.pk), audit_context().actor)


def _renders_of(recipient_id: Any) -> list[Render]:
    return list(
        Render.objects.filter(campaign_link__recipient_id=recipient_id)
        .select_related("template_version")
        .order_by("created_at")
    )


def _uploads_of(recipient: Recipient) -> dict[str, str]:
    """The recipient's uploaded pictures: {variable: `upload:` reference}."""
    declared = recipient.campaign.template_version.variables
    return {
        name: value
        for name, value in (recipient.variables or {}).items()
        if (declared.get(name) or {}).get("type") == "image"
        and isinstance(value, str)
        and IMAGE_UPLOAD.fullmatch(value)
    }


def _uploads_still_named(recipient: Recipient, uploads: dict[str, str]) -> frozenset[str]:
    """Of the recipient's uploaded pictures, those another recipient of the workspace names (a zip's logo for
    a whole company): content-addressed, one object serves them all, so it stays."""
    others = Recipient.objects.filter(campaign__workspace_id=recipient.campaign.workspace_id).exclude(
        pk=recipient.pk
    )
    return frozenset(
        value for name, value in uploads.items() if others.filter(**{f"variables__{name}": value}).exists()
    )


def _erase_renders(renders: list[Render], keep_uploads: frozenset[str] = frozenset()) -> int:
    deleted = 0
    for render in renders:
        deleted += render_erase(
            render=render, reason=ERASED_REASON, forget_personal=True, keep_uploads=keep_uploads
        )
        # Webhook deliveries keep a render's payload for retries and the log: its external id goes.
        for delivery in WebhookDelivery.objects.filter(payload__data__id=str(render.pk)):
            data = dict(delivery.payload.get("data") or {})
            if data.get("external_id"):
                data["external_id"] = ""
                WebhookDelivery.objects.filter(pk=delivery.pk).update(
                    payload={**delivery.payload, "data": data}
                )
    return deleted


def recipient_erase(*, recipient_id: Any, actor: str | None = None) -> bool:
    """Erase one recipient (see the module's docstring). False when there was no such recipient."""
    recipient = Recipient.objects.filter(pk=recipient_id).select_related("campaign__template_version").first()
    if recipient is None:
        return False
    campaign = recipient.campaign
    uploads = _uploads_of(recipient)
    shared = _uploads_still_named(recipient, uploads)
    renders = _renders_of(recipient.pk)
    deleted = _erase_renders(renders, shared)
    with transaction.atomic():
        # Fan-out holds this lock while it starts renders: after it, no new render can be made for them.
        Campaign.objects.select_for_update().filter(pk=campaign.pk).first()
        late = [render for render in _renders_of(recipient.pk) if render.pk not in {r.pk for r in renders}]
        deleted += _erase_renders(late, shared)
        if not Recipient.objects.filter(pk=recipient.pk).delete()[0]:
            return False  # a concurrent run erased them first
        # Pictures uploaded for them that no render made them (not yet rendered) and nobody else names.
        for name, reference in uploads.items():
            named = Render.objects.filter(
                workspace_id=campaign.workspace_id, **{f"variables__{name}": reference}
            )
            if reference not in shared and not named.exists():
                deleted += uploaded_image_delete(workspace_id=campaign.workspace_id, reference=reference)
        audit_record(
            "recipient.erased",
            workspace=campaign.workspace_id,
            object_type="recipient",
            object_id=recipient.pk,
            after={
                "campaign": str(campaign.pk),
                "renders": len(renders) + len(late),
                "objects_deleted": deleted,
            },
            actor=actor,
        )
    logger.info(
        "recipient erased", extra={"campaign_id": str(campaign.pk), "renders": len(renders) + len(late)}
    )
    return True


def recipients_erase_by_email(*, email: str, workspace: Workspace | None = None, actor: str) -> int:
    """Support's tool (`manage.py erase_recipient`): every recipient with this email (in one workspace, or all),
    erased now. Returns how many."""
    recipients = Recipient.objects.filter(email__iexact=email.strip())
    if workspace is not None:
        recipients = recipients.filter(campaign__workspace=workspace)
    count = 0
    for recipient_id in list(recipients.values_list("pk", flat=True)):
        count += recipient_erase(recipient_id=recipient_id, actor=actor)
    return count
