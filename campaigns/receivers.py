"""What campaigns do when a render finishes (connected in CampaignsConfig.ready).

Runs inside the transaction that finished the render (render.signals): delivery rows and campaign state
commit with it or not at all; sending happens after commit.
"""

from __future__ import annotations

from typing import Any

from campaigns.models import CampaignRender, WebhookEvent
from campaigns.services import campaign_render_finished
from campaigns.webhooks import webhook_event_emit
from campaigns.writeback import writeback_schedule
from render.models import Render, RenderStatus
from render.selectors import render_urls

EVENTS = {
    RenderStatus.SUCCEEDED: WebhookEvent.RENDER_SUCCEEDED,
    RenderStatus.FAILED: WebhookEvent.RENDER_FAILED,
}


def render_payload(render: Render) -> dict[str, Any]:
    urls = render_urls(render)
    link = CampaignRender.objects.filter(render=render).first()
    return {
        "id": str(render.pk),
        "status": render.status,
        "video_url": urls["video_url"],
        "thumbnail_url": urls["thumbnail_url"],
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
    campaign_id = (
        CampaignRender.objects.filter(render_id=render_id).values_list("campaign_id", flat=True).first()
    )
    if campaign_id is not None:
        campaign_render_finished(campaign_id=campaign_id)
