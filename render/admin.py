"""Admin for support staff: renders (with their outputs and error) and generations. Read-only: their states
change only through render.services' conditional updates."""

from __future__ import annotations

from django.contrib import admin

from core.admin import ReadOnlyAdmin, ReadOnlyTabularInline
from render.models import Generation, Render, RenderGeneration


class RenderGenerationInline(ReadOnlyTabularInline):
    """The generations a render waits on."""

    model = RenderGeneration
    fields = ("generation", "cache_hit")
    select_related = ("generation",)


@admin.register(Render)
class RenderAdmin(ReadOnlyAdmin):
    list_display = ("id", "workspace", "status", "priority", "template_version", "created_at", "finished_at")
    list_filter = ("status", "priority")
    list_select_related = ("workspace", "template_version")
    search_fields = ("=id", "=external_id", "workspace__name")
    inlines = (RenderGenerationInline,)


class VariantInline(ReadOnlyTabularInline):
    """img2img variants made from this generation."""

    model = Generation
    fk_name = "base"
    fields = ("key", "status", "strength", "created_at")
    verbose_name = "variant"


@admin.register(Generation)
class GenerationAdmin(ReadOnlyAdmin):
    list_display = ("key", "kind", "model", "status", "priority", "attempts", "runs", "created_at")
    list_filter = ("status", "kind")  # not `model`: its choices would be a DISTINCT over the whole table
    search_fields = ("^key", "=shape_key")
    inlines = (VariantInline,)
