"""Campaign writes: creation, the lifecycle with its human gate, fan-out, schedules.

Lifecycle: draft → sampling (samples render) → awaiting_approval (every sample finished) → approved (a
person approved succeeded samples) → running (fan-out) → completed; `pause` from any unfinished state and
`resume` back to it; `cancel` from any unfinished state. Fan-out walks recipients by position in chunks
(bounded memory), keeps each workspace under a cap of campaign renders in flight, and hears about finished
renders through `render.signals.render_finished`; progress and completion are database counts (no chords).
Recipients are imported by `campaigns.recipients`.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count
from django.utils import timezone

from campaigns import schedule
from campaigns.models import Campaign, CampaignRender, CampaignRun, Integration, Recipient, WebhookEvent
from campaigns.webhooks import webhook_event_emit
from core.audit import audit_record
from core.errors import ApplicationError, ConflictError, PaymentRequiredError
from core.models import Brand, Workspace
from core.queue import enqueue
from core.text import name_check, text_problem
from render.likeness import render_likeness_check, render_likeness_problem
from render.models import ACTIVE_RENDER_STATUSES, Priority, Render, RenderStatus
from render.services import ALREADY_FINISHED, render_cancel, render_fail, render_refuse, render_request
from render.watch.services import watch_pages_expire
from templates.models import TemplateVersion

logger = logging.getLogger(__name__)

TASK_FANOUT = "campaigns.fanout"

Status = Campaign.Status
UNFINISHED = (
    Status.DRAFT,
    Status.SAMPLING,
    Status.AWAITING_APPROVAL,
    Status.APPROVED,
    Status.RUNNING,
    Status.PAUSED,
)

NOT_APPROVED = "The campaign must be approved before it is launched."
SAMPLES_NOT_READY = "Approval needs samples that all succeeded; request samples and wait for them."
SAMPLES_WRONG_STATE = "Samples can be requested for a draft campaign, or again while awaiting approval."
NO_RECIPIENTS = "The campaign has no recipients yet."
CAMPAIGN_FINISHED = "The campaign has already finished."
NOT_PAUSED = "The campaign is not paused."
NOT_AWAITING_APPROVAL = "Changes can be requested only while the campaign awaits approval."
COMMENT_REQUIRED = "Say what should change."
BRAND_IN_CAMPAIGN = (
    "The campaign {name!r} ({status}) still uses this brand; cancel it or let it finish first."
)
BRAND_IN_INTEGRATION = "The {kind} integration {name!r} renders with this brand; delete it first."


# --- creation -----------------------------------------------------------------------------------------------


def campaign_create(
    *,
    workspace: Workspace,
    name: str,
    template_version: TemplateVersion,
    brand: Brand,
    schedule_cron: str = "",
    schedule_timezone: str = "",
    recurring: bool = False,
) -> Campaign:
    name_check(name)
    if schedule_cron:
        try:
            schedule.cron_parse(schedule_cron)
        except ValueError as exc:
            raise ApplicationError(str(exc), fields={"schedule.cron": str(exc)}) from None
        try:
            schedule.zone(schedule_timezone)
        except ValueError as exc:
            raise ApplicationError(str(exc), fields={"schedule.timezone": str(exc)}) from None
    render_likeness_check(template_version=template_version, brand=brand)
    with transaction.atomic():
        campaign = Campaign.objects.create(
            workspace=workspace,
            name=name,
            template_version=template_version,
            brand=brand,
            schedule_cron=schedule_cron,
            schedule_timezone=schedule_timezone or ("UTC" if schedule_cron else ""),
            recurring=recurring,
        )
        _audit(
            campaign, "campaign.created", after={"name": name, "template_version": str(template_version.pk)}
        )
    return campaign


def brand_in_use_check(brand: Brand) -> None:
    """Refuse deleting a brand something live uses (campaigns not yet finished, CRM integrations), with the
    reason. Registered with `core.services.brand_delete` in `CampaignsConfig.ready()`."""
    live = Campaign.objects.filter(brand=brand, status__in=UNFINISHED).order_by("created_at").first()
    if live is not None:
        raise ConflictError(BRAND_IN_CAMPAIGN.format(name=live.name, status=live.get_status_display()))
    integration = Integration.objects.filter(brand=brand).order_by("created_at").first()
    if integration is not None:
        raise ConflictError(
            BRAND_IN_INTEGRATION.format(kind=integration.kind, name=integration.name or str(integration.pk))
        )


# --- lifecycle ----------------------------------------------------------------------------------------------


def _locked(campaign: Campaign) -> Campaign:
    return Campaign.objects.select_for_update().get(pk=campaign.pk)


def _campaign_payload(campaign: Campaign) -> dict[str, Any]:
    return {"id": str(campaign.pk), "name": campaign.name, "status": campaign.status}


def _audit(campaign: Campaign, action: str, *, before: Any = None, after: Any = None) -> None:
    """The audit entry of a lifecycle step: the last write of the step's transaction (core.audit)."""
    audit_record(
        action,
        workspace=campaign.workspace_id,
        object_type="campaign",
        object_id=campaign.pk,
        before=before,
        after=after,
    )


