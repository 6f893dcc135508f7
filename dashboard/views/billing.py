"""Billing (owners): balance, plan, ledger; Stripe Checkout and Customer Portal when billing is on. `/billing`
is also where Stripe sends people back to (settings.REELSMITH_BILLING_RETURN_URL)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from core.billing.selectors import billing_summary, credit_entry_list
from core.billing.stripe_sync import billing_checkout_start, billing_portal_start
from core.errors import ApplicationError
from dashboard.access import OWNER, DashboardRequest, member_view, paginate
from dashboard.forms import CheckoutForm


def _plans() -> list[dict[str, Any]]:
    """The plans a person can buy: those with a Stripe price."""
    return [{"id": key, **plan} for key, plan in settings.REELSMITH_PLANS.items() if plan.get("price_id")]


@member_view(read=OWNER, write=OWNER)
def billing(request: DashboardRequest) -> HttpResponse:
    workspace = request.member.workspace
    if request.GET.get("checkout") == "success":
        messages.success(request, "Thank you: your plan changes as soon as Stripe confirms the payment.")
    context = {
        "summary": billing_summary(workspace=workspace),
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
