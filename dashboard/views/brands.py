"""Brand kit: list, create, edit, delete (refused with the reason while something live uses the brand), and
uploads with a preview (picture, font sample, audio player). A portrait, a voice, or video that shows a person
names one of the workspace's active consents (docs/trust.md); without one the service's reason is shown on the
form."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from core.apis import read_upload
from core.consent import asset_consent_problem, consent_active_list
from core.errors import ApplicationError
from core.models import Brand, BrandAsset
from core.selectors import brand_asset_get, brand_get_for_workspace, brand_list
from core.services import brand_asset_delete, brand_asset_upload, brand_create, brand_delete, brand_update
from core.storage import get_storage
from dashboard.access import DashboardRequest, member_view, paginate
from dashboard.forms import BRAND_ERROR_ALIASES, AssetUploadForm, BrandForm, errors_to_form


@member_view()
def brands(request: DashboardRequest) -> HttpResponse:
    page = paginate(request, brand_list(workspace=request.member.workspace))
    return render(request, "dashboard/brands.html", {"page": page})


@member_view()
def brand_new(request: DashboardRequest) -> HttpResponse:
    form = BrandForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            brand = brand_create(
                workspace=request.member.workspace, name=form.cleaned_data["name"], colors=form.colors()
            )
        except ApplicationError as exc:
            errors_to_form(form, exc, BRAND_ERROR_ALIASES)
        else:
            messages.success(request, f"Brand {brand.name!r} created. Add its logo, fonts and music below.")
            return redirect("dashboard:brand", brand_id=brand.pk)
    status = 400 if form.errors else 200
    return render(request, "dashboard/brand_form.html", {"form": form, "brand": None}, status=status)


def _current_assets(brand: Brand) -> list[tuple[str, BrandAsset | None, str | None, str | None]]:
    """(kind, its current asset, a browser URL for the preview, why its likeness may not be used now), one
    query for all kinds (a consent's brands: one more, only when a likeness names a consent)."""
    current: dict[str, BrandAsset] = {}
    for asset in brand.assets.select_related("consent").order_by("created_at"):
        current[asset.kind] = asset
    storage = get_storage()
    out: list[tuple[str, BrandAsset | None, str | None, str | None]] = []
    for kind in BrandAsset.Kind.values:
        found = current.get(kind)
        url = storage.url(found.storage_key) if found else None
        out.append((kind, found, url, asset_consent_problem(found) if found else None))
    return out


def _consent_choices(brand: Brand) -> list[tuple[str, str]]:
    """The workspace's active consents, as the upload form offers them ("Dana Presenter (portrait, voice)")."""
    return [
        (str(c.pk), f"{c.person_name} ({', '.join(c.uses)})")
        for c in consent_active_list(workspace=brand.workspace)
    ]


def _upload_form(brand: Brand, *args: Any) -> AssetUploadForm:
    return AssetUploadForm(*args, consents=_consent_choices(brand))


def _brand_page(
    request: DashboardRequest, brand: Brand, form: BrandForm, upload: AssetUploadForm
) -> HttpResponse:
    status = 400 if form.errors or upload.errors else 200
    context = {"brand": brand, "form": form, "upload": upload, "assets": _current_assets(brand)}
    return render(request, "dashboard/brand_form.html", context, status=status)


@member_view()
def brand(request: DashboardRequest, brand_id: str) -> HttpResponse:
    brand = brand_get_for_workspace(workspace=request.member.workspace, brand_id=brand_id)
    initial = {"name": brand.name, **{f"color_{k}": v for k, v in brand.colors.items()}}
    form = BrandForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            brand_update(brand=brand, name=form.cleaned_data["name"], colors=form.colors())
        except ApplicationError as exc:
            errors_to_form(form, exc, BRAND_ERROR_ALIASES)
        else:
            messages.success(request, "Brand saved.")
            return redirect("dashboard:brand", brand_id=brand.pk)
    return _brand_page(request, brand, form, _upload_form(brand))


@require_POST
@member_view()
def brand_asset(request: DashboardRequest, brand_id: str) -> HttpResponse:
    brand = brand_get_for_workspace(workspace=request.member.workspace, brand_id=brand_id)
    upload = _upload_form(brand, request.POST, request.FILES)
    if upload.is_valid():
        file = upload.cleaned_data["file"]
        try:
            brand_asset_upload(
                brand=brand,
                kind=upload.cleaned_data["kind"],
                data=read_upload(file),
                original_name=file.name or "",
                shows_person=upload.cleaned_data["shows_person"],
                consent_id=upload.cleaned_data["consent"] or None,
            )
        except ApplicationError as exc:
            errors_to_form(upload, exc)
        else:
            messages.success(request, f"{upload.cleaned_data['kind'].capitalize()} uploaded.")
            return redirect("dashboard:brand", brand_id=brand.pk)
    initial = {"name": brand.name, **{f"color_{k}": v for k, v in brand.colors.items()}}
    return _brand_page(request, brand, BrandForm(initial=initial), upload)


@require_POST
@member_view()
def brand_remove(request: DashboardRequest, brand_id: str) -> HttpResponse:
    brand = brand_get_for_workspace(workspace=request.member.workspace, brand_id=brand_id)
    try:
        brand_delete(brand=brand)
    except ApplicationError as exc:
        messages.error(request, f"Brand {brand.name!r} was not deleted: {exc.message}")
        return redirect("dashboard:brand", brand_id=brand.pk)
    messages.success(request, f"Brand {brand.name!r} deleted.")
    return redirect("dashboard:brands")


@require_POST
@member_view()
def brand_asset_remove(request: DashboardRequest, brand_id: str, asset_id: str) -> HttpResponse:
    brand = brand_get_for_workspace(workspace=request.member.workspace, brand_id=brand_id)
    asset = brand_asset_get(brand=brand, asset_id=asset_id)
    brand_asset_delete(asset=asset)
    messages.success(request, f"{asset.kind.capitalize()} {asset.original_name!r} removed.")
    return redirect("dashboard:brand", brand_id=brand.pk)