def campaign_samples(*, campaign: Campaign, count: int) -> Campaign:
    """Render the first `count` recipients for review (interactive lane: a person is waiting for them)."""
    with transaction.atomic():
        campaign = _locked(campaign)
        if campaign.status not in (Status.DRAFT, Status.AWAITING_APPROVAL):
            raise ConflictError(SAMPLES_WRONG_STATE)
        if campaign.recipient_count == 0:
            raise ConflictError(NO_RECIPIENTS)
        count = min(count, campaign.recipient_count)
        first = Recipient.objects.filter(campaign=campaign, position__lte=count).order_by("position")
        rendered = set(campaign.render_links.values_list("recipient_id", flat=True))
        for recipient in first:
            if recipient.pk not in rendered:
                _render_for(campaign, recipient, Priority.INTERACTIVE)
        campaign.status = Status.SAMPLING
        campaign.sample_count = max(count, campaign.sample_count)
        campaign.fanout_cursor = max(campaign.fanout_cursor, campaign.sample_count)
        campaign.save(update_fields=["status", "sample_count", "fanout_cursor", "updated_at"])
        _samples_check(campaign)
    campaign.refresh_from_db()
    return campaign


def _render_for(campaign: Campaign, recipient: Recipient, priority: int) -> Render:
    """The recipient's render. One whose values cannot be rendered fails alone, with the reason, as a failed
    render of its own (`render_refuse`): its savepoint rolls back only its own rows, never the chunk's or
    the campaign's (docs/reliability.md R18). Running out of credits (402) or capacity (429) is no fault of
    the recipient's and goes to the caller."""
    try:
        with transaction.atomic():
            problem = text_problem(recipient.external_id)
            if problem is not None:
                raise ApplicationError(problem, fields={"external_id": problem})
            render, _ = render_request(
                workspace=campaign.workspace,
                template_version=campaign.template_version,
                brand=campaign.brand,
                variables=recipient.variables,
                external_id=recipient.external_id,
                priority=priority,
                batch=True,
            )
            CampaignRender.objects.create(render=render, campaign=campaign, recipient=recipient)
            return render
    except ApplicationError as exc:
        if exc.status_code != 400:
            raise
        reason = _refusal_reason(exc)
    render = render_refuse(
        workspace=campaign.workspace,
        template_version=campaign.template_version,
        brand=campaign.brand,
        external_id="" if text_problem(recipient.external_id) else recipient.external_id,
        priority=priority,
    )
    CampaignRender.objects.create(render=render, campaign=campaign, recipient=recipient)
    render_fail(render_id=render.pk, reason=reason)
    render.refresh_from_db()
    return render


