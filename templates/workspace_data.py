"""Templates' part of a workspace's export and deletion (core.workspace_data, registered in ready())."""

from __future__ import annotations

from core.models import Workspace
from core.storage import get_storage
from core.workspace_data import ExportPart, rows
from templates.models import AdTemplate, TemplateAsset, TemplateVersion


def templates_export(workspace: Workspace) -> ExportPart:
    assets = TemplateAsset.objects.filter(template__workspace=workspace)
    return ExportPart(
        tables={
            "templates": rows(
                AdTemplate.objects.filter(workspace=workspace),
                "id",
                "name",
                "latest_version",
                "created_at",
                "archived_at",
            ),
            "versions": rows(
                TemplateVersion.objects.filter(template__workspace=workspace),
                "id",
                "template_id",
                "version",
                "spec",
                "variables",
                "authors",
                "created_at",
            ),
            "assets": rows(
                assets,
                "id",
                "template_id",
                "kind",
                "storage_key",
                "content_type",
                "size",
                "sha256",
                "original_name",
                "created_at",
            ),
        },
        files=[(key, f"files/{key}") for key in assets.values_list("storage_key", flat=True)],
    )


def templates_purge(workspace: Workspace) -> int:
    """The templates' files; their rows go with the workspace (nothing below protects them)."""
    return get_storage().delete_prefix(f"templates/{workspace.pk}")
