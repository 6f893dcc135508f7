"""Ad templates and their immutable, numbered versions."""

from __future__ import annotations

import uuid
from typing import Any

from django.db import models

from core.models import Workspace


class AdTemplate(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="ad_templates")
    name = models.CharField(max_length=100)
    latest_version = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    # Archived templates are hidden from lists and refused for new renders and campaigns; renders and
    # campaigns already made with them keep them (their versions are immutable).
    archived_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.name


class TemplateAsset(models.Model):
    """A file that belongs to a template rather than a brand: a music track a version's `audio.track` names.
    Never changed or deleted while a version may name it (versions are immutable)."""

    class Kind(models.TextChoices):
        MUSIC = "music"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    template = models.ForeignKey(AdTemplate, on_delete=models.CASCADE, related_name="assets")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    storage_key = models.CharField(max_length=300)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    original_name = models.CharField(max_length=255, blank=True)
    details = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.kind} of {self.template_id}"


class TemplateVersion(models.Model):
    """A spec as it was accepted. Never changed once written: renders and campaigns point at it."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    template = models.ForeignKey(AdTemplate, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    spec = models.JSONField()
    # The declared variables, denormalised from the spec for validation at request time.
    variables = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["template", "version"], name="template_version_unique")
        ]

    def __str__(self) -> str:
        return f"{self.template_id} v{self.version}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise ValueError("template versions are immutable; create a new version instead")
        super().save(*args, **kwargs)
