"""Campaigns (one template version and brand, rendered once per recipient), their recipients and schedule
runs; outbound webhook endpoints and their delivery log; CRM integrations that request renders."""

from __future__ import annotations

import uuid

from django.db import models

from core.models import Brand, Workspace
from templates.models import AdTemplate, TemplateVersion


class Campaign(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft"
        SAMPLING = "sampling"
        AWAITING_APPROVAL = "awaiting_approval"
        APPROVED = "approved"
        RUNNING = "running"
        PAUSED = "paused"
        COMPLETED = "completed"
        CANCELED = "canceled"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="campaigns")
    name = models.CharField(max_length=100)
    template_version = models.ForeignKey(TemplateVersion, on_delete=models.PROTECT, related_name="campaigns")
    brand = models.ForeignKey(Brand, on_delete=models.PROTECT, related_name="campaigns")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.DRAFT)
    approved_by = models.CharField(max_length=200, blank=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    # Recipients get positions 1..recipient_count in upload order (assigned under a row lock on the campaign).
    recipient_count = models.PositiveIntegerField(default=0)
    sample_count = models.PositiveIntegerField(default=0)
    # Fan-out: every recipient with position <= fanout_cursor has a render; fanout_target bounds the current
    # run (None: every recipient, the unscheduled case).
    fanout_cursor = models.PositiveIntegerField(default=0)
    fanout_target = models.PositiveIntegerField(null=True, blank=True)
    # The status `pause` interrupted, restored by `resume`.
    paused_from = models.CharField(max_length=20, choices=Status.choices, blank=True)
    # Why the campaign stopped by itself (e.g. the workspace ran out of credits mid fan-out).
    status_reason = models.CharField(max_length=500, blank=True)
    schedule_cron = models.CharField(max_length=100, blank=True)
    schedule_timezone = models.CharField(max_length=64, blank=True)
    recurring = models.BooleanField(default=False)
    last_slot = models.DateTimeField(null=True, blank=True)
    launched_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    # After this, the watch pages of the campaign's renders answer 410 (render.watch; NULL: they never expire).
    watch_expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.name

    @property
    def is_scheduled(self) -> bool:
        return bool(self.schedule_cron)


class Recipient(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="recipients")
    variables = models.JSONField()
    external_id = models.CharField(max_length=200, blank=True)
    email = models.CharField(max_length=254, blank=True)
    # CSV columns a person chose to keep with the recipient (not template variables): {header: value}.
    fields = models.JSONField(default=dict, blank=True)
    position = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "external_id"],
                condition=~models.Q(external_id=""),
                name="recipient_external_id_unique",
            )
        ]
        indexes = [
            models.Index(fields=["campaign", "position"]),
            models.Index(fields=["campaign", "email"]),
        ]

    def __str__(self) -> str:
        return self.external_id or self.email or str(self.pk)


class CampaignRun(models.Model):
    """One fan-out of a campaign: its launch, or one schedule slot. UNIQUE(campaign, slot) makes a slot run
    once even when the beat fires twice (docs/reliability.md R6)."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="runs")
    slot = models.DateTimeField()
    from_position = models.PositiveIntegerField()
    to_position = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["campaign", "slot"], name="campaign_run_slot_unique")]

    def __str__(self) -> str:
        return f"{self.campaign_id} @ {self.slot.isoformat()}"


class CampaignRender(models.Model):
    """The render made for one of a campaign's recipients. Campaigns own this link: render knows nothing of
    campaigns (docs/architecture.md, "Layers"). A recipient is rendered at most once per campaign."""

    render = models.OneToOneField(
        "render.Render", on_delete=models.CASCADE, primary_key=True, related_name="campaign_link"
    )
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="render_links")
    # SET_NULL as before the link existed: a removed recipient's render stays in its campaign's counts.
    recipient = models.ForeignKey(
        Recipient, null=True, blank=True, on_delete=models.SET_NULL, related_name="render_links"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "recipient"],
                condition=models.Q(recipient__isnull=False),
                name="campaign_render_one_per_recipient",
            )
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id} recipient {self.recipient_id}: render {self.render_id}"


class WebhookEvent(models.TextChoices):
    RENDER_SUCCEEDED = "render.succeeded"
    RENDER_FAILED = "render.failed"
    CAMPAIGN_COMPLETED = "campaign.completed"
    CAMPAIGN_AWAITING_APPROVAL = "campaign.awaiting_approval"
    # A render's watch page: its first view, its first CTA click (render.watch; once per render).
    VIDEO_VIEWED = "video.viewed"
    CTA_CLICKED = "cta.clicked"


class WebhookEndpoint(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.URLField(max_length=2000)
    events = models.JSONField(default=list)
    secret = models.CharField(max_length=100)  # whsec_<base64>: shown to its workspace, needed to sign
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.url


class WorkspaceCallbackSecret(models.Model):
    """Signs deliveries to renders' `callback_url` (which have no endpoint row of their own)."""

    workspace = models.OneToOneField(Workspace, on_delete=models.CASCADE, related_name="callback_secret")
    secret = models.CharField(max_length=100)

    def __str__(self) -> str:
        return f"callback secret of {self.workspace_id}"


