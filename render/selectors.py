"""Reads for renders, scoped by workspace."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from django.db.models import F, QuerySet

from core.errors import NotFoundError
from core.models import Workspace
from core.selectors import parse_id
from core.storage import get_storage
from render.models import Render, RenderGeneration, RenderStatus

# Apps above render that group renders (campaigns) register the ORM path from a Render to its group's id,
# so the render API can show and filter by it while render imports nothing of theirs.
_GROUP_LOOKUPS: dict[str, str] = {}


def render_group_register(*, name: str, lookup: str) -> None:
    """Make `<name>_id` an attribute of listed renders and `groups={name: id}` a filter of `render_list`."""
    _GROUP_LOOKUPS[name] = lookup


def render_list(
    *,
    workspace: Workspace,
    status: str | None = None,
    external_id: str | None = None,
    groups: Mapping[str, Any] | None = None,
    created_on: date | None = None,
) -> QuerySet[Render]:
    renders = Render.objects.filter(workspace=workspace).select_related("template_version")
    renders = renders.annotate(**{f"{name}_id": F(lookup) for name, lookup in _GROUP_LOOKUPS.items()})
    if status:
        renders = renders.filter(status=status)
    if created_on:
        renders = renders.filter(created_at__date=created_on)
    for name, group_id in (groups or {}).items():
        if group_id:
            renders = renders.filter(**{_GROUP_LOOKUPS[name]: group_id})
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


def render_generations(*, render: Render) -> QuerySet[RenderGeneration]:
    """What a render's pictures and clips were made of (model, prompt, seed) and whether each was reused."""
    return render.generation_links.select_related("generation").order_by("generation__created_at")
