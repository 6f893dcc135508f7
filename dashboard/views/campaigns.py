"""Campaigns: list with progress, create, recipients by CSV with the per-row report, samples with players,
approve or request changes, launch, live progress (htmx polling, no reload), results, pause/resume/cancel."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from django.contrib import messages
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from campaigns import erasure, recipients, selectors, services
from campaigns.csv_import import (
    IGNORE,
    UNKNOWN_COLUMN,
    csv_layout,
    csv_mapping_guess,
    csv_rejected_rows,
    csv_targets,
    csv_upload_discard,
    csv_upload_open,
    csv_upload_stash,
)
from campaigns.models import Campaign
from campaigns.zip_import import zip_is
from core.errors import ApplicationError, NotFoundError
from core.selectors import brand_get_for_workspace, brand_list
from dashboard.access import DashboardRequest, member_view, paginate
from dashboard.cron_words import schedule_in_words
from dashboard.forms import (
    CAMPAIGN_ERROR_ALIASES,
    CampaignCreateForm,
    RecipientsMappingForm,
    RecipientsUploadForm,
    RequestChangesForm,
    SamplesForm,
    errors_to_form,
)
from render.models import RenderStatus
from render.selectors import render_list, render_urls
from templates.selectors import (
    template_get_for_workspace,
    template_list,
    template_usable_check,
    template_version_get,
)

Status = Campaign.Status
# The page polls its live part while renders are on their way, and stops once a person has to act.
POLLING = (Status.SAMPLING, Status.APPROVED, Status.RUNNING)
REVIEW = (Status.DRAFT, Status.SAMPLING, Status.AWAITING_APPROVAL)
# Choices offered in the create form: the newest templates and brands (a workspace rarely has more).
CHOICES_LIMIT = 200
FAILURES_SHOWN = 5


@member_view()
def campaigns(request: DashboardRequest) -> HttpResponse:
    page = paginate(
        request,
        selectors.campaign_list(workspace=request.member.workspace).select_related(
            "template_version__template", "brand"
        ),
    )
    counts = selectors.campaign_counts_many(campaigns=list(page.object_list))
    rows = [(c, counts[c.pk]) for c in page.object_list]
    return render(request, "dashboard/campaigns.html", {"page": page, "rows": rows})


@member_view()
def campaign_new(request: DashboardRequest) -> HttpResponse:
    workspace = request.member.workspace
    form = CampaignCreateForm(
        request.POST or None,
        templates=[(str(t.pk), t.name) for t in template_list(workspace=workspace)[:CHOICES_LIMIT]],
        brands=[(str(b.pk), b.name) for b in brand_list(workspace=workspace)[:CHOICES_LIMIT]],
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            template = template_get_for_workspace(workspace=workspace, template_id=data["template"])
            template_usable_check(template=template)
            campaign = services.campaign_create(
                workspace=workspace,
                name=data["name"],
                template_version=template_version_get(template=template, version=data["version"]),
                brand=brand_get_for_workspace(workspace=workspace, brand_id=data["brand"]),
                schedule_cron=data["schedule_cron"].strip(),
                schedule_timezone=data["schedule_timezone"].strip(),
            )
        except NotFoundError:
            form.add_error(None, "That template or brand no longer exists.")
        except ApplicationError as exc:
            errors_to_form(form, exc, CAMPAIGN_ERROR_ALIASES)
        else:
            messages.success(request, f"Campaign {campaign.name!r} created. Upload its recipients next.")
            return redirect("dashboard:campaign", campaign_id=campaign.pk)
    return render(request, "dashboard/campaign_new.html", {"form": form}, status=400 if form.errors else 200)


def _live_context(request: DashboardRequest, campaign: Campaign) -> dict[str, Any]:
    """The part of the page that changes while renders run (polled by htmx)."""
    progress = selectors.campaign_progress(campaign=campaign)
    counts = progress["counts"]
    finished = counts["succeeded"] + counts["failed"] + counts["canceled"]
    samples = []
    if campaign.status in REVIEW:
        samples = [(r, render_urls(r)) for r in selectors.campaign_sample_renders(campaign=campaign)]
    failures = render_list(
        workspace=campaign.workspace, status=RenderStatus.FAILED, groups={"campaign": campaign.pk}
    )
    return {
        "campaign": campaign,
        "progress": progress,
        "finished": finished,
        "percent": round(100 * finished / counts["total"]) if counts["total"] else 0,
        "samples": samples,
        "failures": list(failures[:FAILURES_SHOWN]),
        "polling": campaign.status in POLLING,
        "changes_form": RequestChangesForm(),
        "samples_form": SamplesForm(),
    }


# The funnel's steps, in order, as the campaign page names them (selectors.campaign_analytics' funnel keys).
FUNNEL_STEPS = (
    ("sent", "Sent (watch link ready)"),
    ("viewed", "Viewed"),
    ("played", "Played"),
    ("completed", "Watched to the end"),
    ("clicked", "Clicked the button"),
)


def _engagement_context(campaign: Campaign) -> dict[str, Any]:
    """The funnel chart (recipients at each step, as a share of those sent) and the totals beside it."""
    analytics = selectors.campaign_analytics(campaign=campaign)
    sent = analytics["funnel"]["sent"]
    steps = [
        {
            "label": label,
            "count": analytics["funnel"][key],
            "percent": round(100 * analytics["funnel"][key] / sent) if sent else 0,
        }
        for key, label in FUNNEL_STEPS
    ]
    return {"analytics": analytics, "funnel": steps}


def _campaign_page(
    request: DashboardRequest,
    campaign: Campaign,
    *,
    upload: RecipientsUploadForm | None = None,
    report: recipients.ImportReport | None = None,
    mapping: RecipientsMappingForm | None = None,
    status: int = 200,
) -> HttpResponse:
    search = request.GET.get("q", "").strip()[:200]
    page = paginate(request, selectors.recipient_list(campaign=campaign, search=search))
    recipients = list(page.object_list)
    renders = selectors.recipient_renders(campaign=campaign, recipients=recipients)
    results = [
        (r, renders.get(r.pk), render_urls(renders[r.pk]) if r.pk in renders else {}) for r in recipients
    ]
    rejected = [
        (item["row"], path.split(".", 1)[1] if "." in path else "row", message)
        for item in (report.rejected if report else [])
        for path, msgs in item["fields"].items()
        for message in msgs
    ]
    rejected_csv = ""
    if report and report.rejected and report.columns:
        # The rejected rows to fix and upload again, as a link holding the file itself (no server state);
        # the BOM makes spreadsheet programs read it as UTF-8.
        text = "\ufeff" + csv_rejected_rows(header=report.columns, rejected=report.rejected)
        rejected_csv = "data:text/csv;charset=utf-8," + quote(text)
    schedule = ""
    if campaign.schedule_cron:
        schedule = schedule_in_words(
            cron=campaign.schedule_cron, timezone=campaign.schedule_timezone, now=timezone.now()
        )
    context = {
        **_live_context(request, campaign),
        "upload": upload or RecipientsUploadForm(),
        "mapping": mapping,
        "report": report,
        "rejected": rejected,
        "rejected_csv": rejected_csv,
        "schedule": schedule,
        **_engagement_context(campaign),
        "page": page,
        "results": results,
        "search": search,
        "query": urlencode({"q": search}) if search else "",
    }
    return render(request, "dashboard/campaign.html", context, status=status)


@member_view()
def campaign(request: DashboardRequest, campaign_id: str) -> HttpResponse:
    item = selectors.campaign_get_for_workspace(workspace=request.member.workspace, campaign_id=campaign_id)
    return _campaign_page(request, item)


@member_view()
def campaign_live(request: DashboardRequest, campaign_id: str) -> HttpResponse:
    item = selectors.campaign_get_for_workspace(workspace=request.member.workspace, campaign_id=campaign_id)
    return render(request, "dashboard/_campaign_live.html", _live_context(request, item))


def _mapping_form(
    campaign: Campaign, token: str, header: list[str], samples: list[list[str]], data: Any = None
) -> RecipientsMappingForm:
    declared = campaign.template_version.variables
    guess = csv_mapping_guess(header, declared)
    form = RecipientsMappingForm(
        data,
        header=header,
        targets=csv_targets(declared),
        samples=samples,
        initial={
            "upload": token,
            **{f"column_{i}": guess.get(name) or IGNORE for i, name in enumerate(header)},
        },
    )
    form.unknown = {
        f"column_{i}": UNKNOWN_COLUMN.format(columns=", ".join(sorted(csv_targets(declared))))
        for i, name in enumerate(header)
        if guess.get(name) is None
    }
    return form


@require_POST
@member_view()
def campaign_recipients(request: DashboardRequest, campaign_id: str) -> HttpResponse:
    """Step 1: the file. Columns that all name their targets exactly are imported at once; otherwise the
    upload waits in storage and the column-mapping step is shown (400 when a column matched nothing)."""
    item = selectors.campaign_get_for_workspace(workspace=request.member.workspace, campaign_id=campaign_id)
    upload = RecipientsUploadForm(request.POST, request.FILES)
    if not upload.is_valid():
        return _campaign_page(request, item, upload=upload, status=400)
    file = upload.cleaned_data["file"]
    try:
        if zip_is(file.file):  # a CSV with its pictures: imported at once, its columns matched by name
            report = recipients.recipients_import(campaign=item, file=file.file)
            item.refresh_from_db()
            return _campaign_page(request, item, report=report)
        layout = csv_layout(file.file)
        guess = csv_mapping_guess(layout.header, item.template_version.variables)
        if all(guess.get(name) == name for name in layout.header):
            report = recipients.recipients_import(campaign=item, file=file.file)
            item.refresh_from_db()
            return _campaign_page(request, item, report=report)
        token = csv_upload_stash(campaign=item, file=file.file)
    except ApplicationError as exc:
        errors_to_form(upload, exc, dict.fromkeys(exc.fields, "file"))
        return _campaign_page(request, item, upload=upload, status=400)
    mapping = _mapping_form(item, token, layout.header, layout.samples)
    return _campaign_page(request, item, mapping=mapping, status=400 if mapping.unknown else 200)


@require_POST
@member_view()
def campaign_recipients_map(request: DashboardRequest, campaign_id: str) -> HttpResponse:
    """Step 2: the person's mapping, then the import of the stashed upload and its per-row report."""
    item = selectors.campaign_get_for_workspace(workspace=request.member.workspace, campaign_id=campaign_id)
    token = request.POST.get("upload", "")
    try:
        with csv_upload_open(campaign=item, token=token) as file:
            layout = csv_layout(file)
            form = _mapping_form(item, token, layout.header, layout.samples, request.POST)
            if not form.is_valid():
                return _campaign_page(request, item, mapping=form, status=400)
            try:
                report = recipients.recipients_import(
                    campaign=item, file=file, mapping=form.mapping(layout.header)
                )
            except ApplicationError as exc:
                names = {name: f"column_{i}" for i, name in enumerate(layout.header)}
                errors_to_form(form, exc, {p: names.get(p.split(".", 1)[-1], p) for p in exc.fields})
                return _campaign_page(request, item, mapping=form, status=400)
    except ApplicationError as exc:  # the upload is gone (or was never ours): start again
        messages.error(request, exc.message)
        return _campaign_page(request, item, status=400)
    csv_upload_discard(campaign=item, token=token)
    item.refresh_from_db()
    return _campaign_page(request, item, report=report)


