"""Ad templates and their immutable, numbered versions."""

from __future__ import annotations

import uuid
from typing import Any

from django.db import models

from core.models import Workspace
from templates.moderator import DEFAULT_LANGUAGES


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
    # The people who made this version: [{"name", "role"}], credited in the API and in each output's C2PA
    # manifest (docs/template-spec.md "Authors").
    authors = models.JSONField(default=list)
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


def _default_languages() -> list[str]:
    return list(DEFAULT_LANGUAGES)


class WorkspaceModeration(models.Model):
    """A workspace's moderation choices (templates/moderation.py): the built-in word lists that apply (by
    language) and its own block and allow lists, as typed. No row: English only, no lists of its own."""

    workspace = models.OneToOneField(
        Workspace, on_delete=models.CASCADE, primary_key=True, related_name="moderation"
    )
    languages = models.JSONField(default=_default_languages)
    block = models.JSONField(default=list)
    allow = models.JSONField(default=list)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"moderation of {self.workspace_id}"
