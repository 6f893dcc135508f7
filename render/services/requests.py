"""Accepting and canceling renders: the entry points the API, campaigns and CRM calls share."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.db import IntegrityError, transaction

from campaigns.models import Campaign, Recipient
from core.billing.services import billing_reserve
from core.errors import ConflictError
from core.models import Brand, Workspace
from core.queue import enqueue
from render.models import ACTIVE_RENDER_STATUSES, Priority, Render, RenderStatus
from render.services.transitions import TASK_PLAN, render_transition
from templates.models import TemplateVersion
from templates.spec import variables_resolve

IDEMPOTENCY_CONFLICT = "This Idempotency-Key was already used with a different request body."
ALREADY_FINISHED = "The render has already finished."


def _request_hash(body: dict[str, Any]) -> str:
    return hashlib.sha256(
        json.dumps(body, sort_keys=True, ensure_ascii=False, default=str).encode()
    ).hexdigest()


def render_request(
    *,
    workspace: Workspace,
    template_version: TemplateVersion,
    brand: Brand,
    variables: Any,
    callback_url: str = "",
    external_id: str = "",
    idempotency_key: str | None = None,
    campaign: Campaign | None = None,
    recipient: Recipient | None = None,
    priority: int = Priority.INTERACTIVE,
) -> tuple[Render, bool]:
    """Accept a render: returns (render, created). The same Idempotency-Key and body give the same render."""
    body = {
        "template": str(template_version.template_id),
        "version": template_version.version,
        "brand": str(brand.pk),
        "variables": variables,
        "callback_url": callback_url,
        "external_id": external_id,
    }
    request_hash = _request_hash(body)
    if idempotency_key:
        existing = Render.objects.filter(workspace=workspace, idempotency_key=idempotency_key).first()
        if existing is not None:
            return _idempotent_replay(existing, request_hash), False
    values = variables_resolve(declared=template_version.variables, values=variables)
    try:
        with transaction.atomic():
            render = Render.objects.create(
                workspace=workspace,
                template_version=template_version,
                brand=brand,
                campaign=campaign,
                recipient=recipient,
                variables=values,
                priority=priority,
                callback_url=callback_url,
                external_id=external_id,
                idempotency_key=idempotency_key or None,
                request_hash=request_hash,
            )
            # Credits are taken in this transaction: 402 (cost and balance) rolls the render back, unqueued.
            billing_reserve(workspace=workspace, renders=[render])
            enqueue(TASK_PLAN, str(render.pk), priority=priority)
    except IntegrityError:
        # A concurrent request with the same key won the race: answer with its render.
        if not idempotency_key:
            raise
        existing = Render.objects.get(workspace=workspace, idempotency_key=idempotency_key)
        return _idempotent_replay(existing, request_hash), False
    return render, True


def _idempotent_replay(existing: Render, request_hash: str) -> Render:
    if existing.request_hash != request_hash:
        raise ConflictError(IDEMPOTENCY_CONFLICT, fields={"Idempotency-Key": IDEMPOTENCY_CONFLICT})
    return existing


def render_cancel(*, render: Render) -> Render:
    if not render_transition(render.pk, ACTIVE_RENDER_STATUSES, RenderStatus.CANCELED):
        render.refresh_from_db()
        if render.status != RenderStatus.CANCELED:
            raise ConflictError(ALREADY_FINISHED)
    render.refresh_from_db()
    return render
