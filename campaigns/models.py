"""Campaigns: one template version and brand, rendered once per recipient."""

from __future__ import annotations

import uuid

from django.db import models

from core.models import Brand, Workspace
from templates.models import TemplateVersion


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
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.name


class Recipient(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="recipients")
    variables = models.JSONField()
    external_id = models.CharField(max_length=200, blank=True)
    email = models.CharField(max_length=254, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "external_id"],
                condition=~models.Q(external_id=""),
                name="recipient_external_id_unique",
            )
        ]

    def __str__(self) -> str:
        return self.external_id or self.email or str(self.pk)
