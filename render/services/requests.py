"""Accepting and canceling renders: the entry points every way in (the API, campaigns, CRM calls) shares."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.db import IntegrityError, transaction

from core.billing.ledger import charges_admit, charges_reserve
from core.billing.plans import TOO_MANY_IN_FLIGHT
from core.errors import ConflictError, TooManyRequestsError
from core.models import Brand, Workspace
from core.queue import enqueue
from render.likeness import render_likeness_check
from render.models import ACTIVE_RENDER_STATUSES, Priority, Render, RenderStatus
from render.pricing import render_charge
from render.services.images import uploaded_images_check
from render.services.transitions import TASK_PLAN, render_transition
from templates.merge import variables_resolve
from templates.models import TemplateVersion
from templates.moderation import moderation_values_check

# `Retry-After` of the in-flight 429 (seconds): a 15 s Full HD ad composes in a few seconds per recipient on
# a CPU worker (docs/benchmarks.md), so a slot has likely opened by then; a client that retries at once would
# only be refused again.
IN_FLIGHT_RETRY_AFTER_SECONDS = 10

IDEMPOTENCY_CONFLICT = "This Idempotency-Key was already used with a different request body."
ALREADY_FINISHED = "The render has already finished."


def _request_hash(body: dict[str, Any]) -> str:
    return hashlib.sha256(
        # surrogatepass: a lone surrogate in the values is refused by variables_resolve, with its name, just
        # after this; hashing must not fail on it first (docs/reliability.md R17).
        json.dumps(body, sort_keys=True, ensure_ascii=False, default=str).encode("utf-8", "surrogatepass")
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
    priority: int = Priority.INTERACTIVE,
    batch: bool = False,
) -> tuple[Render, bool]:
    """Accept a render: returns (render, created). The same Idempotency-Key and body give the same render.

    `priority` orders the queues (a person waiting goes first); `batch` marks a render requested for a
    batch such as a campaign, which the plan's in-flight limit does not count. The caller that asked for a
    batch render links it to its own records in the same transaction."""
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
    uploaded_images_check(workspace_id=workspace.pk, declared=template_version.variables, values=values)
    # A portrait, voice or presenter clip of the brand's needs its person's consent (400 naming `brand`).
    render_likeness_check(template_version=template_version, brand=brand)
    # Before any credit is reserved: a refused text costs nothing (templates/moderation.py).
    moderation_values_check(workspace=workspace, template_version=template_version, values=values)
    try:
        with transaction.atomic():
            render = Render.objects.create(
                workspace=workspace,
                template_version=template_version,
                brand=brand,
                batch=batch,
                variables=values,
                priority=priority,
                callback_url=callback_url,
                external_id=external_id,
                idempotency_key=idempotency_key or None,
                request_hash=request_hash,
            )
            # Credits are taken in this transaction: 402 (cost and balance) rolls the render back, unqueued.
            _credits_reserve(workspace, [render])
            enqueue(TASK_PLAN, str(render.pk), priority=priority)
    except IntegrityError:
        # A concurrent request with the same key won the race: answer with its render.
        if not idempotency_key:
            raise
        existing = Render.objects.get(workspace=workspace, idempotency_key=idempotency_key)
        return _idempotent_replay(existing, request_hash), False
    return render, True


def _credits_reserve(workspace: Workspace, renders: list[Render]) -> None:
    """Reserve the renders' worst-case cost, in the transaction that created them (docs/billing.md).

    Under the workspace's billing-account row lock, in this order: the plan's gates (402), the plan's
    in-flight limit counted here against renders not requested for a batch (429: waiting fixes it, paying
    does not have to), then the balance (402). The lock makes the count and the renders it admits one step
    (docs/reliability.md R13)."""
    charges = [render_charge(render=render) for render in renders]
    admission = charges_admit(workspace=workspace, charges=charges)
    limits = admission.limits
    # Batch renders are queued behind interactive ones at low priority by design, and capped on their own.
    interactive = sum(1 for render in renders if not render.batch)
    if limits.enforced and interactive:
        in_flight = (
            Render.objects.filter(workspace=workspace, batch=False, status__in=ACTIVE_RENDER_STATUSES)
            .exclude(pk__in=[render.pk for render in renders])
            .count()
        )
        if in_flight + interactive > limits.renders_in_flight:
            raise TooManyRequestsError(
                TOO_MANY_IN_FLIGHT.format(plan=limits.name, limit=limits.renders_in_flight),
                retry_after=IN_FLIGHT_RETRY_AFTER_SECONDS,
            )
    charges_reserve(workspace=workspace, charges=charges, admission=admission)


def _idempotent_replay(existing: Render, request_hash: str) -> Render:
    if existing.request_hash != request_hash:
        raise ConflictError(IDEMPOTENCY_CONFLICT, fields={"Idempotency-Key": IDEMPOTENCY_CONFLICT})
    return existing


def render_cancel(*, render: Render, reason: str = "") -> Render:
    """Cancel a render still in progress (409 once it finished); `reason` is kept as its error."""
    fields = {"error": reason[:2000]} if reason else {}
    if not render_transition(render.pk, ACTIVE_RENDER_STATUSES, RenderStatus.CANCELED, **fields):
        render.refresh_from_db()
        if render.status != RenderStatus.CANCELED:
            raise ConflictError(ALREADY_FINISHED)
    render.refresh_from_db()
    return render


def render_refuse(
    *,
    workspace: Workspace,
    template_version: TemplateVersion,
    brand: Brand,
    external_id: str = "",
    priority: int = Priority.BATCH,
) -> Render:
    """A batch render that will never run, so one item of a batch that cannot be rendered (a campaign
    recipient whose values were refused) fails alone, with its reason, where people look for results
    (docs/reliability.md R18). Created queued with no task, no charge and no variables (the refused values
    are not copied); the caller links it to its own records, then fails it with `render_fail`, which sends
    `render_finished` like any other failure."""
    return Render.objects.create(
        workspace=workspace,
        template_version=template_version,
        brand=brand,
        batch=True,
        variables={},
        priority=priority,
        external_id=external_id,
    )
