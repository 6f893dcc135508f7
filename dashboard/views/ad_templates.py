"""Ad templates: a gallery, a detail page with the version history, and the JSON spec editor (errors shown
beside the path that caused them; nothing saved on error; saving makes a new version)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render

from core.errors import ApplicationError
from dashboard.access import DashboardRequest, member_view, paginate
from dashboard.forms import TemplateCreateForm, TemplateVersionForm
from templates.models import AdTemplate, TemplateVersion
from templates.selectors import (
    template_get_for_workspace,
    template_latest_versions,
    template_list,
    template_version_get,
    template_version_list,
)
from templates.services import template_create, template_version_create

# What a new template starts from: one scene a person can read and change (docs/template-spec.md).
STARTER_SPEC: dict[str, Any] = {
    "format": {"width": 1080, "height": 1920, "fps": 30},
    "variables": {"first_name": {"type": "text", "required": True, "max_length": 32}},
    "scenes": [
        {
            "duration": 3.0,
            "background": {"color": "brand.primary"},
            "layers": [
                {"type": "logo", "box": [0.30, 0.15, 0.40, 0.20]},
                {
                    "type": "text",
                    "text": "Hi {{first_name}}!",
                    "box": [0.08, 0.45, 0.84, 0.15],
                    "color": "brand.text",
                },
            ],
        }
    ],
}


def _spec_errors(exc: ApplicationError) -> list[tuple[str, str]]:
    """(path, message) pairs, the path as the validator names it (`scenes[1].duration`)."""
    pairs = [
        (path.removeprefix("spec.") or "spec", message)
        for path, msgs in exc.fields.items()
        for message in msgs
    ]
    return pairs or [("spec", exc.message)]


def _summary(version: TemplateVersion) -> dict[str, Any]:
    spec = version.spec
    formats = spec.get("formats") or [{"name": "main", **spec.get("format", {})}]
    return {
        "scenes": len(spec.get("scenes", [])),
        "seconds": round(sum(float(s.get("duration", 0)) for s in spec.get("scenes", [])), 1),
        "formats": [f"{f.get('width')}\N{MULTIPLICATION SIGN}{f.get('height')}" for f in formats],
        "variables": sorted(version.variables),
    }


@member_view()
def templates(request: DashboardRequest) -> HttpResponse:
    page = paginate(request, template_list(workspace=request.member.workspace))
    latest = template_latest_versions(templates=list(page.object_list))
    cards = [(t, _summary(latest[t.pk]) if t.pk in latest else None) for t in page.object_list]
    return render(request, "dashboard/templates.html", {"page": page, "cards": cards})


@member_view()
def template_new(request: DashboardRequest) -> HttpResponse:
    form = TemplateCreateForm(request.POST or None, initial={"spec": STARTER_SPEC})
    spec_errors: list[tuple[str, str]] = []
    if request.method == "POST" and form.is_valid():
        try:
            version = template_create(
                workspace=request.member.workspace,
                name=form.cleaned_data["name"],
                spec=form.cleaned_data["spec"],
            )
        except ApplicationError as exc:
            spec_errors = _spec_errors(exc)
        else:
            messages.success(request, f"Template {version.template.name!r} created (version 1).")
            return redirect("dashboard:template", template_id=version.template_id)
    status = 400 if form.errors or spec_errors else 200
    context = {"form": form, "spec_errors": spec_errors, "template": None}
    return render(request, "dashboard/template_edit.html", context, status=status)


@member_view()
def template(request: DashboardRequest, template_id: str) -> HttpResponse:
    template: AdTemplate = template_get_for_workspace(
        workspace=request.member.workspace, template_id=template_id
    )
    versions = paginate(request, template_version_list(template=template))
    latest = template_version_get(template=template, version=None, field=None)
    context = {"template": template, "versions": versions, "latest": latest, "summary": _summary(latest)}
    return render(request, "dashboard/template.html", context)


@member_view()
def template_edit(request: DashboardRequest, template_id: str) -> HttpResponse:
    template = template_get_for_workspace(workspace=request.member.workspace, template_id=template_id)
    latest = template_version_get(template=template, version=None, field=None)
    form = TemplateVersionForm(request.POST or None, initial={"spec": latest.spec})
    spec_errors: list[tuple[str, str]] = []
    if request.method == "POST" and form.is_valid():
        try:
            version = template_version_create(template=template, spec=form.cleaned_data["spec"])
        except ApplicationError as exc:
            spec_errors = _spec_errors(exc)
        else:
            messages.success(request, f"Saved as version {version.version}.")
            return redirect("dashboard:template", template_id=template.pk)
    status = 400 if form.errors or spec_errors else 200
    context = {"form": form, "spec_errors": spec_errors, "template": template, "latest": latest}
    return render(request, "dashboard/template_edit.html", context, status=status)
