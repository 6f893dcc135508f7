"""Writes for core objects: workspaces, API keys, brands and their assets."""

from __future__ import annotations

import hashlib
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from core.assets import CheckedAsset, asset_check
from core.errors import ApplicationError, ConflictError
from core.models import ApiKey, Brand, BrandAsset, Membership, Workspace
from core.selectors import API_KEY_PREFIX, api_key_hash
from core.storage import get_storage

ALREADY_A_MEMBER = "This person is already a member of this workspace."
LAST_OWNER = "A workspace keeps at least one owner; make someone else owner first."
UNKNOWN_ROLE = "Choose owner, editor or viewer."


def workspace_get_or_create(*, name: str) -> Workspace:
    workspace, _ = Workspace.objects.get_or_create(name=name)
    return workspace


def api_key_create(*, workspace: Workspace, name: str) -> tuple[ApiKey, str]:
    """Returns the key row and the raw key. The raw key exists only in this return value: shown once."""
    prefix = secrets.token_hex(4)
    raw_key = f"{API_KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    api_key = ApiKey.objects.create(
        workspace=workspace, name=name, prefix=prefix, key_hash=api_key_hash(raw_key)
    )
    return api_key, raw_key


def api_key_revoke(*, api_key: ApiKey) -> None:
    ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())


def brand_create(*, workspace: Workspace, name: str, colors: dict[str, str]) -> Brand:
    return Brand.objects.create(
        workspace=workspace,
        name=name,
        color_primary=colors["primary"].upper(),
        color_secondary=colors["secondary"].upper(),
        color_text=colors["text"].upper(),
    )


def brand_update(*, brand: Brand, name: str, colors: dict[str, str]) -> Brand:
    brand.name = name
    brand.color_primary = colors["primary"].upper()
    brand.color_secondary = colors["secondary"].upper()
    brand.color_text = colors["text"].upper()
    brand.save(update_fields=["name", "color_primary", "color_secondary", "color_text", "updated_at"])
    return brand


def brand_archive(*, brand: Brand) -> None:
    """Hide a brand from every list and lookup. Callers check first that nothing live still uses it
    (`campaigns.services.brand_delete`); renders already made keep pointing at it."""
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
