"""Admin: read-only views for support. Changes go through the API (services), not here; secrets and tokens
are never shown. Lists name their joins and filter only on fixed choices, so pages stay fast on large tables."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from campaigns.models import (
    Campaign,
    CampaignRun,
    Integration,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from core.admin import ReadOnlyAdmin


@admin.register(Campaign)
class CampaignAdmin(ReadOnlyAdmin):
    list_display = ("name", "workspace", "status", "recipient_count", "fanout_cursor", "launched_at")
    list_filter = ("status",)
    list_select_related = ("workspace",)
    search_fields = ("name", "=id", "workspace__name")


@admin.register(CampaignRun)
class CampaignRunAdmin(ReadOnlyAdmin):
    list_display = ("campaign", "slot", "from_position", "to_position")
    list_select_related = ("campaign",)
    search_fields = ("=campaign__id",)


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(ReadOnlyAdmin):
    list_display = ("url", "workspace", "disabled_at")
    list_select_related = ("workspace",)
    search_fields = ("url", "workspace__name")
    exclude = ("secret",)


class WebhookEventFilter(admin.SimpleListFilter):
    """The event field has no choices of its own; listing distinct values would scan every delivery."""

    title = "event"
    parameter_name = "event"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [(value, str(label)) for value, label in WebhookEvent.choices]

    def queryset(
        self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]
    ) -> QuerySet[WebhookDelivery]:
        return queryset.filter(event=self.value()) if self.value() else queryset


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    list_display = ("event", "url", "status", "attempts", "last_status_code", "created_at")
    list_filter = ("status", WebhookEventFilter)
    search_fields = ("=id", "=message_id", "url")


@admin.register(Integration)
class IntegrationAdmin(ReadOnlyAdmin):
    list_display = ("kind", "name", "workspace", "writeback_enabled")
    list_filter = ("kind",)
    list_select_related = ("workspace",)
    search_fields = ("name", "=id", "workspace__name")
    exclude = ("secret", "writeback_token")
