"""Admin: read-mostly views for support. Changes go through the API (services), not here."""

from __future__ import annotations

from django.contrib import admin

from campaigns.models import Campaign, CampaignRun, Integration, WebhookDelivery, WebhookEndpoint


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    list_display = ("name", "workspace", "status", "recipient_count", "fanout_cursor", "launched_at")
    list_filter = ("status",)
    readonly_fields = (
        "status",
        "recipient_count",
        "fanout_cursor",
        "fanout_target",
        "approved_by",
        "approved_at",
    )


@admin.register(CampaignRun)
class CampaignRunAdmin(admin.ModelAdmin):
    list_display = ("campaign", "slot", "from_position", "to_position")


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    list_display = ("url", "workspace", "disabled_at")
    exclude = ("secret",)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ("event", "url", "status", "attempts", "last_status_code", "created_at")
    list_filter = ("status", "event")


@admin.register(Integration)
class IntegrationAdmin(admin.ModelAdmin):
    list_display = ("kind", "name", "workspace", "writeback_enabled")
    exclude = ("secret", "writeback_token")
