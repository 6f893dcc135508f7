"""Render's part of a workspace's export and deletion (core.workspace_data, registered in RenderConfig.ready).

Deleting: every object under the workspace's render folders (outputs, template previews, uploaded pictures),
the pictures and clips generated only for its renders (their prompts may hold recipients' values; content-
addressed, so one another workspace also used stays), then the render rows, which protect template versions
and brands from the workspace's cascade."""

from __future__ import annotations

from django.db.models import Q

from core.models import Workspace
from core.storage import get_storage
from core.workspace_data import ExportPart, rows
from render.models import Generation, GenerationStatus, Render, RenderGeneration

OUTPUT_KEYS = ("video_key", "poster_key", "gif_key", "captions_key")


def renders_export(workspace: Workspace) -> ExportPart:
    renders = Render.objects.filter(workspace=workspace)
    files = [
        (output[key], f"files/{output[key]}")
        for outputs in renders.values_list("outputs", flat=True)
        for output in outputs or []
        for key in OUTPUT_KEYS
        if output.get(key)
    ]
    return ExportPart(
        tables={
            "renders": rows(
                renders,
                "id",
                "template_version_id",
                "brand_id",
                "variables",
                "status",
                "error",
                "external_id",
                "outputs",
                "duration",
                "width",
                "height",
                "created_at",
                "finished_at",
                "outputs_erased_at",
                "outputs_erased_reason",
            ),
        },
        files=files,
    )


def renders_purge(workspace: Workspace) -> int:
    storage = get_storage()
    deleted = sum(
        storage.delete_prefix(f"{folder}/{workspace.pk}") for folder in ("renders", "previews", "uploads")
    )
    ours = Q(render_links__render__workspace=workspace)
    theirs = RenderGeneration.objects.exclude(render__workspace=workspace).values("generation_id")
    generations = (
        Generation.objects.filter(ours, status__in=[GenerationStatus.SUCCEEDED, GenerationStatus.FAILED])
        .exclude(pk__in=theirs)
        .filter(variants__isnull=True)
        .distinct()
    )
    for generation in list(generations):
        if generation.output_key and storage.exists(generation.output_key):
            storage.delete(generation.output_key)
            deleted += 1
        Generation.objects.filter(pk=generation.pk).delete()
    Render.objects.filter(workspace=workspace).delete()
    return deleted
