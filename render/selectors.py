"""Reads for renders, scoped by workspace."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from core.errors import NotFoundError
from core.models import Workspace
from core.selectors import parse_id
from core.storage import get_storage
from render.models import Render, RenderStatus


def render_list(
    *,
    workspace: Workspace,
    status: str | None = None,
    campaign_id: Any = None,
    external_id: str | None = None,
) -> QuerySet[Render]:
    renders = Render.objects.filter(workspace=workspace).select_related("template_version")
    if status:
        renders = renders.filter(status=status)
    if campaign_id:
        renders = renders.filter(campaign_id=campaign_id)
    if external_id:
        renders = renders.filter(external_id=external_id)
    return renders.order_by("-created_at")


def render_get_for_workspace(*, workspace: Workspace, render_id: Any) -> Render:
    render = render_list(workspace=workspace).filter(pk=parse_id(render_id)).first()
    if render is None:
        raise NotFoundError()
    return render


def render_urls(render: Render) -> dict[str, str | None]:
    """Browser-fetchable URLs, minted only for a succeeded render's own objects."""
    if render.status != RenderStatus.SUCCEEDED or not render.video_key:
        return {"video_url": None, "thumbnail_url": None}
    storage = get_storage()
    return {
        "video_url": storage.url(render.video_key),
        "thumbnail_url": storage.url(render.thumbnail_key) if render.thumbnail_key else None,
    }


def render_output_urls(render: Render) -> list[dict[str, Any]]:
    """Per output format of a succeeded render: its size and browser-fetchable URLs (empty otherwise)."""
    if render.status != RenderStatus.SUCCEEDED:
        return []
    storage = get_storage()
    return [
        {
            "format": output["format"],
            "width": output["width"],
            "height": output["height"],
            "duration": output["duration"],
            **{
                f"{kind}_url": storage.url(output[f"{kind}_key"]) if output.get(f"{kind}_key") else None
                for kind in ("video", "poster", "gif", "captions")
            },
        }
        for output in render.outputs or []
    ]
