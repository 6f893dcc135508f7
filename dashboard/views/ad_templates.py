"""Ad templates: a gallery with posters, a detail page with the version history and the preview (a still of
every scene and format with sample values, free), "render a sample" (a real render, charged), archive and
restore, and the JSON spec editor (errors shown beside the path that caused them; nothing saved on error;
saving makes a new version)."""

from __future__ import annotations

import json
import re
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from adspec.voices import scene_seconds_max
from core.errors import ApplicationError
from core.selectors import brand_get_for_workspace, brand_list
from dashboard.access import VIEWER, DashboardRequest, member_view, paginate
from dashboard.forms import (
    PreviewForm,
    TemplateCreateForm,
    TemplateVersionForm,
    authors_split,
    errors_to_form,
)
from render.pricing import template_cost
from render.selectors import template_poster_urls
from render.services import render_request
from render.services.preview import preview_brand_get, preview_sample_values, template_preview
from templates.models import AdTemplate, TemplateVersion
from templates.selectors import (
    template_get_for_workspace,
    template_latest_versions,
    template_list,
    template_usable_check,
    template_version_get,
    template_version_list,
)
from templates.services import template_create, template_update, template_version_create
from templates.spec import spec_formats

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


_AUTHOR_PATH = re.compile(r"authors\[(\d+)\](?:\.(\w+))?")


def _save_errors(
    form: TemplateCreateForm | TemplateVersionForm, exc: ApplicationError, lines: list[int]
) -> list[tuple[str, str]]:
    """A refused save: the authors' problems on the Authors field, by the line each was typed on (`authors[1].role`
    → "Line 3 (role): ..."); the spec's beside the editor, by path."""
    if not any(path.startswith("authors") for path in exc.fields):
        return _spec_errors(exc)
    for path, found in exc.fields.items():
        match = _AUTHOR_PATH.fullmatch(path)
        if match and int(match[1]) < len(lines):
            where = f"Line {lines[int(match[1])]}" + (f" ({match[2]})" if match[2] else "")
            for message in found:
                form.add_error("authors", f"{where}: {message}")
        else:
            for message in found:
                form.add_error("authors", message)
    return []


def _summary(version: TemplateVersion) -> dict[str, Any]:
    spec = version.spec
    formats = spec.get("formats") or [{"name": "main", **spec.get("format", {})}]
    return {
        "scenes": len(spec.get("scenes", [])),
        # A spoken scene (`duration: "voice"`) counts at the longest its line can take.
        "seconds": round(
            sum(scene_seconds_max(s, spec.get("variables") or {}) for s in spec.get("scenes", [])), 1
        ),
        "formats": [f"{f.get('width')}\N{MULTIPLICATION SIGN}{f.get('height')}" for f in formats],
        "variables": sorted(version.variables),
    }


# Brands offered in the preview form: the newest ones (a workspace rarely has more).
BRAND_CHOICES = 100


@member_view()
def templates(request: DashboardRequest) -> HttpResponse:
    archived = request.GET.get("archived") == "1"
    page = paginate(request, template_list(workspace=request.member.workspace, archived=archived))
    latest = template_latest_versions(templates=list(page.object_list))
    posters = template_poster_urls(templates=list(page.object_list))
    cards = [
        (t, _summary(latest[t.pk]) if t.pk in latest else None, posters.get(t.pk)) for t in page.object_list
    ]
    context = {"page": page, "cards": cards, "archived": archived, "query": "archived=1" if archived else ""}
    return render(request, "dashboard/templates.html", context)


@member_view()
def template_new(request: DashboardRequest) -> HttpResponse:
    form = TemplateCreateForm(request.POST or None, initial={"spec": STARTER_SPEC})
    spec_errors: list[tuple[str, str]] = []
    if request.method == "POST" and form.is_valid():
        authors, lines = authors_split(form.cleaned_data["authors"])
        try:
            version = template_create(
                workspace=request.member.workspace,
                name=form.cleaned_data["name"],
                spec=form.cleaned_data["spec"],
                authors=authors,
            )
        except ApplicationError as exc:
            spec_errors = _save_errors(form, exc, lines)
        else:
            messages.success(request, f"Template {version.template.name!r} created (version 1).")
            return redirect("dashboard:template", template_id=version.template_id)
    status = 400 if form.errors or spec_errors else 200
    context = {"form": form, "spec_errors": spec_errors, "template": None}
    return render(request, "dashboard/template_edit.html", context, status=status)


def _preview_form(request: DashboardRequest, latest: TemplateVersion, data: Any = None) -> PreviewForm:
    brands = [(str(b.pk), b.name) for b in brand_list(workspace=request.member.workspace)[:BRAND_CHOICES]]
    return PreviewForm(
        data,
        variables=latest.variables,
        samples=preview_sample_values(template_version=latest),
        formats=[f["name"] for f in spec_formats(latest.spec)],
        brands=brands,
    )


def _template_page(
    request: DashboardRequest,
    template: AdTemplate,
    *,
    form: PreviewForm | None = None,
    stills: list[Any] | None = None,
    status: int = 200,
) -> HttpResponse:
    versions = paginate(request, template_version_list(template=template))
    latest = template_version_get(template=template, version=None, field=None)
    form = form or _preview_form(request, latest)
    context = {
        "template": template,
        "versions": versions,
        "latest": latest,
        # The spec as its author writes it (JSON, the editor's language), not Python's repr of it.
        "latest_spec_json": json.dumps(latest.spec, indent=2, ensure_ascii=False),
        "summary": _summary(latest),
        # Which scenes each recipient pays for (render.pricing, what the render API's estimate says).
        "cost": template_cost(spec=latest.spec),
        "preview_form": form,
        "stills": stills,
        # The stills load with the defaults as the page opens (htmx); the form's GET works without script.
        "preview_query": "" if stills is not None or form.is_bound else "?auto=1",
    }
    return render(request, "dashboard/template.html", context, status=status)


