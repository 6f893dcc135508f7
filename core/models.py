"""Workspaces (tenants), their members and API keys, and brands with their uploaded assets."""

from __future__ import annotations

import uuid
from typing import Any

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


class Consent(models.Model):
    """A real person's consent to show their face or use their voice (docs/trust.md): who, for which brands,
    for which uses, until when, the evidence (a signed document or a recorded statement, in storage) and who
    collected it. A likeness asset (`BrandAsset.needs_consent`) names one; revoking it, or its running out,
    cancels what is still rendering with it and erases what was made with it."""

    class Use(models.TextChoices):
        PORTRAIT = "portrait"  # pictures of the person (asset kind `portrait`)
        VOICE = "voice"  # recordings of their voice (asset kind `voice`)
        VIDEO = "video"  # footage that shows them (asset kind `video` flagged `shows_person`)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="consents")
    person_name = models.CharField(max_length=200)
    brands = models.ManyToManyField(Brand, related_name="consents")
    uses = models.JSONField(default=list)  # a list of Use values
    valid_until = models.DateTimeField(null=True, blank=True)  # None: until revoked
    evidence_key = models.CharField(max_length=300)
    evidence_content_type = models.CharField(max_length=100)
    evidence_size = models.PositiveBigIntegerField()
    evidence_sha256 = models.CharField(max_length=64)
    evidence_name = models.CharField(max_length=255, blank=True)
    collected_by = models.CharField(max_length=200)
    granted_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_reason = models.CharField(max_length=500, blank=True)
    # When what revoking or expiry entails (renders canceled, outputs erased) was last carried out; NULL while
    # the consent holds, or until the task that carries it out has run (core.consent).
    lapse_applied_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["revoked_at", "valid_until", "lapse_applied_at"])]

    def __str__(self) -> str:
        return f"consent of {self.person_name}"


class BrandAsset(models.Model):
    """A checked upload. The newest asset of a kind is the brand's current one; older ones stay for old renders."""

    class Kind(models.TextChoices):
        LOGO = "logo"
        IMAGE = "image"  # a brand picture for backgrounds and image layers
        FONT = "font"
        MUSIC = "music"
        VIDEO = "video"  # brand footage for clip backgrounds (transcoded once when first used)
        PORTRAIT = "portrait"  # a picture of a real person: needs their consent
        VOICE = "voice"  # a recording of a real person's voice (a soundtrack): needs their consent

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
    # Footage of a real person (a presenter clip): it needs their consent like a portrait.
    shows_person = models.BooleanField(default=False)
    # The person's consent, for a likeness asset (`needs_consent`). RESTRICT: a consent outlives its assets,
    # except when the whole workspace is deleted (both go in that one cascade).
    consent = models.ForeignKey(
        Consent, null=True, blank=True, on_delete=models.RESTRICT, related_name="assets"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.kind} of {self.brand_id}"

    @property
    def likeness_use(self) -> str | None:
        """The consent use this asset needs (`portrait`, `voice`, `video`), or None for a brand's own files."""
        if self.kind in (self.Kind.PORTRAIT, self.Kind.VOICE):
            return str(self.kind)
        if self.kind == self.Kind.VIDEO and self.shows_person:
            return Consent.Use.VIDEO.value
        return None


class ConsentUse(models.Model):
    """Something made with a consent's likeness, by reference (`render:<id>`, `still:<key>`: core knows no
    Render, as billing's charges name theirs): what to erase when the consent is revoked or runs out. Recorded
    by render before it composes or draws (render.likeness), so nothing it uploads is missed."""

    consent = models.ForeignKey(Consent, on_delete=models.CASCADE, related_name="uses_made")
    reference = models.CharField(max_length=300)  # render:<id>, or still:<storage key> (a template preview)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["consent", "reference"], name="consent_use_unique")]

    def __str__(self) -> str:
        return f"{self.reference} used {self.consent_id}"


class AuditChain(models.Model):
    """The head of one hash chain of audit entries: a workspace's (key: its id), or `system` for entries that
    belong to no workspace (a failed sign-in by an unknown name, a workspace deleted). Writers lock this row
    (core.audit), so a chain's entries are numbered without gaps and each names the one before."""

    key = models.CharField(max_length=64, primary_key=True)
    length = models.PositiveBigIntegerField(default=0)
    head_hash = models.CharField(max_length=64)

    def __str__(self) -> str:
        return f"audit chain {self.key} ({self.length})"


class AuditEntryQuerySet(models.QuerySet["AuditEntry"]):
    """Append-only: no bulk update or delete through the ORM (a deleted workspace takes its chain with it,
    by the database cascade, which does not come through here)."""

    def update(self, **kwargs: Any) -> int:
        raise TypeError("audit entries are append-only")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise TypeError("audit entries are append-only")


class AuditEntry(models.Model):
    """One change a person, an API key or the system made (docs/trust.md). Written only by
    `core.audit.audit_record`, never changed: `hash` is the SHA-256 of the entry's canonical JSON and the
    previous entry's hash (`prev_hash`), so an edited or removed entry breaks the chain (`audit_verify`)."""

    id = models.BigAutoField(primary_key=True)
    chain = models.CharField(max_length=64)
    seq = models.PositiveBigIntegerField()  # 1, 2, ... within the chain
    workspace = models.ForeignKey(
        Workspace, null=True, blank=True, on_delete=models.CASCADE, related_name="audit_entries"
    )
    actor = models.CharField(max_length=200)  # user:<username>, api-key:<prefix>, system
    action = models.CharField(max_length=64)  # dotted: campaign.approved, consent.revoked, ...
    object_type = models.CharField(max_length=64)
    object_id = models.CharField(max_length=100, blank=True)
    ip_hash = models.CharField(
        max_length=64, blank=True
    )  # keyed hash of the client address, never the address
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField()
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    objects = AuditEntryQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["chain", "seq"], name="audit_entry_chain_seq")]
        indexes = [
            models.Index(fields=["workspace", "-created_at"]),
            models.Index(fields=["workspace", "action"]),
            models.Index(fields=["workspace", "object_type", "object_id"]),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.object_type}:{self.object_id} by {self.actor}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise TypeError("audit entries are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise TypeError("audit entries are append-only")


# Billing's models live in core/billing/ but belong to the `core` app (its migrations, its admin).
from core.billing.models import BillingAccount, CreditEntry, MeterReport, Reservation, StripeEvent  # noqa: E402, F401, I001