def _refusal_reason(exc: ApplicationError) -> str:
    """`variables.first_name: Must not contain ...` for a person reading results.csv."""
    details = "; ".join(f"{path}: {' '.join(messages)}" for path, messages in exc.fields.items())
    return f"{exc.message} {details}".strip() if details else exc.message


def _samples_check(campaign: Campaign) -> None:
    """Sampling → awaiting_approval once no sample is still rendering (caller holds the campaign lock)."""
    if campaign.status != Status.SAMPLING:
        return
    if Render.objects.filter(campaign_link__campaign=campaign, status__in=ACTIVE_RENDER_STATUSES).exists():
        return
    if Campaign.objects.filter(pk=campaign.pk, status=Status.SAMPLING).update(
        status=Status.AWAITING_APPROVAL, updated_at=timezone.now()
    ):
        campaign.status = Status.AWAITING_APPROVAL
        webhook_event_emit(
            workspace_id=campaign.workspace_id,
            event=WebhookEvent.CAMPAIGN_AWAITING_APPROVAL,
            object_id=f"{campaign.pk}:{campaign.sample_count}",
            data={**_campaign_payload(campaign), "samples": campaign.sample_count},
        )


def campaign_approve(*, campaign: Campaign, actor: str) -> Campaign:
    with transaction.atomic():
        campaign = _locked(campaign)
        samples = Render.objects.filter(
            campaign_link__campaign=campaign, campaign_link__recipient__position__lte=campaign.sample_count
        )
        if (
            campaign.status != Status.AWAITING_APPROVAL
            or campaign.sample_count == 0
            or samples.exclude(status=RenderStatus.SUCCEEDED).exists()
        ):
            raise ConflictError(SAMPLES_NOT_READY)
        campaign.status = Status.APPROVED
        campaign.approved_by = actor[:200]
        campaign.approved_at = timezone.now()
        campaign.save(update_fields=["status", "approved_by", "approved_at", "updated_at"])
        _audit(
            campaign,
            "campaign.approved",
            before={"status": Status.AWAITING_APPROVAL},
            after={"status": Status.APPROVED, "samples": campaign.sample_count},
        )
    return campaign


def campaign_request_changes(*, campaign: Campaign, actor: str, comment: str) -> Campaign:
    """The reviewer's other answer: back to draft, with who asked, when and what (kept in `status_reason`)
    so the template or recipients can be fixed and samples requested again."""
    comment = comment.strip()
    if not comment:
        raise ApplicationError(COMMENT_REQUIRED, fields={"comment": COMMENT_REQUIRED})
    with transaction.atomic():
        campaign = _locked(campaign)
        if campaign.status != Status.AWAITING_APPROVAL:
            raise ConflictError(NOT_AWAITING_APPROVAL)
        when = timezone.now().strftime("%Y-%m-%d %H:%M UTC")
        campaign.status = Status.DRAFT
        campaign.status_reason = f"Changes requested by {actor} on {when}: {comment}"[:500]
        campaign.save(update_fields=["status", "status_reason", "updated_at"])
        _audit(
            campaign,
            "campaign.changes_requested",
            before={"status": Status.AWAITING_APPROVAL},
            after={"status": Status.DRAFT, "comment": comment[:500]},
        )
    return campaign


def campaign_launch(*, campaign: Campaign) -> Campaign:
    now = timezone.now()
    with transaction.atomic():
        campaign = _locked(campaign)
        if campaign.status != Status.APPROVED:
            raise ConflictError(NOT_APPROVED, fields={"status": campaign.status})
        campaign.status = Status.RUNNING
        campaign.launched_at = now
        if campaign.is_scheduled:
            # Armed: nothing fans out until the first slot after launch (the tick creates that run).
            campaign.fanout_target = campaign.fanout_cursor
            campaign.last_slot = now
        else:
            campaign.fanout_target = None
            CampaignRun.objects.create(
                campaign=campaign,
                slot=now,
                from_position=campaign.fanout_cursor,
                to_position=campaign.recipient_count,
            )
            enqueue(TASK_FANOUT, str(campaign.pk))
        campaign.save(update_fields=["status", "launched_at", "fanout_target", "last_slot", "updated_at"])
        _audit(
            campaign,
            "campaign.launched",
            before={"status": Status.APPROVED},
            after={"status": Status.RUNNING},
        )
    return campaign


