"""Writes for core objects: workspaces, API keys, brands and their assets."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import default_token_generator
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

# asset_store lives in core.assets (core.consent stores evidence with it); re-exported for its callers.
from core.assets import StoredAsset, asset_store  # noqa: F401
from core.audit import audit_record, changes
from core.consent import consent_for_upload
from core.errors import ApplicationError, ConflictError
from core.models import ApiKey, Brand, BrandAsset, Membership, Workspace
from core.selectors import API_KEY_PREFIX, api_key_hash
from core.text import name_check

ALREADY_A_MEMBER = "This person is already a member of this workspace."
LAST_OWNER = "A workspace keeps at least one owner; make someone else owner first."
UNKNOWN_ROLE = "Choose owner, editor or viewer."
# The dashboard's set-password page, named by string like the root URLconf's includes: core imports no app.
PASSWORD_SET_URL_NAME = "dashboard:password_reset_confirm"  # noqa: S105  (a URL name, not a password)

# Checks that refuse deleting a brand something live still uses. Apps above core register theirs at
# `ready()` (campaigns: unfinished campaigns, CRM integrations); each raises ConflictError with the reason.
BrandDeleteCheck = Callable[[Brand], None]
_BRAND_DELETE_CHECKS: dict[str, BrandDeleteCheck] = {}


def workspace_get_or_create(*, name: str) -> Workspace:
    name_check(name)
    workspace, _ = Workspace.objects.get_or_create(name=name)
    return workspace


def api_key_create(*, workspace: Workspace, name: str) -> tuple[ApiKey, str]:
    """Returns the key row and the raw key. The raw key exists only in this return value: shown once."""
    name_check(name)
    prefix = secrets.token_hex(4)
    raw_key = f"{API_KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    with transaction.atomic():
        api_key = ApiKey.objects.create(
            workspace=workspace, name=name, prefix=prefix, key_hash=api_key_hash(raw_key)
        )
        audit_record(
            "api_key.created",
            workspace=workspace,
            object_type="api_key",
            object_id=api_key.pk,
            after={"name": name, "prefix": prefix},
        )
    return api_key, raw_key


def api_key_revoke(*, api_key: ApiKey) -> None:
    with transaction.atomic():
        if ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now()):
            audit_record(
                "api_key.revoked",
                workspace=api_key.workspace_id,
                object_type="api_key",
                object_id=api_key.pk,
                after={"prefix": api_key.prefix},
            )


def _brand_snapshot(brand: Brand) -> dict[str, Any]:
    return {"name": brand.name, **brand.colors}


@transaction.atomic
def brand_create(*, workspace: Workspace, name: str, colors: dict[str, str]) -> Brand:
    name_check(name)
    brand = Brand.objects.create(
        workspace=workspace,
        name=name,
        color_primary=colors["primary"].upper(),
        color_secondary=colors["secondary"].upper(),
        color_text=colors["text"].upper(),
    )
    audit_record(
        "brand.created",
        workspace=workspace,
        object_type="brand",
        object_id=brand.pk,
        after=_brand_snapshot(brand),
    )
    return brand


@transaction.atomic
def brand_update(*, brand: Brand, name: str | None = None, colors: dict[str, str] | None = None) -> Brand:
    """Change what is given: the name, and any of the three colours (the others stay)."""
    was = _brand_snapshot(brand)
    if name is not None:
        name_check(name)
        brand.name = name
    for key, value in (colors or {}).items():
        setattr(brand, f"color_{key}", value.upper())
    brand.save(update_fields=["name", "color_primary", "color_secondary", "color_text", "updated_at"])
    before, after = changes(was, _brand_snapshot(brand))
    if after:
        audit_record(
            "brand.updated",
            workspace=brand.workspace_id,
            object_type="brand",
            object_id=brand.pk,
            before=before,
            after=after,
        )
    return brand


def brand_delete_check_register(*, name: str, check: BrandDeleteCheck) -> None:
    """Let an app above core refuse deleting a brand it still uses (`check` raises ConflictError)."""
    _BRAND_DELETE_CHECKS[name] = check


@transaction.atomic
def brand_delete(*, brand: Brand) -> None:
    """Hide a brand nothing live uses from every list and lookup; refused (409) with the reason otherwise.
    Renders already made keep pointing at it."""
    Brand.objects.select_for_update().filter(pk=brand.pk).first()  # one delete at a time per brand
    for check in _BRAND_DELETE_CHECKS.values():
        check(brand)
    if Brand.objects.filter(pk=brand.pk, deleted_at__isnull=True).update(deleted_at=timezone.now()):
        audit_record("brand.deleted", workspace=brand.workspace_id, object_type="brand", object_id=brand.pk)


def _asset_snapshot(asset: BrandAsset) -> dict[str, Any]:
    return {
        "brand": str(asset.brand_id),
        "kind": asset.kind,
        "sha256": asset.sha256,
        "name": asset.original_name,
        "shows_person": asset.shows_person,
        "consent": str(asset.consent_id) if asset.consent_id else None,
    }


def brand_asset_upload(
    *,
    brand: Brand,
    kind: str,
    data: bytes,
    original_name: str = "",
    shows_person: bool = False,
    consent_id: Any = None,
) -> BrandAsset:
    """Check and store an upload. A likeness (a `portrait`, a `voice`, footage that `shows_person`) must name
    a consent that covers this brand and that use (400 naming `consent`: docs/trust.md)."""
    consent = consent_for_upload(brand=brand, kind=kind, shows_person=shows_person, consent_id=consent_id)
    stored = asset_store(folder=f"brands/{brand.workspace_id}/{brand.pk}", kind=kind, data=data)
    with transaction.atomic():
        asset = BrandAsset.objects.create(
            brand=brand,
            kind=kind,
            storage_key=stored.key,
            content_type=stored.checked.content_type,
            size=len(data),
            sha256=stored.sha256,
            original_name=original_name[:255],
            details=stored.checked.details,
            shows_person=shows_person,
            consent=consent,
        )
        audit_record(
            "brand_asset.uploaded",
            workspace=brand.workspace_id,
            object_type="brand_asset",
            object_id=asset.pk,
            after=_asset_snapshot(asset),
        )
    return asset


@transaction.atomic
def brand_asset_update(
    *, asset: BrandAsset, name: str | None = None, shows_person: bool | None = None, consent_id: Any = None
) -> BrandAsset:
    """Rename an upload (the file itself never changes: assets are content-addressed), or say whether footage
    shows a person and name the consent it then needs (checked as at upload)."""
    was = _asset_snapshot(asset)
    if name is not None:
        asset.original_name = name[:255]
    if shows_person is not None or consent_id is not None:
        showing = asset.shows_person if shows_person is None else shows_person
        if asset.kind != BrandAsset.Kind.VIDEO and shows_person is not None:
            shows = "Only footage (kind video) is flagged as showing a person."
            raise ApplicationError(shows, fields={"shows_person": shows})
        asset.consent = consent_for_upload(
            brand=asset.brand,
            kind=asset.kind,
            shows_person=showing,
            consent_id=consent_id or asset.consent_id,
        )
        asset.shows_person = showing
    asset.save(update_fields=["original_name", "shows_person", "consent"])
    before, after = changes(was, _asset_snapshot(asset))
    if after:
        audit_record(
            "brand_asset.updated",
            workspace=asset.brand.workspace_id,
            object_type="brand_asset",
            object_id=asset.pk,
            before=before,
            after=after,
        )
    return asset


@transaction.atomic
def brand_asset_delete(*, asset: BrandAsset) -> None:
    """Remove an upload: the brand's previous asset of that kind becomes current again, or none. The stored
    file stays (content-addressed, it may be another upload's too; renders made with it are already made)."""
    if BrandAsset.objects.filter(pk=asset.pk).delete()[0]:
        audit_record(
            "brand_asset.deleted",
            workspace=asset.brand.workspace_id,
            object_type="brand_asset",
            object_id=asset.pk,
            before=_asset_snapshot(asset),
        )


def _role_check(role: str) -> None:
    if role not in Membership.Role.values:
        raise ApplicationError(UNKNOWN_ROLE, fields={"role": UNKNOWN_ROLE})


@transaction.atomic
def member_invite(*, workspace: Workspace, email: str, role: str) -> Membership:
    """Add a person by email (their user is made if new, without a usable password: they set one through
    a password-reset link). Signing in is by email, so the username is the email."""
    _role_check(role)
    email = email.strip().lower()
    user_model = get_user_model()
    # Any: the project's user model (get_user_model) as the ORM sees it.
    user: Any = user_model.objects.filter(username=email).first()
    if user is None:
        user = user_model.objects.create_user(username=email, email=email, password=None)
    if Membership.objects.filter(workspace=workspace, user=user).exists():
        raise ConflictError(ALREADY_A_MEMBER, fields={"email": ALREADY_A_MEMBER})
    member = Membership.objects.create(workspace=workspace, user=user, role=role)
    audit_record(
        "member.invited",
        workspace=workspace,
        object_type="member",
        object_id=member.pk,
        after={"user": email, "role": role},
    )
    return member


def member_password_set_path(*, member: Membership) -> str:
    """A one-time link to set the member's password: Django's password-reset token, which stops working
    once used (the password hash it is made from changes) or after PASSWORD_RESET_TIMEOUT."""
    user = member.user
    return reverse(
        PASSWORD_SET_URL_NAME,
        kwargs={
            "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": default_token_generator.make_token(user),
        },
    )


def _owners_left(member: Membership) -> int:
    return (
        Membership.objects.select_for_update()
        .filter(workspace_id=member.workspace_id, role=Membership.Role.OWNER)
        .exclude(pk=member.pk)
        .count()
    )


@transaction.atomic
def member_role_change(*, member: Membership, role: str) -> Membership:
    _role_check(role)
    if member.role == Membership.Role.OWNER and role != Membership.Role.OWNER and not _owners_left(member):
        raise ConflictError(LAST_OWNER, fields={"role": LAST_OWNER})
    Membership.objects.filter(pk=member.pk).update(role=role)
    if member.role != role:
        audit_record(
            "member.role_changed",
            workspace=member.workspace_id,
            object_type="member",
            object_id=member.pk,
            before={"role": member.role},
            after={"role": role},
        )
    member.role = role
    return member


@transaction.atomic
def member_remove(*, member: Membership) -> None:
    if member.role == Membership.Role.OWNER and not _owners_left(member):
        raise ConflictError(LAST_OWNER)
    Membership.objects.filter(pk=member.pk).delete()
    audit_record(
        "member.removed",
        workspace=member.workspace_id,
        object_type="member",
        object_id=member.pk,
        before={"user": member.user.get_username(), "role": member.role},
    )
