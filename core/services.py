"""Writes for core objects: workspaces, API keys, brands and their assets."""

from __future__ import annotations

import hashlib
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path

from django.utils import timezone

from core.assets import CheckedAsset, asset_check
from core.models import ApiKey, Brand, BrandAsset, Workspace
from core.selectors import API_KEY_PREFIX, api_key_hash
from core.storage import get_storage


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
