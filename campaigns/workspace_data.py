"""Campaigns' part of a workspace's export and deletion (core.workspace_data, registered in CampaignsConfig.ready).
Secrets (signing secrets, CRM tokens) are never exported."""

from __future__ import annotations

from campaigns.models import Campaign, CampaignRender, Integration, Recipient, WebhookEndpoint
from core.models import Workspace
from core.workspace_data import ExportPart, rows


def campaigns_export(workspace: Workspace) -> ExportPart:
    return ExportPart(
        tables={
            "campaigns": rows(
                Campaign.objects.filter(workspace=workspace),
                "id",
                "name",
                "template_version_id",
                "brand_id",
                "status",
                "status_reason",
                "approved_by",
                "approved_at",
                "schedule_cron",
                "schedule_timezone",
                "recurring",
                "launched_at",
                "completed_at",
                "created_at",
            ),
            "recipients": rows(
                Recipient.objects.filter(campaign__workspace=workspace),
                "id",
                "campaign_id",
                "position",
                "external_id",
                "email",
                "variables",
                "fields",
                "created_at",
            ),
            "campaign_renders": rows(
                CampaignRender.objects.filter(campaign__workspace=workspace),
                "render_id",
                "campaign_id",
                "recipient_id",
            ),
            "webhook_endpoints": rows(
                WebhookEndpoint.objects.filter(workspace=workspace),
                "id",
                "url",
                "events",
                "disabled_at",
                "created_at",
            ),
            "integrations": rows(
                Integration.objects.filter(workspace=workspace),
                "id",
                "kind",
                "name",
                "template_id",
                "version",
                "brand_id",
                "field_map",
                "callback_url",
                "created_at",
            ),
        }
    )


def campaigns_purge(workspace: Workspace) -> int:
    """Campaigns and integrations protect template versions and brands: they go first. No files of their own."""
    Integration.objects.filter(workspace=workspace).delete()
    Campaign.objects.filter(workspace=workspace).delete()
    return 0
