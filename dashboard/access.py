"""Who may see and do what: the one role check every dashboard view goes through.

`member_view(read=..., write=...)` signs people in, finds their membership (the workspace they act for: the
one they picked this session, else their first), refuses a role below the one the request needs (403), and
turns a missing *or foreign* object (`core.errors.NotFoundError`) into a 404, the same answer either way.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Concatenate, ParamSpec

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest
from django.http.response import HttpResponseBase

from core.errors import NotFoundError
from core.models import Membership, Workspace
from core.selectors import membership_for_user, role_allows, role_refusal

OWNER = Membership.Role.OWNER
EDITOR = Membership.Role.EDITOR
VIEWER = Membership.Role.VIEWER
# The session key holding the workspace a person in several picked (`membership_for_user`).
WORKSPACE_SESSION_KEY = "dashboard_workspace"
PAGE_SIZE = 25
NOT_A_MEMBER = "Your account is not a member of any workspace."

P = ParamSpec("P")


@dataclass(frozen=True)
class Member:
    """The signed-in person as views and templates see them."""

    membership: Membership

    @property
    def workspace(self) -> Workspace:
        return self.membership.workspace

    @property
    def role(self) -> str:
        return self.membership.role

    @property
    def email(self) -> str:
        return str(self.membership.user.get_username())

    @property
    def actor(self) -> str:
        # The same audit string the API writes for a session user (core.auth.request_actor).
        return f"user:{self.email}"

    def can(self, needed: str) -> bool:
        return role_allows(role=self.role, needed=needed)

    @property
    def can_edit(self) -> bool:
        return self.can(EDITOR)

    @property
    def is_owner(self) -> bool:
        return self.can(OWNER)


class DashboardRequest(HttpRequest):
    member: Member


View = Callable[Concatenate[DashboardRequest, P], HttpResponseBase]


def member_view(
    *, read: str = VIEWER, write: str = EDITOR
) -> Callable[[View[P]], Callable[..., HttpResponseBase]]:
    """GET/HEAD need `read`; every other method (a state change) needs `write`."""

    def decorate(view: View[P]) -> Callable[..., HttpResponseBase]:
        @functools.wraps(view)
        def wrapped(request: HttpRequest, *args: P.args, **kwargs: P.kwargs) -> HttpResponseBase:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            membership = membership_for_user(
                user=request.user, workspace_id=request.session.get(WORKSPACE_SESSION_KEY)
            )
            if membership is None:
                raise PermissionDenied(NOT_A_MEMBER)
            member = Member(membership)
            needed = read if request.method in ("GET", "HEAD") else write
            if not member.can(needed):
                raise PermissionDenied(role_refusal(role=member.role, needed=needed))
            request.member = member  # type: ignore[attr-defined]  # the view's typed DashboardRequest
            try:
                return view(request, *args, **kwargs)  # type: ignore[arg-type]  # annotated on the line above
            except NotFoundError:
                raise Http404() from None

        return wrapped

    return decorate


def paginate(request: HttpRequest, items: QuerySet[Any], per_page: int = PAGE_SIZE) -> Page[Any]:
    """One page of a list (a COUNT and one slice: two queries whatever the list's length)."""
    return Paginator(items, per_page).get_page(request.GET.get("page"))
