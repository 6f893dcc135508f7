"""Home: campaigns in flight with their progress, renders today, failures needing attention, credits."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone

from campaigns.models import Campaign
from campaigns.selectors import campaign_counts_many, campaign_list
from core.billing.selectors import billing_summary
from dashboard.access import DashboardRequest, member_view
from render.models import RenderStatus
from render.selectors import render_list

IN_FLIGHT = (
    Campaign.Status.SAMPLING,
    Campaign.Status.AWAITING_APPROVAL,
    Campaign.Status.APPROVED,
    Campaign.Status.RUNNING,
    Campaign.Status.PAUSED,
)
# A dashboard, not a report: the newest few of each; the full lists are a click away.
HOME_ROWS = 10


@member_view()
def home(request: DashboardRequest) -> HttpResponse:
    workspace = request.member.workspace
    campaigns = list(
        campaign_list(workspace=workspace)
        .filter(status__in=IN_FLIGHT)
        .select_related("template_version")[:HOME_ROWS]
    )
    counts = campaign_counts_many(campaigns=campaigns)
    today = timezone.localdate()
    failures = list(render_list(workspace=workspace, status=RenderStatus.FAILED)[:HOME_ROWS])
    context = {
        "campaigns": [(c, counts[c.pk]) for c in campaigns],
        "renders_today": render_list(workspace=workspace, created_on=today).count(),
        "succeeded_today": render_list(
            workspace=workspace, created_on=today, status=RenderStatus.SUCCEEDED
        ).count(),
        "failures": failures,
        "billing": billing_summary(workspace=workspace),
        "today": today,
    }
    return render(request, "dashboard/home.html", context)