def campaign_pause(*, campaign: Campaign) -> Campaign:
    """Stop fanning out; renders already accepted finish normally (nothing is lost)."""
    with transaction.atomic():
        campaign = _locked(campaign)
        if campaign.status == Status.PAUSED:
            return campaign
        if campaign.status not in UNFINISHED:
            raise ConflictError(CAMPAIGN_FINISHED)
        campaign.paused_from = campaign.status
        campaign.status = Status.PAUSED
        campaign.save(update_fields=["status", "paused_from", "updated_at"])
        _audit(
            campaign,
            "campaign.paused",
            before={"status": campaign.paused_from},
            after={"status": Status.PAUSED},
        )
    return campaign


def campaign_resume(*, campaign: Campaign) -> Campaign:
    with transaction.atomic():
        campaign = _locked(campaign)
        if campaign.status != Status.PAUSED:
            raise ConflictError(NOT_PAUSED)
        campaign.status = campaign.paused_from or Status.DRAFT
        campaign.paused_from = ""
        campaign.status_reason = ""
        campaign.save(update_fields=["status", "paused_from", "status_reason", "updated_at"])
        # Whatever finished while paused is caught up on now.
        _samples_check(campaign)
        if campaign.status == Status.RUNNING:
            enqueue(TASK_FANOUT, str(campaign.pk))
        _audit(
            campaign, "campaign.resumed", before={"status": Status.PAUSED}, after={"status": campaign.status}
        )
    return campaign


def campaign_cancel(*, campaign: Campaign) -> Campaign:
    """Stop for good: no more renders start; queued ones are canceled; finished ones stay (with their videos)."""
    with transaction.atomic():
        campaign = _locked(campaign)
        if campaign.status == Status.CANCELED:
            return campaign
        if campaign.status not in UNFINISHED:
            raise ConflictError(CAMPAIGN_FINISHED)
        was = campaign.status
        campaign.status = Status.CANCELED
        campaign.save(update_fields=["status", "updated_at"])
        _audit(campaign, "campaign.canceled", before={"status": was}, after={"status": Status.CANCELED})
    # Outside the campaign lock: a finishing render holds its own row, then takes the campaign's (the
    # render_finished receiver); taking them in the other order here could deadlock.
    for render in Render.objects.filter(
        campaign_link__campaign=campaign, status__in=ACTIVE_RENDER_STATUSES
    ).iterator():
        try:
            render_cancel(render=render)
        except ConflictError as exc:
            if exc.message != ALREADY_FINISHED:
                raise
    return campaign


# --- fan-out ------------------------------------------------------------------------------------------------


