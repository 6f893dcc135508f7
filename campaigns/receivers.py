"""What campaigns do when a render finishes (connected in CampaignsConfig.ready).

Runs inside the transaction that finished the render (render.signals): delivery rows and campaign state
commit with it or not at all; sending happens after commit.
"""

from __future__ import annotations

from typing import Any

from campaigns.models import CampaignRender, WebhookEvent
from campaigns.services import campaign_render_finished
from campaigns.webhooks import webhook_event_emit
from campaigns.writeback import writeback_engagement_schedule, writeback_schedule
from render.models import Render, RenderStatus
from render.watch.selectors import watch_url
from render.watch.services import watch_page_ensure, watch_pages_expire

EVENTS = {
    RenderStatus.SUCCEEDED: WebhookEvent.RENDER_SUCCEEDED,
    RenderStatus.FAILED: WebhookEvent.RENDER_FAILED,
}


WATCH_EVENTS = {"view": WebhookEvent.VIDEO_VIEWED, "cta": WebhookEvent.CTA_CLICKED}


def render_payload(render: Render) -> dict[str, Any]:
    """A render's webhook data. Its links never expire (a delivery may be retried for days and read later):
    `watch_url` is the render's watch page, `video_url` and `thumbnail_url` that page's redirects to fresh
    storage URLs (render/watch)."""
    link = CampaignRender.objects.filter(render=render).first()
    page_url = None
    if render.status == RenderStatus.SUCCEEDED:
        page_url = watch_url(watch_page_ensure(render_id=render.pk).token)
    return {
        "id": str(render.pk),
        "status": render.status,
        "watch_url": page_url,
        "video_url": f"{page_url}/video" if page_url else None,
        "thumbnail_url": f"{page_url}/poster" if page_url and render.thumbnail_key else None,
        "duration": render.duration,
        "error": render.error or None if render.status == RenderStatus.FAILED else None,
        "external_id": render.external_id,
        "campaign": str(link.campaign_id) if link else None,
        "recipient": str(link.recipient_id) if link and link.recipient_id else None,
        "finished_at": render.finished_at.isoformat() if render.finished_at else None,
    }


def on_render_finished(sender: Any, *, render_id: Any, workspace_id: Any, status: str, **kwargs: Any) -> None:
    event = EVENTS.get(status)  # type: ignore[call-overload]  # status is a RenderStatus value
    render: Render | None = None
    if event is not None:
        render = Render.objects.filter(pk=render_id).first()
        if render is not None:
            webhook_event_emit(
                workspace_id=workspace_id,
                event=event,
                object_id=render.pk,
                data=render_payload(render),
                callback_url=render.callback_url,
            )
            if status == RenderStatus.SUCCEEDED:
                writeback_schedule(render_id=render.pk)
    link = CampaignRender.objects.select_related("campaign").filter(render_id=render_id).first()
    if link is None:
        return
    if status == RenderStatus.SUCCEEDED and link.campaign.watch_expires_at is not None:
        # The campaign's watch expiry, for a page made now (render's receiver or the payload above made it).
        watch_page_ensure(render_id=render_id)
        watch_pages_expire(renders=[render_id], expires_at=link.campaign.watch_expires_at)
    campaign_render_finished(campaign_id=link.campaign_id)


def on_watch_engaged(
    sender: Any, *, render_id: Any, workspace_id: Any, kind: str, first: bool, **kwargs: Any
) -> None:
    """A viewer opened a render's watch page or clicked its CTA (render.signals.watch_engaged, inside the
    transaction that recorded it): `video.viewed` / `cta.clicked` on the render's first, and the counts to the
    CRM record where the integration writes engagement back."""
    event = WATCH_EVENTS.get(kind)
    if event is None:
        return
    if first:
        render = Render.objects.filter(pk=render_id).first()
        if render is not None:
            webhook_event_emit(
                workspace_id=workspace_id,
                event=event,
                object_id=render.pk,
                data={**render_payload(render), "engagement_event": kind},
                callback_url=render.callback_url,
            )
    writeback_engagement_schedule(render_id=render_id)
