"""The audit log (owners, as `GET /api/v1/audit/`; docs/trust.md): the workspace's entries newest first, filtered
by a GET form, the same filters' CSV (core.audit's generator, streamed), and the chain checked on request.

Checking the chain reads every entry of the workspace (`core.audit.audit_chain_verify`, what `manage.py
audit_verify` runs for each chain), so it is a button (a POST, htmx where there is script) and never part of an
ordinary page view."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.http import HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from core.audit import audit_chain_verify, audit_csv, audit_list
from core.models import AuditEntry
from core.selectors import member_list
from dashboard.access import OWNER, DashboardRequest, member_view, paginate
from dashboard.forms import AuditFilterForm

# How much of an entry's address hash the list shows: enough to tell addresses apart at a glance (the CSV
# and the API carry all 64 hex digits).
IP_HASH_SHOWN = 8
# Members offered as "who" suggestions: a workspace's people (anything else can be typed).
ACTOR_SUGGESTIONS = 100


def _filter_form(request: DashboardRequest) -> AuditFilterForm:
    people = member_list(workspace=request.member.workspace).values_list("user__username", flat=True)
    actors = [f"user:{name}" for name in people[:ACTOR_SUGGESTIONS]] + ["system"]
    return AuditFilterForm(request.GET or None, actors=actors)


def _json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)


def _row(entry: AuditEntry) -> dict[str, Any]:
    """An entry as the list shows it: its changes as JSON inside a <details>, the address hash's prefix."""
    keys = sorted({*(entry.before or {}), *(entry.after or {})})
    return {
        "entry": entry,
        "ip": entry.ip_hash[:IP_HASH_SHOWN],
        "changed": keys,
        "before": None if entry.before is None else _json(entry.before),
        "after": None if entry.after is None else _json(entry.after),
    }


def _audit_page(request: DashboardRequest, filters: AuditFilterForm) -> HttpResponse:
    query = request.GET.copy()
    query.pop("page", None)
    context: dict[str, Any] = {"filters": filters, "query": query.urlencode()}
    if filters.is_bound and not filters.is_valid():
        context["page"] = None
        return render(request, "dashboard/audit.html", context, status=400)
    data = filters.filters() if filters.is_bound else {}
    page = paginate(request, audit_list(workspace=request.member.workspace, **data))
    context["page"] = page
    context["rows"] = [_row(entry) for entry in page]
    return render(request, "dashboard/audit.html", context)


@member_view(read=OWNER, write=OWNER)
def audit(request: DashboardRequest) -> HttpResponse:
    return _audit_page(request, _filter_form(request))


@member_view(read=OWNER, write=OWNER)
def audit_csv_view(request: DashboardRequest) -> HttpResponseBase:
    """The filtered entries as CSV, streamed a page of entries at a time (the API's audit.csv, same columns)."""
    filters = _filter_form(request)
    if filters.is_bound and not filters.is_valid():
        return _audit_page(request, filters)
    data = filters.filters() if filters.is_bound else {}
    entries = audit_list(workspace=request.member.workspace, **data)
    response = StreamingHttpResponse(audit_csv(entries), content_type="text/csv")
    response["Content-Disposition"] = 'attachment; filename="audit.csv"'
    return response


def _chain_status(request: DashboardRequest) -> dict[str, Any]:
    """The workspace's chain walked: {"ok", "line"}, the line naming the first entry that does not hold."""
    count, broken = audit_chain_verify(str(request.member.workspace.pk))
    if broken is None:
        return {"ok": True, "line": f"Chain verified: {count} entr{'y' if count == 1 else 'ies'}."}
    if broken.entry_id is None:
        where = "its end"
    else:
        seq = AuditEntry.objects.filter(pk=broken.entry_id).values_list("seq", flat=True).first()
        where = f"entry {seq} (id {broken.entry_id})"
    return {
        "ok": False,
        "line": f"Chain broken at {where}: {broken.reason}. The {count} entries before it hold.",
    }


@require_POST
@member_view(read=OWNER, write=OWNER)
def audit_verify_view(request: DashboardRequest) -> HttpResponse:
    """Walk the workspace's chain: htmx swaps in the result line; without script the page comes back with it
    as a message."""
    chain = _chain_status(request)
    if request.headers.get("HX-Request"):
        return render(request, "dashboard/_audit_chain.html", {"chain": chain})
    (messages.success if chain["ok"] else messages.error)(request, chain["line"])
    return redirect("dashboard:audit")