def _action(request: DashboardRequest, campaign_id: str, act: Any, done: str) -> HttpResponse:
    item = selectors.campaign_get_for_workspace(workspace=request.member.workspace, campaign_id=campaign_id)
    try:
        act(item)
    except ApplicationError as exc:
        messages.error(
            request,
            " ".join([exc.message, *(m for msgs in exc.fields.values() for m in msgs if m != exc.message)]),
        )
    else:
        messages.success(request, done)
    return redirect("dashboard:campaign", campaign_id=item.pk)


@require_POST
@member_view()
def campaign_samples(request: DashboardRequest, campaign_id: str) -> HttpResponse:
    form = SamplesForm(request.POST)
    count = form.cleaned_data["count"] if form.is_valid() else SamplesForm.base_fields["count"].initial
    return _action(
        request,
        campaign_id,
        lambda c: services.campaign_samples(campaign=c, count=count),
        "Samples requested.",
    )


@require_POST
@member_view()
def campaign_approve(request: DashboardRequest, campaign_id: str) -> HttpResponse:
    actor = request.member.actor
    return _action(
        request, campaign_id, lambda c: services.campaign_approve(campaign=c, actor=actor), "Approved."
    )


@require_POST
@member_view()
def campaign_request_changes(request: DashboardRequest, campaign_id: str) -> HttpResponse:
    comment = request.POST.get("comment", "")
    actor = request.member.actor
    return _action(
        request,
        campaign_id,
        lambda c: services.campaign_request_changes(campaign=c, actor=actor, comment=comment),
        "Changes requested; the campaign is back in draft.",
    )


