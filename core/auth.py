"""Bearer API keys for `/api/v1/`, the one place a request's workspace is decided, and the role check.

An API key acts for its workspace: everything the API offers (a key is made by an owner). A person signed in
with a session (the dashboard's cookie) acts with their membership's role, checked by the same rule the
dashboard uses (`core.selectors.role_allows`): safe methods need the view's `read_role` (viewer unless the
view says otherwise), every other method its `write_role` (editor unless the view says owner).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AnonymousUser
from rest_framework import authentication, exceptions, permissions
from rest_framework.request import Request

from core.audit import audit_actor_bind
from core.models import ApiKey, Membership, Workspace
from core.selectors import api_key_authenticate, membership_for_user, role_allows, role_refusal

INVALID_KEY = "Invalid or revoked API key."
NO_WORKSPACE = "Authentication credentials were not provided."


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[Any, ApiKey] | None:
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        scheme, _, token = header.partition(" ")
        if scheme.lower() != self.keyword.lower():
            return None
        api_key = api_key_authenticate(raw_key=token.strip())
        if api_key is None:
            raise exceptions.AuthenticationFailed(INVALID_KEY)
        audit_actor_bind(api_key_actor(api_key))  # what the services' audit entries name (core.audit)
        return AnonymousUser(), api_key

    def authenticate_header(self, request: Request) -> str:
        return self.keyword


def _request_membership(request: Request) -> tuple[Workspace, str]:
    """(the workspace a request acts for, the role it acts with): its API key's workspace with every right,
    or the signed-in member's workspace (`X-Workspace` picks one of several) and role."""
    cached: tuple[Workspace, str] | None = getattr(request, "_reelsmith_membership", None)
    if cached is not None:
        return cached
    found: tuple[Workspace, str] | None = None
    if isinstance(request.auth, ApiKey):
        found = (request.auth.workspace, Membership.Role.OWNER)
    elif request.user is not None and request.user.is_authenticated:
        membership = membership_for_user(user=request.user, workspace_id=request.headers.get("X-Workspace"))
        if membership is not None:
            found = (membership.workspace, membership.role)
    if found is None:
        raise exceptions.NotAuthenticated(NO_WORKSPACE)
    request._reelsmith_membership = found  # type: ignore[attr-defined]  # per-request memo
    return found


def request_workspace(request: Request) -> Workspace:
    """The workspace a request acts for: its API key's, or the signed-in member's."""
    return _request_membership(request)[0]


def request_role(request: Request) -> str:
    """The role a request acts with: `owner` for an API key (it acts for the workspace), else the member's."""
    return _request_membership(request)[1]


def request_actor(request: Request) -> str:
    """Who did it, for audit fields: the member's username or the API key's name."""
    if isinstance(request.auth, ApiKey):
        return f"api-key:{request.auth.name}"
    if request.user is not None and request.user.is_authenticated:
        return f"user:{request.user.get_username()}"
    return "anonymous"


def api_key_actor(api_key: ApiKey) -> str:
    """How the audit log names a key: by its prefix, the part of it that stays readable."""
    return f"api-key:{api_key.prefix}"


def secrets_context(request: Request) -> dict[str, bool]:
    """Serializer context for answers that hold a signing secret (`core.apis.SecretField`): a viewer reads
    them blank, since a secret signs webhooks and CRM calls that make renders."""
    return {"hide_secrets": not role_allows(role=request_role(request), needed=Membership.Role.EDITOR)}


class IsWorkspaceMember(permissions.BasePermission):
    """A workspace to act for, and a role that may do what the method asks (403 in the one error shape)."""

    def has_permission(self, request: Request, view: Any) -> bool:
        role = request_role(request)
        if request.method in permissions.SAFE_METHODS:
            needed = getattr(view, "read_role", Membership.Role.VIEWER)
        else:
            needed = getattr(view, "write_role", Membership.Role.EDITOR)
        if not role_allows(role=role, needed=needed):
            raise exceptions.PermissionDenied(role_refusal(role=role, needed=needed))
        return True
