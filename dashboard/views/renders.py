"""Renders: a filtered, paginated list and a detail page (player, every output, provenance with the C2PA
status, time per stage, error, cancel; the page's live part polls while the render runs)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from campaigns.selectors import campaign_list
from core.errors import ApplicationError
from dashboard.access import DashboardRequest, member_view, paginate
from dashboard.forms import RenderFilterForm
from render.selectors import (
    render_c2pa_status,
    render_generations,
    render_get_for_workspace,
    render_list,
    render_output_urls,
    render_stage_times,
    render_urls,
)
from render.services import render_cancel
from render.watch.selectors import render_engagement, render_watch_url

# Campaigns offered in the filter: the newest ones (older ones are reached from their own page).
FILTER_CAMPAIGNS = 100


@member_view()
def renders(request: DashboardRequest) -> HttpResponse:
    workspace = request.member.workspace
    choices = [
        (str(pk), name)
        for pk, name in campaign_list(workspace=workspace).values_list("pk", "name")[:FILTER_CAMPAIGNS]
    ]
    filters = RenderFilterForm(request.GET or None, campaigns=choices)
    data = filters.cleaned_data if filters.is_valid() else {}
    items = render_list(
        workspace=workspace,
        status=data.get("status") or None,
        groups={"campaign": data.get("campaign") or None},
        created_on=data.get("date"),
    )
    page = paginate(request, items)
    query = request.GET.copy()
    query.pop("page", None)
    context = {"page": page, "filters": filters, "query": query.urlencode()}
    return render(request, "dashboard/renders.html", context, status=400 if filters.errors else 200)


@member_view()
def render_detail(request: DashboardRequest, render_id: str) -> HttpResponse:
    item = render_get_for_workspace(workspace=request.member.workspace, render_id=render_id)
    generations = list(render_generations(render=item))
    context = {
        "render": item,
        "urls": render_urls(item),
        "outputs": render_output_urls(item),
        "template": item.template_version.template,
        "generations": generations,
        "stages": render_stage_times(render=item, links=generations),
        "c2pa": render_c2pa_status(render=item),
        # The link recipients get, and what they did with it (render/watch).
        "watch_url": render_watch_url(item),
        "engagement": render_engagement(item),
    }
    return render(request, "dashboard/render.html", context)


@require_POST
@member_view()
def render_cancel_view(request: DashboardRequest, render_id: str) -> HttpResponse:
    item = render_get_for_workspace(workspace=request.member.workspace, render_id=render_id)
    try:
        render_cancel(render=item)
        messages.success(request, "Render canceled.")
    except ApplicationError as exc:
        messages.error(request, exc.message)
    return redirect("dashboard:render", render_id=item.pk)