@require_POST
@member_view()
def campaign_launch(request: DashboardRequest, campaign_id: str) -> HttpResponse:
    return _action(request, campaign_id, lambda c: services.campaign_launch(campaign=c), "Launched.")


@require_POST
@member_view()
def campaign_pause(request: DashboardRequest, campaign_id: str) -> HttpResponse:
    return _action(request, campaign_id, lambda c: services.campaign_pause(campaign=c), "Paused.")


@require_POST
@member_view()
def campaign_resume(request: DashboardRequest, campaign_id: str) -> HttpResponse:
    return _action(request, campaign_id, lambda c: services.campaign_resume(campaign=c), "Resumed.")


@require_POST
@member_view()
def campaign_cancel(request: DashboardRequest, campaign_id: str) -> HttpResponse:
    return _action(request, campaign_id, lambda c: services.campaign_cancel(campaign=c), "Canceled.")


@require_POST
@member_view()
def campaign_recipient_erase(request: DashboardRequest, campaign_id: str, recipient_id: str) -> HttpResponse:
    """Erase a recipient at their request (campaigns.erasure, the API's DELETE): htmx swaps their row for a
    note; without JavaScript the page comes back with a message."""
    item = selectors.campaign_get_for_workspace(workspace=request.member.workspace, campaign_id=campaign_id)
    recipient = selectors.recipient_get_for_campaign(campaign=item, recipient_id=recipient_id)
    position = recipient.position
    erasure.recipient_erase_request(recipient=recipient)
    if request.headers.get("HX-Request"):
        return render(request, "dashboard/_recipient_erased.html", {"position": position})
    messages.success(request, f"Recipient {position} erased.")
    return redirect("dashboard:campaign", campaign_id=item.pk)


@member_view()
def campaign_results_csv(request: DashboardRequest, campaign_id: str) -> StreamingHttpResponse:
    item = selectors.campaign_get_for_workspace(workspace=request.member.workspace, campaign_id=campaign_id)
    response = StreamingHttpResponse(selectors.campaign_results_csv(campaign=item), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="campaign-{item.pk}-results.csv"'
    return response
