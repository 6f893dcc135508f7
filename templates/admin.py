"""Admin for support staff: ad templates, their immutable versions and their files. Read-only: templates and
versions are written by the API's services (a version is never changed once written)."""

from __future__ import annotations

from django.contrib import admin

from core.admin import ReadOnlyAdmin, ReadOnlyTabularInline
from templates.models import AdTemplate, TemplateAsset, TemplateVersion


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