@member_view()
def template(request: DashboardRequest, template_id: str) -> HttpResponse:
    template: AdTemplate = template_get_for_workspace(
        workspace=request.member.workspace, template_id=template_id
    )
    return _template_page(request, template)


def _preview(request: DashboardRequest, template: AdTemplate, form: PreviewForm) -> list[Any] | None:
    """The stills for the form's values, or None with the problems put on the form."""
    if not form.is_valid():
        return None
    workspace = request.member.workspace
    try:
        preview = template_preview(
            template_version=template_version_get(template=template, version=None, field=None),
            brand=brand_get_for_workspace(workspace=workspace, brand_id=form.cleaned_data["brand"]),
            values=form.values(),
            format_name=form.cleaned_data["format"] or None,
        )
    except ApplicationError as exc:
        errors_to_form(form, exc, {path: f"value_{path.removeprefix('values.')}" for path in exc.fields})
        return None
    return preview.stills


@member_view(write=VIEWER)
def template_preview_view(request: DashboardRequest, template_id: str) -> HttpResponse:
    """The stills (a read: free, changes nothing but a cache, so viewers may POST the form too), as the page's
    part (htmx) or the whole page. GET with `auto` (the page opening): the defaults and the newest brand."""
    template = template_get_for_workspace(workspace=request.member.workspace, template_id=template_id)
    latest = template_version_get(template=template, version=None, field=None)
    data = request.POST if request.method == "POST" else (None if "auto" in request.GET else request.GET)
    form = _preview_form(request, latest, data)
    if data is None:  # opened with the page: the pre-filled defaults and the newest brand
        form = _preview_form(request, latest, {**form.initial, "brand": _first_choice(form)})
    stills = _preview(request, template, form)
    status = 400 if form.errors else 200
    if request.headers.get("HX-Request"):
        context = {"template": template, "preview_form": form, "stills": stills}
        return render(request, "dashboard/_template_preview.html", context, status=status)
    return _template_page(request, template, form=form, stills=stills, status=status)


def _first_choice(form: PreviewForm) -> str:
    choices = list(form.fields["brand"].choices)  # type: ignore[attr-defined]  # a ChoiceField
    return str(choices[0][0]) if choices else ""


@member_view()
def template_poster(request: DashboardRequest, template_id: str) -> HttpResponse:
    """A gallery card's picture for a template never rendered: the still of its first scene (cached)."""
    workspace = request.member.workspace
    template = template_get_for_workspace(workspace=workspace, template_id=template_id)
    latest = template_version_get(template=template, version=None, field=None)
    try:
        preview = template_preview(
            template_version=latest,
            brand=preview_brand_get(workspace=workspace),
            format_name=spec_formats(latest.spec)[0]["name"],
        )
    except ApplicationError:
        raise Http404() from None  # no brand yet: the card shows its text alone
    response = HttpResponseRedirect(preview.stills[0].url)
    response["Cache-Control"] = "private, max-age=300"
    return response


@require_POST
@member_view()
def template_sample(request: DashboardRequest, template_id: str) -> HttpResponse:
    """A real render of the latest version with the preview form's values (charged as one)."""
    workspace = request.member.workspace
    template = template_get_for_workspace(workspace=workspace, template_id=template_id)
    latest = template_version_get(template=template, version=None, field=None)
    form = _preview_form(request, latest, request.POST)
    if not form.is_valid():
        return _template_page(request, template, form=form, status=400)
    try:
        template_usable_check(template=template)
        item, _ = render_request(
            workspace=workspace,
            template_version=latest,
            brand=brand_get_for_workspace(workspace=workspace, brand_id=form.cleaned_data["brand"]),
            variables=form.values(),
        )
    except ApplicationError as exc:
        errors_to_form(form, exc, {path: f"value_{path.removeprefix('variables.')}" for path in exc.fields})
        return _template_page(request, template, form=form, status=400)
    messages.success(request, "Sample render requested: it is charged as one render.")
    return redirect("dashboard:render", render_id=item.pk)


@require_POST
@member_view()
def template_archive(request: DashboardRequest, template_id: str) -> HttpResponse:
    template = template_get_for_workspace(workspace=request.member.workspace, template_id=template_id)
    archive = request.POST.get("archived") == "1"
    template_update(template=template, archived=archive)
    if archive:
        messages.success(request, f"Template {template.name!r} archived: renders made with it keep it.")
    else:
        messages.success(request, f"Template {template.name!r} restored.")
    return redirect("dashboard:template", template_id=template.pk)


@member_view()
def template_edit(request: DashboardRequest, template_id: str) -> HttpResponse:
    template = template_get_for_workspace(workspace=request.member.workspace, template_id=template_id)
    latest = template_version_get(template=template, version=None, field=None)
    # The new version is credited to the latest one's authors unless the person changes them.
    form = TemplateVersionForm(request.POST or None, initial={"spec": latest.spec, "authors": latest.authors})
    spec_errors: list[tuple[str, str]] = []
    if request.method == "POST" and form.is_valid():
        authors, lines = authors_split(form.cleaned_data["authors"])
        try:
            version = template_version_create(
                template=template, spec=form.cleaned_data["spec"], authors=authors
            )
        except ApplicationError as exc:
            spec_errors = _save_errors(form, exc, lines)
        else:
            messages.success(request, f"Saved as version {version.version}.")
            return redirect("dashboard:template", template_id=template.pk)
    status = 400 if form.errors or spec_errors else 200
    context = {"form": form, "spec_errors": spec_errors, "template": template, "latest": latest}
    return render(request, "dashboard/template_edit.html", context, status=status)
