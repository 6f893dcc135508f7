"""Admin for support staff: ad templates, their immutable versions and their files, and workspaces' moderation
lists. Read-only: they are written by the API's services (a version is never changed once written)."""

from __future__ import annotations

from django.contrib import admin

from core.admin import ReadOnlyAdmin, ReadOnlyTabularInline
from templates.models import AdTemplate, TemplateAsset, TemplateVersion, WorkspaceModeration


class TemplateVersionInline(ReadOnlyTabularInline):
    model = TemplateVersion
    fields = ("version", "created_at")  # the spec is on the version's own page
    ordering = ("-version",)


class TemplateAssetInline(ReadOnlyTabularInline):
    model = TemplateAsset
    fields = ("kind", "original_name", "content_type", "size", "sha256", "storage_key", "created_at")
    show_change_link = False


@admin.register(AdTemplate)
class AdTemplateAdmin(ReadOnlyAdmin):
    list_display = ("name", "workspace", "latest_version", "created_at")
    list_select_related = ("workspace",)
    search_fields = ("name", "=id", "workspace__name")
    inlines = (TemplateVersionInline, TemplateAssetInline)


@admin.register(TemplateVersion)
class TemplateVersionAdmin(ReadOnlyAdmin):
    list_display = ("template", "version", "template__workspace__name", "created_at")
    list_select_related = ("template__workspace",)
    search_fields = ("=id", "=template__id", "template__name")


@admin.register(WorkspaceModeration)
class WorkspaceModerationAdmin(ReadOnlyAdmin):
    """Support reads a workspace's moderation choices; owners change them (API or dashboard)."""

    list_display = ("workspace", "languages", "updated_at")
    list_select_related = ("workspace",)
    search_fields = ("workspace__name", "=workspace__id")
