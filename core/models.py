"""Workspaces (tenants), their members and API keys, and brands with their uploaded assets."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class Workspace(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=100, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    class Role(models.TextChoices):
        """Owners manage members, API keys and billing; editors do the marketing work (approval included);
        viewers read. Ranked in that order (`core.selectors.role_allows`)."""

        OWNER = "owner"
        EDITOR = "editor"
        VIEWER = "viewer"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.EDITOR)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workspace", "user"], name="membership_unique")]

    def __str__(self) -> str:
        return f"{self.user_id} in {self.workspace_id} ({self.role})"


class ApiKey(models.Model):
    """A bearer key: `rsk_<prefix>_<secret>`. Only the prefix (for lookup) and a SHA-256 of the whole key are kept."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True)
    key_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class Brand(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="brands")
    name = models.CharField(max_length=100)
    color_primary = models.CharField(max_length=7)
    color_secondary = models.CharField(max_length=7)
    color_text = models.CharField(max_length=7)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Deleted brands are hidden, not removed: renders and finished campaigns keep pointing at them.
    deleted_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.name

    @property
    def colors(self) -> dict[str, str]:
        return {"primary": self.color_primary, "secondary": self.color_secondary, "text": self.color_text}

    def current_asset(self, kind: str) -> BrandAsset | None:
        return self.assets.filter(kind=kind).order_by("-created_at").first()


class BrandAsset(models.Model):
    """A checked upload. The newest asset of a kind is the brand's current one; older ones stay for old renders."""

    class Kind(models.TextChoices):
        LOGO = "logo"
        IMAGE = "image"  # a brand picture for backgrounds and image layers
        FONT = "font"
        MUSIC = "music"
        VIDEO = "video"  # brand footage for clip backgrounds (transcoded once when first used)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="assets")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    storage_key = models.CharField(max_length=300)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    original_name = models.CharField(max_length=255, blank=True)
    # What the check found: pixel size for images, family name for fonts, duration for music.
    details = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.kind} of {self.brand_id}"


# Billing's models live in core/billing/ but belong to the `core` app (its migrations, its admin).
from core.billing.models import BillingAccount, CreditEntry, MeterReport, Reservation, StripeEvent  # noqa: E402, F401, I001
