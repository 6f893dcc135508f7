"""Billing (owners): balance, plan, usage this period as a bar chart (inline SVG drawn here, no script), ledger;
Stripe Checkout and Customer Portal when billing is on. `/billing` is also where Stripe sends people back to
(settings.REELSMITH_BILLING_RETURN_URL)."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from core.billing.selectors import billing_summary, billing_usage_by_day, credit_entry_list
from core.billing.stripe_sync import billing_checkout_start, billing_portal_start
from core.errors import ApplicationError
from dashboard.access import OWNER, DashboardRequest, member_view, paginate
from dashboard.forms import CheckoutForm


def _plans() -> list[dict[str, Any]]:
    """The plans a person can buy: those with a Stripe price."""
    return [{"id": key, **plan} for key, plan in settings.REELSMITH_PLANS.items() if plan.get("price_id")]


# The chart's drawing box, in SVG user units (it scales to its container's width).
CHART_WIDTH, CHART_HEIGHT, CHART_GAP = 620, 160, 2


def usage_chart(days: list[tuple[date, int]]) -> dict[str, Any]:
    """Bars for the credits used per day: their boxes, and a label for each (a person hovering, a screen
    reader reading the table beside the chart)."""
    most = max((credits for _, credits in days), default=0) or 1
    width = CHART_WIDTH / max(len(days), 1)
    bars = []
    for index, (day, credits) in enumerate(days):
        height = round(CHART_HEIGHT * credits / most, 1)
        bars.append(
            {
                "x": round(index * width, 1),
                "y": round(CHART_HEIGHT - height, 1),
                "width": round(max(width - CHART_GAP, 1), 1),
                "height": height,
                "label": f"{day:%b} {day.day}: {credits} credit{'s' if credits != 1 else ''}",
            }
        )
    return {
        "bars": bars,
        "width": CHART_WIDTH,
        "height": CHART_HEIGHT,
        "most": most if any(credits for _, credits in days) else 0,
        "days": days,
        "total": sum(credits for _, credits in days),
    }


@member_view(read=OWNER, write=OWNER)
def billing(request: DashboardRequest) -> HttpResponse:
    workspace = request.member.workspace
    if request.GET.get("checkout") == "success":
        messages.success(request, "Thank you: your plan changes as soon as Stripe confirms the payment.")
    summary = billing_summary(workspace=workspace)
    days = billing_usage_by_day(
        workspace=workspace, start=summary["period"]["start"], end=summary["period"]["end"]
    )
    context = {
        "summary": summary,
        "chart": usage_chart(days),
        "page": paginate(request, credit_entry_list(workspace=workspace)),
        "plans": _plans(),
    }
    return render(request, "dashboard/billing.html", context)


@require_POST
@member_view(read=OWNER, write=OWNER)
def billing_checkout(request: DashboardRequest) -> HttpResponse:
    form = CheckoutForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a plan.")
        return redirect("dashboard:billing")
    try:
        url = billing_checkout_start(workspace=request.member.workspace, plan=form.cleaned_data["plan"])
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("dashboard:billing")
    return HttpResponseRedirect(url)


@require_POST
@member_view(read=OWNER, write=OWNER)
def billing_portal(request: DashboardRequest) -> HttpResponse:
    try:
        url = billing_portal_start(workspace=request.member.workspace)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("dashboard:billing")
    return HttpResponseRedirect(url)