def campaign_fanout(*, campaign_id: Any) -> int:
    """Start renders for the next chunk of recipients, within the workspace's in-flight cap. Returns how many.

    Holds the campaign row lock (one fan-out per campaign at a time) and the workspace row lock (the in-flight
    count and the renders it admits are one atomic step across that workspace's campaigns:
    docs/reliability.md R13).
    """
    with transaction.atomic():
        campaign = (
            Campaign.objects.select_for_update(of=("self",))
            .select_related("workspace", "template_version", "brand")
            .filter(pk=campaign_id, status=Status.RUNNING)
            .first()
        )
        if campaign is None:
            return 0
        limit = campaign.recipient_count if campaign.fanout_target is None else campaign.fanout_target
        if campaign.fanout_cursor >= limit:
            _complete_check(campaign)
            return 0
        withdrawn = render_likeness_problem(template_version=campaign.template_version, brand=campaign.brand)
        if withdrawn is not None:
            # A likeness whose consent was revoked or ran out: stop here with the reason rather than refuse
            # every remaining recipient one by one (docs/trust.md); resume once the brand's asset is fixed.
            Campaign.objects.filter(pk=campaign.pk).update(
                status=Status.PAUSED,
                paused_from=Status.RUNNING,
                status_reason=withdrawn[:500],
                updated_at=timezone.now(),
            )
            _audit(
                campaign,
                "campaign.paused",
                before={"status": Status.RUNNING},
                after={"reason": withdrawn[:500]},
            )
            return 0
        list(Workspace.objects.select_for_update().filter(pk=campaign.workspace_id).values_list("pk"))
        in_flight = Render.objects.filter(
            workspace_id=campaign.workspace_id, campaign_link__isnull=False, status__in=ACTIVE_RENDER_STATUSES
        ).count()
        room = settings.REELSMITH_CAMPAIGN_MAX_IN_FLIGHT - in_flight
        if room <= 0:
            return 0  # a finishing render calls again (and the beat tick nudges every running campaign)
        chunk = list(
            Recipient.objects.filter(
                campaign=campaign, position__gt=campaign.fanout_cursor, position__lte=limit
            ).order_by("position")[: min(room, settings.REELSMITH_CAMPAIGN_CHUNK)]
        )
        rendered = set(
            campaign.render_links.filter(recipient_id__in=[r.pk for r in chunk]).values_list(
                "recipient_id", flat=True
            )
        )
        started = 0
        cursor = campaign.fanout_cursor
        for recipient in chunk:
            if recipient.pk not in rendered:
                try:
                    _render_for(campaign, recipient, Priority.BATCH)
                except PaymentRequiredError as exc:
                    # Out of credits: stop here, keep the place, let a person top up and resume.
                    Campaign.objects.filter(pk=campaign.pk).update(
                        status=Status.PAUSED,
                        paused_from=Status.RUNNING,
                        status_reason=exc.message[:500],
                        fanout_cursor=cursor,
                        updated_at=timezone.now(),
                    )
                    return started
                started += 1
            cursor = recipient.position
        Campaign.objects.filter(pk=campaign.pk).update(fanout_cursor=cursor, updated_at=timezone.now())
        if chunk and cursor < limit and started < room:
            enqueue(TASK_FANOUT, str(campaign.pk))  # more room and more recipients: next chunk, next task
        elif not chunk:
            # No recipient left up to the limit (the last ones were erased before their turn): the run is done.
            Campaign.objects.filter(pk=campaign.pk).update(fanout_cursor=limit, updated_at=timezone.now())
            campaign.fanout_cursor = limit
            _complete_check(campaign)
    return started


def _complete_check(campaign: Campaign) -> None:
    """Running → completed when every recipient of the run has a final render (caller holds the lock)."""
    if campaign.status != Status.RUNNING or campaign.recurring:
        return
    limit = campaign.recipient_count if campaign.fanout_target is None else campaign.fanout_target
    if campaign.fanout_cursor < limit:
        return
    if campaign.is_scheduled and not campaign.runs.exists():
        return
    if Render.objects.filter(campaign_link__campaign=campaign, status__in=ACTIVE_RENDER_STATUSES).exists():
        return
    now = timezone.now()
    if Campaign.objects.filter(pk=campaign.pk, status=Status.RUNNING).update(
        status=Status.COMPLETED, completed_at=now, updated_at=now
    ):
        campaign.status = Status.COMPLETED
        counts = dict(
            Render.objects.filter(campaign_link__campaign=campaign)
            .values_list("status")
            .annotate(n=Count("pk"))
            .order_by()
        )
        webhook_event_emit(
            workspace_id=campaign.workspace_id,
            event=WebhookEvent.CAMPAIGN_COMPLETED,
            object_id=campaign.pk,
            data={**_campaign_payload(campaign), "counts": counts},
        )


