"""Reads for renders, scoped by workspace."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from django.db.models import Exists, F, OuterRef, QuerySet, Subquery

from core.errors import NotFoundError
from core.models import Workspace
from core.selectors import parse_id
from core.storage import get_storage
from render.compose.ffmpeg import ComposeError
from render.compose.provenance import c2pa_credentials
from render.models import Render, RenderGeneration, RenderStatus
from templates.models import AdTemplate

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
    renders = Render.objects.filter(workspace=workspace).select_related("template_version", "watch_page")
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
    """What a render's pictures and clips were made of (model, prompt, seed) and whether each was `reused`:
    asked for by an earlier render of the same workspace. Whether another workspace made it is never shown
    (nor charged for: render.pricing), or it would tell one customer what another generated (R20)."""
    asked_before = RenderGeneration.objects.filter(
        generation_id=OuterRef("generation_id"),
        render__workspace_id=render.workspace_id,
        pk__lt=OuterRef("pk"),
    )
    return (
        render.generation_links.select_related("generation")
        .annotate(reused=Exists(asked_before))
        .order_by("generation__created_at")
    )


def template_poster_urls(*, templates: list[AdTemplate]) -> dict[Any, str]:
    """Each template's poster: the thumbnail of its latest succeeded render, for a page of templates in one
    query (templates never rendered are left out)."""
    latest = (
        Render.objects.filter(template_version__template=OuterRef("pk"), status=RenderStatus.SUCCEEDED)
        .exclude(thumbnail_key="")
        .order_by("-finished_at")
        .values("thumbnail_key")[:1]
    )
    keys = (
        AdTemplate.objects.filter(pk__in=[t.pk for t in templates])
        .annotate(poster=Subquery(latest))
        .values_list("pk", "poster")
    )
    storage = get_storage()
    return {pk: storage.url(key) for pk, key in keys if key}


def render_stage_times(*, render: Render, links: list[RenderGeneration]) -> list[tuple[str, float]]:
    """Seconds per stage, from timestamps the render and its generations already keep: requested → the last
    picture it had generated (queue, plan, diffusion), then → finished (compose, upload). A render whose
    pictures were all reused (or that has none) is one stage. Empty until it is finished."""
    if render.finished_at is None:
        return []
    total = (render.finished_at - render.created_at).total_seconds()
    made = [
        link.generation.updated_at
        for link in links
        if not link.cache_hit and link.generation.status == "succeeded"
    ]
    if not made:
        return [("Queued, planned and composed", total), ("Total", total)]
    generated = min(max(made), render.finished_at)
    return [
        ("Queued and generating pictures", max(0.0, (generated - render.created_at).total_seconds())),
        ("Composing and uploading", max(0.0, (render.finished_at - generated).total_seconds())),
        ("Total", total),
    ]


def render_c2pa_status(*, render: Render) -> str:
    """Whether the render's videos carry a C2PA manifest: as recorded when composed, else what this server's
    configuration (REELSMITH_C2PA_*) says it does now."""
    recorded = {bool(output["c2pa"]) for output in render.outputs or [] if "c2pa" in output}
    if recorded == {True}:
        return "Signed with a C2PA manifest."
    if recorded == {False}:
        return "Not signed (C2PA signing was off when it was composed)."
    try:
        configured = c2pa_credentials() is not None
    except ComposeError:  # a misconfiguration is reported on the page, not raised
        return "C2PA signing is misconfigured on this server (REELSMITH_C2PA_*)."
    if configured:
        return "C2PA signing is on: videos composed now are signed (REELSMITH_C2PA_CERT and _KEY are set)."
    return "C2PA signing is off on this server (REELSMITH_C2PA_CERT and _KEY are not set)."
