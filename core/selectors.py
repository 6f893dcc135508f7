"""Reads for core objects. Every lookup by id is scoped by workspace: a foreign id is simply not found."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from core.errors import NotFoundError
from core.models import ApiKey, Brand, BrandAsset, Membership, Workspace

API_KEY_PREFIX = "rsk_"
# Lowest to highest: a role may do what every role before it may.
ROLE_RANK = (Membership.Role.VIEWER, Membership.Role.EDITOR, Membership.Role.OWNER)
ROLE_NEEDED = "This needs the {needed} role; yours is {role}."


def api_key_hash(raw_key: str) -> str:
    # Keys carry 256 bits of randomness, so a fast hash is enough (no password stretching needed).
    return hashlib.sha256(raw_key.encode()).hexdigest()


def api_key_authenticate(*, raw_key: str) -> ApiKey | None:
    if not raw_key.startswith(API_KEY_PREFIX):
        return None
    prefix, _, secret = raw_key[len(API_KEY_PREFIX) :].partition("_")
    if not prefix or not secret:
        return None
    api_key = (
        ApiKey.objects.select_related("workspace").filter(prefix=prefix, revoked_at__isnull=True).first()
    )
    if api_key is None or not hmac.compare_digest(api_key.key_hash, api_key_hash(raw_key)):
        return None
    now = timezone.now()
    # Touch at most once a minute: a hot key should not turn every request into a write.
    if api_key.last_used_at is None or (now - api_key.last_used_at).total_seconds() > 60:
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
    return api_key


def parse_id(value: Any) -> uuid.UUID:
    """Ids are UUIDs; anything else is an id that does not exist (404, like a foreign one)."""
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except (ValueError, TypeError, AttributeError) as exc:
        raise NotFoundError() from exc


def brand_list(*, workspace: Workspace) -> QuerySet[Brand]:
    return Brand.objects.filter(workspace=workspace, deleted_at__isnull=True).order_by("-created_at")


def brand_get_for_workspace(*, workspace: Workspace, brand_id: Any) -> Brand:
    brand = brand_list(workspace=workspace).filter(pk=parse_id(brand_id)).first()
    if brand is None:
        raise NotFoundError()
    return brand


def brand_asset_get(*, brand: Brand, asset_id: Any) -> BrandAsset:
    asset = BrandAsset.objects.filter(brand=brand, pk=parse_id(asset_id)).first()
    if asset is None:
        raise NotFoundError()
    return asset


def api_key_list(*, workspace: Workspace) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(workspace=workspace).order_by("-created_at")


def api_key_get_for_workspace(*, workspace: Workspace, api_key_id: Any) -> ApiKey:
    api_key = api_key_list(workspace=workspace).filter(pk=parse_id(api_key_id)).first()
    if api_key is None:
        raise NotFoundError()
    return api_key


def role_allows(*, role: str, needed: str) -> bool:
    """Whether a member with `role` may do what `needed` may (owner > editor > viewer). The one role check:
    the API (`core.auth.IsWorkspaceMember`) and the dashboard (`dashboard.access.member_view`) both ask it."""
    if role not in ROLE_RANK or needed not in ROLE_RANK:
        return False
    return ROLE_RANK.index(Membership.Role(role)) >= ROLE_RANK.index(Membership.Role(needed))


def role_refusal(*, role: str, needed: str) -> str:
    """Why a member with `role` is refused something that needs `needed` (the API's and the dashboard's 403)."""
    return ROLE_NEEDED.format(needed=needed, role=role)


def membership_for_user(*, user: Any, workspace_id: Any = None) -> Membership | None:
    """The signed-in user's membership: in the workspace asked for, else their first (oldest) one."""
    memberships = Membership.objects.filter(user=user).select_related("workspace", "user")
    if workspace_id:
        try:
            return memberships.filter(workspace_id=uuid.UUID(str(workspace_id))).first()
        except ValueError:
            return None
    return memberships.order_by("created_at").first()


def member_list(*, workspace: Workspace) -> QuerySet[Membership]:
    return Membership.objects.filter(workspace=workspace).select_related("user").order_by("created_at")


def member_get_for_workspace(*, workspace: Workspace, member_id: Any) -> Membership:
    try:
        pk = int(str(member_id))
    except ValueError:
        raise NotFoundError() from None
    member = member_list(workspace=workspace).filter(pk=pk).first()
    if member is None:
        raise NotFoundError()
    return member


def workspace_find(ref: str) -> Workspace | None:
    """A workspace by its id or its name (support's commands)."""
    try:
        found = Workspace.objects.filter(pk=uuid.UUID(ref)).first()
    except ValueError:
        found = None
    return found or Workspace.objects.filter(name=ref).first()
