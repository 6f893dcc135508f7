"""Bearer API keys for `/api/v1/` and the one place a request's workspace is decided."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AnonymousUser
from rest_framework import authentication, exceptions, permissions
from rest_framework.request import Request

from core.models import ApiKey, Workspace
from core.selectors import api_key_authenticate, workspace_for_user

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
        return AnonymousUser(), api_key

    def authenticate_header(self, request: Request) -> str:
        return self.keyword


def request_workspace(request: Request) -> Workspace:
    """The workspace a request acts for: its API key's, or the signed-in member's."""
    cached: Workspace | None = getattr(request, "_reelsmith_workspace", None)
    if cached is not None:
        return cached
    workspace: Workspace | None = None
    if isinstance(request.auth, ApiKey):
        workspace = request.auth.workspace
    elif request.user is not None and request.user.is_authenticated:
        workspace = workspace_for_user(user=request.user, workspace_id=request.headers.get("X-Workspace"))
    if workspace is None:
        raise exceptions.NotAuthenticated(NO_WORKSPACE)
    request._reelsmith_workspace = workspace  # type: ignore[attr-defined]  # per-request memo
    return workspace


def request_actor(request: Request) -> str:
    """Who did it, for audit fields: the member's username or the API key's name."""
    if isinstance(request.auth, ApiKey):
        return f"api-key:{request.auth.name}"
    if request.user is not None and request.user.is_authenticated:
        return f"user:{request.user.get_username()}"
    return "anonymous"


class IsWorkspaceMember(permissions.BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        request_workspace(request)
        return True
