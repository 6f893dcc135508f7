"""Writes for core objects: workspaces, API keys, brands and their assets."""

from __future__ import annotations

import hashlib
import secrets
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import default_token_generator
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from core.assets import CheckedAsset, asset_check
from core.errors import ApplicationError, ConflictError
from core.models import ApiKey, Brand, BrandAsset, Membership, Workspace
from core.selectors import API_KEY_PREFIX, api_key_hash
from core.storage import get_storage
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
    api_key = ApiKey.objects.create(
        workspace=workspace, name=name, prefix=prefix, key_hash=api_key_hash(raw_key)
    )
    return api_key, raw_key


def api_key_revoke(*, api_key: ApiKey) -> None:
    ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())


def brand_create(*, workspace: Workspace, name: str, colors: dict[str, str]) -> Brand:
    name_check(name)
    return Brand.objects.create(
        workspace=workspace,
        name=name,
        color_primary=colors["primary"].upper(),
        color_secondary=colors["secondary"].upper(),
        color_text=colors["text"].upper(),
    )


def brand_update(*, brand: Brand, name: str | None = None, colors: dict[str, str] | None = None) -> Brand:
    """Change what is given: the name, and any of the three colours (the others stay)."""
    if name is not None:
        name_check(name)
        brand.name = name
    for key, value in (colors or {}).items():
        setattr(brand, f"color_{key}", value.upper())
    brand.save(update_fields=["name", "color_primary", "color_secondary", "color_text", "updated_at"])
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
    Brand.objects.filter(pk=brand.pk, deleted_at__isnull=True).update(deleted_at=timezone.now())


@dataclass(frozen=True)
class StoredAsset:
    checked: CheckedAsset
    key: str
    sha256: str


def asset_store(*, folder: str, kind: str, data: bytes) -> StoredAsset:
    """Check an upload (core.assets) and store it under `folder`, content-addressed: the same file uploaded
    twice is stored once."""
    checked = asset_check(kind=kind, data=data)
    digest = hashlib.sha256(data).hexdigest()
    key = f"{folder}/{kind}-{digest[:32]}.{checked.extension}"
    storage = get_storage()
    if not storage.exists(key):
        with tempfile.TemporaryDirectory(prefix="reelsmith-asset-") as tmp:
            path = Path(tmp) / f"upload.{checked.extension}"
            path.write_bytes(data)
            storage.put_file(key, path, content_type=checked.content_type)
    return StoredAsset(checked=checked, key=key, sha256=digest)


def brand_asset_upload(*, brand: Brand, kind: str, data: bytes, original_name: str = "") -> BrandAsset:
    stored = asset_store(folder=f"brands/{brand.workspace_id}/{brand.pk}", kind=kind, data=data)
    return BrandAsset.objects.create(
        brand=brand,
        kind=kind,
        storage_key=stored.key,
        content_type=stored.checked.content_type,
        size=len(data),
        sha256=stored.sha256,
        original_name=original_name[:255],
        details=stored.checked.details,
    )


def brand_asset_rename(*, asset: BrandAsset, name: str) -> BrandAsset:
    """The file name shown for an upload (the file itself never changes: assets are content-addressed)."""
    asset.original_name = name[:255]
    asset.save(update_fields=["original_name"])
    return asset


def brand_asset_delete(*, asset: BrandAsset) -> None:
    """Remove an upload: the brand's previous asset of that kind becomes current again, or none. The stored
    file stays (content-addressed, it may be another upload's too; renders made with it are already made)."""
    BrandAsset.objects.filter(pk=asset.pk).delete()


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
    return Membership.objects.create(workspace=workspace, user=user, role=role)


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
    member.role = role
    return member


@transaction.atomic
def member_remove(*, member: Membership) -> None:
    if member.role == Membership.Role.OWNER and not _owners_left(member):
        raise ConflictError(LAST_OWNER)
    Membership.objects.filter(pk=member.pk).delete()
