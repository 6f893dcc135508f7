"""Consents for likeness (docs/trust.md): the list with each consent's status and evidence, the form that records
one (core.consent.consent_create, as `POST /api/v1/consents/`), and revoking (core.consent.consent_revoke, as
`POST /api/v1/consents/{id}/revoke/`: what still renders with the likeness is canceled and what was made with it
erased). Editors and owners, as the API: consents name people and hold signed documents."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from core.apis import read_upload
from core.consent import (
    consent_create,
    consent_evidence_url,
    consent_get_for_workspace,
    consent_holds,
    consent_list,
    consent_revoke,
)
from core.errors import ApplicationError
from core.models import Consent
from core.selectors import brand_list
from dashboard.access import EDITOR, DashboardRequest, member_view, paginate
from dashboard.forms import ConsentForm, ConsentRevokeForm, errors_to_form

# Brands offered on the form: the newest ones (a workspace rarely has more).
BRAND_CHOICES = 100


def consent_status(consent: Consent) -> str:
    """`active`, `revoked` or `expired`, as the API's `status`."""
    if consent.revoked_at is not None:
        return "revoked"
    return "active" if consent_holds(consent) else "expired"


def _row(consent: Consent) -> dict[str, Any]:
    return {
        "consent": consent,
        "status": consent_status(consent),
        # A short-lived link (signed in embedded mode, presigned on S3): made per page view.
        "evidence_url": consent_evidence_url(consent=consent),
    }


def _consents_page(request: DashboardRequest, form: ConsentForm) -> HttpResponse:
    page = paginate(request, consent_list(workspace=request.member.workspace))
    context = {"form": form, "page": page, "rows": [_row(consent) for consent in page]}
    return render(request, "dashboard/consents.html", context, status=400 if form.errors else 200)


@member_view(read=EDITOR, write=EDITOR)
def consents(request: DashboardRequest) -> HttpResponse:
    member = request.member
    brands = [(str(b.pk), b.name) for b in brand_list(workspace=member.workspace)[:BRAND_CHOICES]]
    form = ConsentForm(
        request.POST or None, request.FILES or None, brands=brands, initial={"collected_by": member.email}
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        evidence = data["evidence"]
        try:
            consent = consent_create(
                workspace=member.workspace,
                person_name=data["person_name"],
                brand_ids=data["brands"],
                uses=data["uses"],
                valid_until=data["valid_until"],
                evidence=read_upload(evidence),
                evidence_name=evidence.name or "",
                collected_by=data["collected_by"] or member.actor,  # as the API: whoever records it
            )
        except ApplicationError as exc:
            # `brands[2]` (the third brand ticked) → the brands checkboxes.
            errors_to_form(form, exc, {path: "brands" for path in exc.fields if path.startswith("brands[")})
        else:
            messages.success(request, f"Consent of {consent.person_name!r} recorded.")
            return redirect("dashboard:consents")
    return _consents_page(request, form)


@require_POST
@member_view(read=EDITOR, write=EDITOR)
def consent_revoke_view(request: DashboardRequest, consent_id: str) -> HttpResponse:
    """Revoke: htmx swaps the consent's row for its new state; without script the page comes back with a
    message. Renders still in progress with its likeness are canceled, what was made with it is erased."""
    consent = consent_get_for_workspace(workspace=request.member.workspace, consent_id=consent_id)
    form = ConsentRevokeForm(request.POST)
    problem = None
    if not form.is_valid():
        problem = " ".join(str(message) for message in form.errors.get("reason", []))
    else:
        try:
            consent = consent_revoke(consent=consent, reason=form.cleaned_data["reason"])
        except ApplicationError as exc:
            problem = exc.message
    if request.headers.get("HX-Request"):
        consent = consent_get_for_workspace(workspace=request.member.workspace, consent_id=consent.pk)
        context = {"row": _row(consent), "problem": problem, "revoked_now": problem is None}
        return render(request, "dashboard/_consent_row.html", context)
    if problem:
        messages.error(request, f"The consent of {consent.person_name!r} was not revoked: {problem}")
    else:
        messages.success(
            request,
            f"Consent of {consent.person_name!r} revoked: renders in progress with their likeness are "
            "canceled and the videos made with it deleted.",
        )
    return redirect("dashboard:consents")
