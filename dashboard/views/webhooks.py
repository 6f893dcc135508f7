"""Webhook endpoints: list, add, enable/disable, delete, rotate the signing secret, send a test event, and each
one's delivery log with replay."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from campaigns import webhooks as webhook_services
from campaigns.selectors import (
    webhook_delivery_get,
    webhook_delivery_list,
    webhook_endpoint_get_for_workspace,
    webhook_endpoint_list,
)
from core.errors import ApplicationError
from dashboard.access import DashboardRequest, member_view, paginate
from dashboard.forms import WebhookCreateForm, errors_to_form


@member_view()
def webhooks(request: DashboardRequest) -> HttpResponse:
    form = WebhookCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            endpoint = webhook_services.webhook_endpoint_create(
                workspace=request.member.workspace,
                url=form.cleaned_data["url"],
                events=form.cleaned_data["events"],
            )
        except ApplicationError as exc:
            errors_to_form(form, exc, {f"events[{i}]": "events" for i in range(10)})
        else:
            messages.success(request, "Endpoint added. Its signing secret is on its page.")
            return redirect("dashboard:webhook", endpoint_id=endpoint.pk)
    page = paginate(request, webhook_endpoint_list(workspace=request.member.workspace))
    return render(
        request, "dashboard/webhooks.html", {"page": page, "form": form}, status=400 if form.errors else 200
    )


@member_view()
def webhook(request: DashboardRequest, endpoint_id: str) -> HttpResponse:
    endpoint = webhook_endpoint_get_for_workspace(workspace=request.member.workspace, endpoint_id=endpoint_id)
    page = paginate(request, webhook_delivery_list(endpoint=endpoint))
    return render(request, "dashboard/webhook.html", {"endpoint": endpoint, "page": page})


@require_POST
@member_view()
def webhook_toggle(request: DashboardRequest, endpoint_id: str) -> HttpResponse:
    endpoint = webhook_endpoint_get_for_workspace(workspace=request.member.workspace, endpoint_id=endpoint_id)
    enable = request.POST.get("enabled") == "1"
    webhook_services.webhook_endpoint_set_enabled(endpoint=endpoint, enabled=enable)
    messages.success(request, "Endpoint enabled." if enable else "Endpoint disabled.")
    return redirect("dashboard:webhook", endpoint_id=endpoint.pk)


@require_POST
@member_view()
def webhook_delete(request: DashboardRequest, endpoint_id: str) -> HttpResponse:
    endpoint = webhook_endpoint_get_for_workspace(workspace=request.member.workspace, endpoint_id=endpoint_id)
    webhook_services.webhook_endpoint_delete(endpoint=endpoint)
    messages.success(request, f"Endpoint {endpoint.url} deleted.")
    return redirect("dashboard:webhooks")


@require_POST
@member_view()
def webhook_replay(request: DashboardRequest, endpoint_id: str, delivery_id: str) -> HttpResponse:
    endpoint = webhook_endpoint_get_for_workspace(workspace=request.member.workspace, endpoint_id=endpoint_id)
    delivery = webhook_delivery_get(endpoint=endpoint, delivery_id=delivery_id)
    webhook_services.webhook_delivery_replay(delivery=delivery)
    messages.success(request, f"Delivery {delivery.message_id} queued again.")
    return redirect("dashboard:webhook", endpoint_id=endpoint.pk)


@require_POST
@member_view()
def webhook_rotate(request: DashboardRequest, endpoint_id: str) -> HttpResponse:
    endpoint = webhook_endpoint_get_for_workspace(workspace=request.member.workspace, endpoint_id=endpoint_id)
    webhook_services.webhook_endpoint_rotate_secret(endpoint=endpoint)
    messages.success(
        request,
        "New signing secret made: every delivery from now on is signed with it. Update your receiver.",
    )
    return redirect("dashboard:webhook", endpoint_id=endpoint.pk)


@require_POST
@member_view()
def webhook_test(request: DashboardRequest, endpoint_id: str) -> HttpResponse:
    endpoint = webhook_endpoint_get_for_workspace(workspace=request.member.workspace, endpoint_id=endpoint_id)
    try:
        delivery = webhook_services.webhook_endpoint_test(endpoint=endpoint)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        delivery.refresh_from_db()
        messages.success(request, f"Test event sent ({delivery.message_id}): {delivery.status}.")
    return redirect("dashboard:webhook", endpoint_id=endpoint.pk)