def campaign_render_finished(*, campaign_id: Any) -> None:
    """A campaign render reached a final state (inside that transaction): move the campaign on."""
    campaign = Campaign.objects.select_for_update().filter(pk=campaign_id).first()
    if campaign is None:
        return
    if campaign.status == Status.SAMPLING:
        _samples_check(campaign)
    elif campaign.status == Status.RUNNING:
        limit = campaign.recipient_count if campaign.fanout_target is None else campaign.fanout_target
        if campaign.fanout_cursor < limit:
            enqueue(TASK_FANOUT, str(campaign.pk))  # a slot opened under the in-flight cap
        else:
            _complete_check(campaign)


# --- schedules ------------------------------------------------------------------------------------------------


def campaign_schedule_run(*, campaign: Campaign, now: datetime) -> CampaignRun | None:
    """Start the run for the latest due slot, at most once per slot (UNIQUE(campaign, slot):
    docs/reliability.md R6). A run covers the recipients added since the previous run."""
    if not campaign.is_scheduled or campaign.status != Status.RUNNING:
        return None
    if not campaign.recurring and campaign.runs.exists():
        return None
    after = campaign.last_slot or campaign.launched_at or campaign.created_at
    slot = schedule.cron_latest(campaign.schedule_cron, campaign.schedule_timezone, after, now)
    if slot is None:
        return None
    withdrawn = render_likeness_problem(template_version=campaign.template_version, brand=campaign.brand)
    if withdrawn is not None:
        _schedule_slot_skip(campaign, slot, withdrawn)
        return None
    try:
        with transaction.atomic():
            locked = (
                Campaign.objects.select_for_update().filter(pk=campaign.pk, status=Status.RUNNING).first()
            )
            if locked is None:
                return None
            run = CampaignRun.objects.create(
                campaign=locked,
                slot=slot,
                from_position=locked.fanout_cursor,
                to_position=locked.recipient_count,
            )
            Campaign.objects.filter(pk=locked.pk).update(
                last_slot=slot, fanout_target=locked.recipient_count, updated_at=timezone.now()
            )
            enqueue(TASK_FANOUT, str(locked.pk))
    except IntegrityError:
        return None  # the beat fired twice: the other tick already made this slot's run
    return run


def _schedule_slot_skip(campaign: Campaign, slot: datetime, reason: str) -> None:
    """A slot whose renders would show a likeness without consent is passed over, with the reason on the
    campaign and in the audit log; the next slot tries again (docs/trust.md)."""
    with transaction.atomic():
        if Campaign.objects.filter(pk=campaign.pk, status=Status.RUNNING).update(
            last_slot=slot,
            status_reason=f"Slot {slot:%Y-%m-%d %H:%M} UTC skipped: {reason}"[:500],
            updated_at=timezone.now(),
        ):
            _audit(
                campaign, "campaign.slot_skipped", after={"slot": slot.isoformat(), "reason": reason[:500]}
            )


def campaigns_tick(*, now: datetime | None = None) -> dict[str, int]:
    """Beat, every minute: start due schedule slots; nudge every running campaign's fan-out (a lost message
    or a freed in-flight slot is picked up here at the latest)."""
    now = now or timezone.now()
    counts = {"runs": 0, "nudged": 0}
    for campaign in Campaign.objects.filter(status=Status.RUNNING).iterator():
        if campaign.is_scheduled and campaign_schedule_run(campaign=campaign, now=now) is not None:
            counts["runs"] += 1
        enqueue(TASK_FANOUT, str(campaign.pk))
        counts["nudged"] += 1
    return counts


def campaign_watch_expiry_set(*, campaign: Campaign, expires_at: datetime | None) -> Campaign:
    """When the watch pages of the campaign's renders stop answering (410; None: never). Applies to the pages
    made so far and, through the render-finished receiver, to those of renders still to come."""
    with transaction.atomic():
        Campaign.objects.filter(pk=campaign.pk).update(watch_expires_at=expires_at, updated_at=timezone.now())
        campaign.watch_expires_at = expires_at
        watch_pages_expire(
            renders=Render.objects.filter(campaign_link__campaign=campaign), expires_at=expires_at
        )
    return campaign