class WebhookDelivery(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="webhook_deliveries")
    # NULL for a render's callback_url.
    endpoint = models.ForeignKey(
        WebhookEndpoint, null=True, blank=True, on_delete=models.CASCADE, related_name="deliveries"
    )
    url = models.URLField(max_length=2000)
    event = models.CharField(max_length=64)
    # `webhook-id`: the same for every attempt and replay of this message, so receivers can dedupe.
    message_id = models.CharField(max_length=64, unique=True)
    # One delivery per (target, event, object): a render finishes once, and this makes it structural (R2).
    dedupe_key = models.CharField(max_length=200, unique=True)
    payload = models.JSONField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            models.Index(fields=["status", "next_attempt_at"]),
            models.Index(fields=["endpoint", "-created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.event} to {self.url} ({self.status})"


class Integration(models.Model):
    class Kind(models.TextChoices):
        HUBSPOT = "hubspot"
        SALESFORCE = "salesforce"
        GENERIC = "generic"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="integrations")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    name = models.CharField(max_length=100, blank=True)
    template = models.ForeignKey(AdTemplate, on_delete=models.PROTECT, related_name="integrations")
    version = models.PositiveIntegerField(null=True, blank=True)  # None: the template's latest version
    brand = models.ForeignKey(Brand, on_delete=models.PROTECT, related_name="integrations")
    field_map = models.JSONField(default=dict)  # CRM property name -> template variable
    secret = models.CharField(max_length=200)  # HubSpot app client secret, or the shared HMAC secret
    callback_url = models.URLField(max_length=2000, blank=True)
    # Write-back (off by default): a succeeded render's video link goes into this CRM property or field.
    writeback_enabled = models.BooleanField(default=False)
    writeback_field = models.CharField(max_length=100, blank=True)
    # HubSpot private-app token or Salesforce OAuth access token (stored like the signing secret: plain, per
    # workspace; rotate through the API).
    writeback_token = models.CharField(max_length=500, blank=True)
    # HubSpot: https://api.hubapi.com; Salesforce: the org's instance URL.
    writeback_base_url = models.URLField(max_length=300, blank=True)
    salesforce_object = models.CharField(max_length=100, blank=True, default="Contact")
    # Engagement write-back (with writeback_enabled): the watch page's view and CTA-click counts go into these
    # properties/fields as viewers come (blank: not written).
    writeback_views_field = models.CharField(max_length=100, blank=True)
    writeback_clicks_field = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.kind} integration {self.pk}"


class IntegrationRender(models.Model):
    """Which CRM record a render was made for, and how writing its video link back went."""

    class WriteBack(models.TextChoices):
        OFF = "off"
        PENDING = "pending"
        DONE = "done"
        FAILED = "failed"

    render = models.OneToOneField("render.Render", on_delete=models.CASCADE, related_name="integration_link")
    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="renders")
    object_id = models.CharField(max_length=200)
    writeback = models.CharField(max_length=16, choices=WriteBack.choices, default=WriteBack.OFF)
    writeback_attempts = models.PositiveSmallIntegerField(default=0)
    writeback_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.integration_id} record {self.object_id}"
