"""CRM integrations: list, create (the inbound URL and the signing secret shown once, on the answer to the
create), delete. The API does the same (`/api/v1/integrations/`)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from campaigns import crm
from campaigns.selectors import integration_get_for_workspace, integration_list
from core.errors import ApplicationError, NotFoundError
from core.selectors import brand_get_for_workspace, brand_list
from dashboard.access import DashboardRequest, member_view, paginate
from dashboard.forms import IntegrationCreateForm, errors_to_form
from templates.selectors import template_get_for_workspace, template_list, template_usable_check

# Choices offered in the create form: the newest templates and brands (as the campaign form).
CHOICES_LIMIT = 200


def _form(request: DashboardRequest, data: object = None) -> IntegrationCreateForm:
    workspace = request.member.workspace
    return IntegrationCreateForm(
        data,
        templates=[(str(t.pk), t.name) for t in template_list(workspace=workspace)[:CHOICES_LIMIT]],
        brands=[(str(b.pk), b.name) for b in brand_list(workspace=workspace)[:CHOICES_LIMIT]],
    )


@member_view()
def integrations(request: DashboardRequest) -> HttpResponse:
    workspace = request.member.workspace
    form = _form(request, request.POST or None)
    created = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            template = template_get_for_workspace(workspace=workspace, template_id=data["template"])
            template_usable_check(template=template)
            integration = crm.integration_create(
                workspace=workspace,
                kind=data["kind"],
                template=template,
                version=None,
                brand=brand_get_for_workspace(workspace=workspace, brand_id=data["brand"]),
                field_map=data["field_map"],
                name=data["name"],
                callback_url=data["callback_url"],
            )
        except NotFoundError:
            form.add_error(None, "That template or brand no longer exists.")
        except ApplicationError as exc:
            aliases = {path: "field_map" for path in exc.fields if path.startswith("field_map.")}
            errors_to_form(form, exc, aliases)
        else:
            created = {
                "name": integration.name or integration.get_kind_display(),
                "url": crm.inbound_url(integration),
                "secret": integration.secret,
            }
            form = _form(request)
    page = paginate(request, integration_list(workspace=workspace).select_related("template", "brand"))
    rows = [(i, crm.inbound_url(i)) for i in page.object_list]
    context = {"page": page, "rows": rows, "form": form, "created": created}
    response = render(request, "dashboard/integrations.html", context, status=400 if form.errors else 200)
    if created:
        response["Cache-Control"] = "no-store"  # the secret must not stay in a cache
    return response


@require_POST
@member_view()
def integration_delete(request: DashboardRequest, integration_id: str) -> HttpResponse:
    integration = integration_get_for_workspace(
        workspace=request.member.workspace, integration_id=integration_id
    )
    crm.integration_delete(integration=integration)
    messages.success(request, f"Integration {integration.name or integration.get_kind_display()!r} deleted.")
    return redirect("dashboard:integrations")
