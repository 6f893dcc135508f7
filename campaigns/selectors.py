"""Reads for campaigns, webhooks and integrations, scoped by workspace (docs/reliability.md R11)."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import Any

from django.db.models import Count, F, Q, QuerySet
from django.utils import timezone

from campaigns.models import (
    Campaign,
    CampaignRender,
    Integration,
    Recipient,
    WebhookDelivery,
    WebhookEndpoint,
)
from core.errors import NotFoundError
from core.models import Workspace
from core.selectors import parse_id
from core.text import csv_cell
from render.models import FINAL_RENDER_STATUSES, Render, RenderStatus
from render.pricing import render_cost, render_cost_estimate, template_cost
from render.watch.selectors import render_watch_links, watch_engagement_many, watch_engagement_summary

# `watch_url` (the render's watch page), `poster_url` and `gif_url` (its redirects) never expire, so an email
# built from this file keeps working; then the page's engagement (docs/watch-pages.md).
RESULTS_COLUMNS = [
    "recipient",
    "external_id",
    "status",
    "watch_url",
    "error",
    "email",
    "poster_url",
    "gif_url",
    "views",
    "unique_viewers",
    "plays",
    "avg_watch_percent",
    "completions",
    "cta_clicks",
]
ENGAGEMENT_COLUMNS = ["views", "unique_viewers", "plays", "avg_watch_percent", "completions", "cta_clicks"]
# Recipients read per query while streaming results.csv.
RESULTS_PAGE = 1000


def campaign_list(*, workspace: Workspace) -> QuerySet[Campaign]:
    return Campaign.objects.filter(workspace=workspace).order_by("-created_at")


def campaign_get_for_workspace(*, workspace: Workspace, campaign_id: Any) -> Campaign:
    campaign = (
        campaign_list(workspace=workspace)
        .select_related("template_version", "brand", "workspace")
        .filter(pk=parse_id(campaign_id))
        .first()
    )
    if campaign is None:
        raise NotFoundError()
    return campaign


def campaign_progress(*, campaign: Campaign) -> dict[str, Any]:
    """Counts by render status (one GROUP BY), recipients not yet started, and an ETA from the finish rate."""
    by_status = dict(
        Render.objects.filter(campaign_link__campaign=campaign)
        .values_list("status")
        .annotate(n=Count("pk"))
        .order_by()
    )
    counts: dict[str, int] = {"total": campaign.recipient_count}
    for status in RenderStatus.values:
        counts[status] = by_status.get(status, 0)
    started = sum(by_status.values())
    counts["pending"] = max(campaign.recipient_count - started, 0)
    finished = sum(by_status.get(s, 0) for s in FINAL_RENDER_STATUSES)
    eta_seconds: float | None = None
    if campaign.status == Campaign.Status.RUNNING and campaign.launched_at and finished:
        window = Render.objects.filter(
            campaign_link__campaign=campaign, finished_at__gte=campaign.launched_at
        ).count()
        elapsed = (timezone.now() - campaign.launched_at).total_seconds()
        if window and elapsed > 0:
            eta_seconds = round((campaign.recipient_count - finished) / (window / elapsed), 1)
    elif campaign.status == Campaign.Status.COMPLETED:
        eta_seconds = 0.0
    return {
        "counts": counts,
        "eta_seconds": eta_seconds,
        "estimated_cost": campaign_cost_estimate(campaign=campaign, renders=counts["pending"]),
        # What each recipient costs beyond what they share: personal scenes, seconds, still or moving.
        "recipient_cost": template_cost(spec=campaign.template_version.spec),
    }


def campaign_counts_many(*, campaigns: list[Campaign]) -> dict[Any, dict[str, int]]:
    """Render counts by status for a page of campaigns in one GROUP BY (a list's query count stays flat):
    `{campaign_id: {"total", "finished", "succeeded", "failed", "active", "percent"}}`."""
    rows = (
        Render.objects.filter(campaign_link__campaign__in=[c.pk for c in campaigns])
        .values_list("campaign_link__campaign_id", "status")
        .annotate(n=Count("pk"))
        .order_by()
    )
    by_campaign: dict[Any, dict[str, int]] = {c.pk: {} for c in campaigns}
    for campaign_id, status, n in rows:
        by_campaign[campaign_id][status] = n
    out: dict[Any, dict[str, int]] = {}
    for campaign in campaigns:
        counts = by_campaign[campaign.pk]
        finished = sum(counts.get(s, 0) for s in FINAL_RENDER_STATUSES)
        total = campaign.recipient_count
        out[campaign.pk] = {
            "total": total,
            "finished": finished,
            "succeeded": counts.get(RenderStatus.SUCCEEDED, 0),
            "failed": counts.get(RenderStatus.FAILED, 0),
            "active": sum(counts.values()) - finished,
            "percent": round(100 * finished / total) if total else 0,
        }
    return out


def campaign_sample_renders(*, campaign: Campaign) -> QuerySet[Render]:
    """The renders made for review: the first `sample_count` recipients', in upload order."""
    return (
        Render.objects.filter(
            campaign_link__campaign=campaign, campaign_link__recipient__position__lte=campaign.sample_count
        )
        .select_related("template_version", "campaign_link__recipient")
        .annotate(campaign_id=F("campaign_link__campaign_id"))
        .order_by("campaign_link__recipient__position")
    )


def recipient_list(*, campaign: Campaign, search: str = "") -> QuerySet[Recipient]:
    """A campaign's recipients in upload order; `search` matches the email or external id."""
    recipients = Recipient.objects.filter(campaign=campaign)
    if search:
        recipients = recipients.filter(Q(email__icontains=search) | Q(external_id__icontains=search))
    return recipients.order_by("position")


def recipient_get_for_campaign(*, campaign: Campaign, recipient_id: Any) -> Recipient:
    recipient = Recipient.objects.filter(campaign=campaign, pk=parse_id(recipient_id)).first()
    if recipient is None:
        raise NotFoundError()
    return recipient


def recipient_renders(*, campaign: Campaign, recipients: list[Recipient]) -> dict[Any, Render]:
    """The render of each of these recipients that has one (one query for a page of them)."""
    links = CampaignRender.objects.filter(
        campaign=campaign, recipient_id__in=[r.pk for r in recipients]
    ).select_related("render__watch_page")
    return {link.recipient_id: link.render for link in links}


def campaign_cost_estimate(*, campaign: Campaign, renders: int) -> dict[str, int]:
    """Credits that `renders` more renders of this campaign will take: output seconds are certain, pictures
    depend on cache hits, so the answer is a range. `credits_max` is what launch reserves (every picture
    generated, as `render_request` reserves); `credits_min` is every picture already made."""
    version = campaign.template_version
    # One placeholder per variable: the number of pictures a render needs does not depend on the values.
    placeholders = dict.fromkeys(version.variables, "x")
    per_render_max = render_cost_estimate(spec=version.spec, variables=placeholders)
    per_render_min = render_cost(spec=version.spec, generation_credits=0)
    return {
        "renders": renders,
        "credits_min": per_render_min * renders,
        "credits_max": per_render_max * renders,
        "per_render_max": per_render_max,
    }


class _Echo:
    def write(self, value: str) -> str:
        return value


def campaign_results_csv(*, campaign: Campaign) -> Iterator[str]:
    """results.csv, streamed a page of recipients at a time (keyset on position)."""
    writer = csv.writer(_Echo())
    yield writer.writerow(RESULTS_COLUMNS)
    position = 0
    while True:
        recipients = list(
            Recipient.objects.filter(campaign=campaign, position__gt=position).order_by("position")[
                :RESULTS_PAGE
            ]
        )
        if not recipients:
            return
        renders = recipient_renders(campaign=campaign, recipients=recipients)
        engagement = watch_engagement_many(render_ids=[r.pk for r in renders.values()])
        for recipient in recipients:
            render = renders.get(recipient.pk)
            status = render.status if render else "pending"
            links = render_watch_links(render) if render else {}
            error = render.error if render and render.status == RenderStatus.FAILED else ""
            counts = engagement.get(render.pk) if render else None
            row = [
                recipient.pk,
                recipient.external_id,
                status,
                links.get("watch_url"),
                error,
                recipient.email,
                links.get("poster_url"),
                links.get("gif_url"),
                *[counts[name] if counts else "" for name in ENGAGEMENT_COLUMNS],
            ]
            yield writer.writerow([csv_cell(v) for v in row])
        position = recipients[-1].position


def campaign_analytics(*, campaign: Campaign) -> dict[str, Any]:
    """What the campaign's recipients did with their watch pages: totals, the funnel (sent → viewed → played
    → completed → clicked, counted in recipients' pages) and a per-day series. Read from render's counters
    (one query over the campaign's pages, one over their daily rows), never from the events."""
    summary = watch_engagement_summary(renders=Render.objects.filter(campaign_link__campaign=campaign))
    return {"campaign": campaign.pk, **summary}


def webhook_endpoint_list(*, workspace: Workspace) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.filter(workspace=workspace).order_by("-created_at")


def webhook_endpoint_get_for_workspace(*, workspace: Workspace, endpoint_id: Any) -> WebhookEndpoint:
    endpoint = webhook_endpoint_list(workspace=workspace).filter(pk=parse_id(endpoint_id)).first()
    if endpoint is None:
        raise NotFoundError()
    return endpoint


def webhook_delivery_list(*, endpoint: WebhookEndpoint) -> QuerySet[WebhookDelivery]:
    return WebhookDelivery.objects.filter(endpoint=endpoint).order_by("-created_at")


def webhook_delivery_get(*, endpoint: WebhookEndpoint, delivery_id: Any) -> WebhookDelivery:
    delivery = webhook_delivery_list(endpoint=endpoint).filter(pk=parse_id(delivery_id)).first()
    if delivery is None:
        raise NotFoundError()
    return delivery


def integration_list(*, workspace: Workspace) -> QuerySet[Integration]:
    return Integration.objects.filter(workspace=workspace).order_by("-created_at")


def integration_get_for_workspace(*, workspace: Workspace, integration_id: Any) -> Integration:
    integration = integration_list(workspace=workspace).filter(pk=parse_id(integration_id)).first()
    if integration is None:
        raise NotFoundError()
    return integration


def integration_get_inbound(*, integration_id: Any) -> Integration:
    """The inbound route is authenticated by the integration's own signature, so the id alone finds it."""
    integration = (
        Integration.objects.select_related("workspace", "template", "brand")
        .filter(pk=parse_id(integration_id))
        .first()
    )
    if integration is None:
        raise NotFoundError()
    return integration
