"""API keys (owners): create (the key is shown once, on the answer to the create), list, revoke."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from core.selectors import api_key_get_for_workspace, api_key_list
from core.services import api_key_create, api_key_revoke
from dashboard.access import OWNER, DashboardRequest, member_view, paginate
from dashboard.forms import ApiKeyCreateForm


@member_view(read=OWNER, write=OWNER)
def api_keys(request: DashboardRequest) -> HttpResponse:
    form = ApiKeyCreateForm(request.POST or None)
    created = None
    if request.method == "POST" and form.is_valid():
        api_key, raw_key = api_key_create(workspace=request.member.workspace, name=form.cleaned_data["name"])
        created = {"name": api_key.name, "key": raw_key}
        form = ApiKeyCreateForm()
    page = paginate(request, api_key_list(workspace=request.member.workspace))
    context = {"page": page, "form": form, "created": created}
    response = render(request, "dashboard/api_keys.html", context, status=400 if form.errors else 200)
    if created:
        response["Cache-Control"] = "no-store"  # the raw key must not stay in a cache
    return response


@require_POST
@member_view(read=OWNER, write=OWNER)
def api_key_revoke_view(request: DashboardRequest, api_key_id: str) -> HttpResponse:
    api_key = api_key_get_for_workspace(workspace=request.member.workspace, api_key_id=api_key_id)
    api_key_revoke(api_key=api_key)
    messages.success(request, f"Key {api_key.name!r} ({api_key.prefix}) revoked.")
    return redirect("dashboard:api_keys")
