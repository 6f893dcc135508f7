"""Reads for ad templates, scoped by workspace."""

from __future__ import annotations

from typing import Any

from django.db.models import F, QuerySet

from core.errors import ApplicationError, NotFoundError
from core.models import Workspace
from core.selectors import parse_id
from templates.models import AdTemplate, TemplateVersion, WorkspaceModeration

NO_SUCH_VERSION = "This template has no version {version}."
TEMPLATE_ARCHIVED = "This template is archived; restore it to make new renders and campaigns with it."


def template_list(*, workspace: Workspace, archived: bool = False) -> QuerySet[AdTemplate]:
    """The workspace's templates in use (or, with `archived`, the archived ones), newest first."""
    return AdTemplate.objects.filter(workspace=workspace, archived_at__isnull=not archived).order_by(
        "-created_at"
    )


def template_get_for_workspace(*, workspace: Workspace, template_id: Any) -> AdTemplate:
    """A template of this workspace, archived or not (renders made with an archived one still show it)."""
    template = AdTemplate.objects.filter(workspace=workspace, pk=parse_id(template_id)).first()
    if template is None:
        raise NotFoundError()
    return template


def template_usable_check(*, template: AdTemplate, field: str = "template") -> None:
    """New renders, campaigns and integrations take templates in use only (400 naming `field`)."""
    if template.archived_at is not None:
        raise ApplicationError(TEMPLATE_ARCHIVED, fields={field: TEMPLATE_ARCHIVED})


def template_version_list(*, template: AdTemplate) -> QuerySet[TemplateVersion]:
    return TemplateVersion.objects.filter(template=template).order_by("-version")


def template_latest_versions(*, templates: list[AdTemplate]) -> dict[Any, TemplateVersion]:
    """Each template's latest version, for a page of templates in one query."""
    versions = TemplateVersion.objects.filter(
        template__in=[t.pk for t in templates], version=F("template__latest_version")
    )
    return {version.template_id: version for version in versions}


def template_version_get(
    *, template: AdTemplate, version: int | None, field: str | None = "version"
) -> TemplateVersion:
    """A given version, or the latest. A missing version is the caller's input error, named by `field`,
    or (with `field=None`, for a version named in the URL) simply not found."""
    number = template.latest_version if version is None else version
    found = (
        TemplateVersion.objects.filter(template=template, version=number).select_related("template").first()
    )
    if found is None:
        if field is None:
            raise NotFoundError()
        message = NO_SUCH_VERSION.format(version=number)
        raise ApplicationError(message, fields={field: message})
    return found


def moderation_lists_get(*, workspace: Workspace) -> WorkspaceModeration:
    """The workspace's moderation choices; the defaults (unsaved, `updated_at` None) when it has made none."""
    found = WorkspaceModeration.objects.filter(workspace=workspace).first()
    return found if found is not None else WorkspaceModeration(workspace=workspace)
