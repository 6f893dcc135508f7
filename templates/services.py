"""Writes for ad templates: create, rename, archive or restore, and add an immutable version."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from core.errors import ApplicationError
from core.models import Workspace
from core.services import asset_store
from core.text import name_check
from templates.models import AdTemplate, TemplateAsset, TemplateVersion
from templates.spec import spec_validate

TEMPLATE_ASSET_KINDS = ("music",)
UNKNOWN_TEMPLATE_ASSET_KIND = "Unknown asset kind; a template takes music."


@transaction.atomic
def template_create(*, workspace: Workspace, name: str, spec: Any) -> TemplateVersion:
    name_check(name)
    spec, declared = spec_validate(spec)
    template = AdTemplate.objects.create(workspace=workspace, name=name, latest_version=1)
    return TemplateVersion.objects.create(template=template, version=1, spec=spec, variables=declared)


def template_update(
    *, template: AdTemplate, name: str | None = None, archived: bool | None = None
) -> AdTemplate:
    """Rename, archive (hidden from lists, refused for new renders and campaigns; what was made with it
    keeps it) or restore a template; what is not given stays."""
    if name is not None:
        name_check(name)
        template.name = name
    if archived is not None and archived != (template.archived_at is not None):
        template.archived_at = timezone.now() if archived else None
    template.save(update_fields=["name", "archived_at"])
    return template


@transaction.atomic
def template_version_create(*, template: AdTemplate, spec: Any) -> TemplateVersion:
    tracks = {
        str(pk)
        for pk in TemplateAsset.objects.filter(template=template, kind="music").values_list("pk", flat=True)
    }
    spec, declared = spec_validate(spec, template_tracks=tracks)
    # The row lock serialises concurrent version creation: numbers are consecutive, never duplicated.
    AdTemplate.objects.filter(pk=template.pk).update(latest_version=F("latest_version") + 1)
    template.refresh_from_db(fields=["latest_version"])
    return TemplateVersion.objects.create(
        template=template, version=template.latest_version, spec=spec, variables=declared
    )


def template_asset_upload(
    *, template: AdTemplate, kind: str, data: bytes, original_name: str = ""
) -> TemplateAsset:
    """A music track for this template's versions to name in `audio.track` (checked like brand music)."""
    if kind not in TEMPLATE_ASSET_KINDS:
        raise ApplicationError(UNKNOWN_TEMPLATE_ASSET_KIND, fields={"kind": UNKNOWN_TEMPLATE_ASSET_KIND})
    stored = asset_store(folder=f"templates/{template.workspace_id}/{template.pk}", kind=kind, data=data)
    return TemplateAsset.objects.create(
        template=template,
        kind=kind,
        storage_key=stored.key,
        content_type=stored.checked.content_type,
        size=len(data),
        sha256=stored.sha256,
        original_name=original_name[:255],
        details=stored.checked.details,
    )
