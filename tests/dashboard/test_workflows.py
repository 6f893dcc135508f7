"""The dashboard's second part through Django's test client: the template preview, render a sample, archive;
the CSV column-mapping step; schedules in words; webhook secret rotation and test events; CRM integrations;
the billing usage chart; a render's stages and C2PA status; removing a brand asset."""

from __future__ import annotations

import io
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
from django.test import Client
from django.utils import timezone
from PIL import Image

from campaigns.models import Campaign, Integration, Recipient, WebhookDelivery, WebhookEndpoint
from campaigns.services import campaign_create
from campaigns.webhooks import webhook_endpoint_create, webhook_endpoint_set_enabled
from core.billing.models import BillingAccount, Reservation
from core.models import Brand, BrandAsset, Workspace
from core.services import brand_asset_upload, brand_create
from dashboard.cron_words import cron_in_words, schedule_in_words
from render.models import Generation, Render, RenderGeneration
from templates.models import AdTemplate, TemplateVersion
from templates.services import template_create
from tests.factories import small_spec

pytestmark = pytest.mark.django_db

COLORS = {"primary": "#1F3A93", "secondary": "#FF7A00", "text": "#FFFFFF"}
OUTPUT = {
    "format": "180x320",
    "width": 180,
    "height": 320,
    "duration": 2.0,
    "video_key": "renders/x/video.mp4",
}


def _template(workspace: Workspace, name: str = "T") -> TemplateVersion:
    return template_create(workspace=workspace, name=name, spec=small_spec())


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 32), (200, 10, 10)).save(buffer, format="PNG")
    return buffer.getvalue()


# --- templates ------------------------------------------------------------------------------------------------


def test_the_preview_shows_a_still_per_scene_for_every_role_and_charges_nothing(
    workspace: Workspace, viewer: Client, editor: Client
) -> None:
    brand_create(workspace=workspace, name="B", colors=COLORS)
    template = _template(workspace).template
    page = viewer.get(f"/templates/{template.pk}/").content.decode()
    assert f'hx-get="/templates/{template.pk}/preview/?auto=1"' in page
    assert 'value="First Name"' in page  # a required variable's sample; defaults pre-filled
    assert 'value="your team"' in page
    part = viewer.get(f"/templates/{template.pk}/preview/?auto=1", HTTP_HX_REQUEST="true")
    assert part.status_code == 200
    stills = re.findall(r'<img src="([^"]+)" alt="(Scene \d in [^"]+)"', part.content.decode())
    assert [alt for _, alt in stills] == [
        "Scene 1 in 180x320 (background not generated yet)",
        "Scene 2 in 180x320",
    ]
    assert "Render a sample" not in part.content.decode()  # viewers preview, editors render
    typed = editor.post(
        f"/templates/{template.pk}/preview/",
        {
            "value_first_name": "Zoë",
            "value_company": "Acme",
            "format": "",
            "brand": str(Brand.objects.get().pk),
        },
        HTTP_HX_REQUEST="true",
    )
    assert typed.status_code == 200
    assert "Render a sample" in typed.content.decode()
    assert not Generation.objects.exists()
    assert not Render.objects.exists()


def test_a_bad_sample_value_comes_back_beside_its_field(workspace: Workspace, editor: Client) -> None:
    brand = brand_create(workspace=workspace, name="B", colors=COLORS)
    template = _template(workspace).template
    response = editor.post(
        f"/templates/{template.pk}/preview/",
        {"value_first_name": "a\x01b", "brand": str(brand.pk)},
    )
    assert response.status_code == 400
    assert 'id="id_value_first_name_error">Must not contain control characters' in response.content.decode()


def test_render_a_sample_makes_a_real_render_and_opens_its_page(workspace: Workspace, editor: Client) -> None:
    brand = brand_create(workspace=workspace, name="B", colors=COLORS)
    template = _template(workspace).template
    response = editor.post(
        f"/templates/{template.pk}/sample/", {"value_first_name": "Ann", "brand": str(brand.pk)}
    )
    render = Render.objects.get()
    assert response["Location"] == f"/renders/{render.pk}/"
    assert render.variables["first_name"] == "Ann"
    assert render.template_version.template_id == template.pk


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("run_tasks_inline")
def test_a_finished_render_page_links_its_watch_page_and_counts(workspace: Workspace, editor: Client) -> None:
    brand = brand_create(workspace=workspace, name="B", colors=COLORS)
    template = _template(workspace).template
    editor.post(f"/templates/{template.pk}/sample/", {"value_first_name": "Ann", "brand": str(brand.pk)})
    render = Render.objects.get()
    assert render.status == "succeeded", render.error
    page = editor.get(f"/renders/{render.pk}/").content.decode()
    link = re.search(r'id="watch-link">([^<]+)<', page)
    assert link is not None
    assert "/w/" in link.group(1)
    assert "0 views, 0 plays, 0 watched to the end, 0 clicks" in page
    watch = editor.get(urlsplit(link.group(1)).path)
    assert watch.status_code == 200
    assert 'property="og:image"' in watch.content.decode()  # the page recipients get, no sign-in needed


def test_the_poster_of_a_template_never_rendered_is_its_first_still(
    workspace: Workspace, viewer: Client
) -> None:
    template = _template(workspace).template
    assert viewer.get(f"/templates/{template.pk}/poster").status_code == 404  # no brand to draw with
    brand_create(workspace=workspace, name="B", colors=COLORS)
    poster = viewer.get(f"/templates/{template.pk}/poster")
    assert poster.status_code == 302
    assert "-scene0.png" in poster["Location"]
    gallery = viewer.get("/templates/").content.decode()
    assert f'src="/templates/{template.pk}/poster"' in gallery


def test_archived_templates_leave_the_gallery_and_new_campaigns_until_restored(
    workspace: Workspace, editor: Client
) -> None:
    brand_create(workspace=workspace, name="B", colors=COLORS)
    template = _template(workspace, "Old").template
    assert editor.post(f"/templates/{template.pk}/archive/", {"archived": "1"}).status_code == 302
    assert AdTemplate.objects.get().archived_at is not None
    assert ">Old<" not in editor.get("/templates/").content.decode()
    assert ">Old<" in editor.get("/templates/?archived=1").content.decode()
    assert ">Old<" not in editor.get("/campaigns/new/").content.decode()
    assert "archived" in editor.get(f"/templates/{template.pk}/").content.decode()
    editor.post(f"/templates/{template.pk}/archive/", {"archived": "0"})
    assert ">Old<" in editor.get("/templates/").content.decode()


# --- campaigns: the CSV mapping step, schedules ------------------------------------------------------------------


def _campaign(workspace: Workspace, **extra: Any) -> Campaign:
    brand = brand_create(workspace=workspace, name="B", colors=COLORS)
    return campaign_create(
        workspace=workspace, name="C", template_version=_template(workspace), brand=brand, **extra
    )


def _upload(client: Client, campaign: Campaign, data: bytes) -> Any:
    upload = io.BytesIO(data)
    upload.name = "people.csv"
    return client.post(f"/campaigns/{campaign.pk}/recipients/", {"file": upload})


def test_a_windows_semicolon_csv_is_mapped_then_imported_with_its_report(
    workspace: Workspace, editor: Client
) -> None:
    campaign = _campaign(workspace)
    data = "First Name;Firma;E-Mail;Shoe size\nJürgen;Müller AG;j@example.com;44\n;Leer;l@example.com;40\n"
    step = _upload(editor, campaign, data.encode("cp1252"))
    page = step.content.decode()
    assert step.status_code == 400  # two columns matched nothing: the person chooses
    assert "Match the columns" in page
    assert "Unknown column" in page
    assert 'value="first_name" selected' in page  # "First Name" guessed
    assert "Jürgen" in page
    token = re.search(r'name="upload" value="([0-9a-f]+)"', page)
    assert token is not None
    assert Recipient.objects.count() == 0
    twice = editor.post(
        f"/campaigns/{campaign.pk}/recipients/mapping/",
        {
            "upload": token.group(1),
            "column_0": "first_name",
            "column_1": "first_name",
            "column_2": "email",
            "column_3": "keep",
        },
    )
    assert twice.status_code == 400
    assert "Two columns are mapped to first_name." in twice.content.decode()
    done = editor.post(
        f"/campaigns/{campaign.pk}/recipients/mapping/",
        {
            "upload": token.group(1),
            "column_0": "first_name",
            "column_1": "company",
            "column_2": "email",
            "column_3": "keep",
        },
    )
    report = done.content.decode()
    assert done.status_code == 200
    assert "<strong>1</strong> accepted" in report
    assert "<strong>1</strong> rejected" in report
    link = re.search(r'href="data:text/csv;charset=utf-8,([^"]+)" download="rejected-rows.csv"', report)
    assert link is not None
    rejected = unquote(link.group(1)).lstrip("\ufeff").splitlines()
    assert rejected[0] == "First Name,Firma,E-Mail,Shoe size,row,problems"
    assert rejected[1] == ",Leer,l@example.com,40,3,first_name: This field is required."
    recipient = Recipient.objects.get()
    assert (recipient.variables["company"], recipient.fields) == ("Müller AG", {"Shoe size": "44"})
    gone = editor.post(f"/campaigns/{campaign.pk}/recipients/mapping/", {"upload": token.group(1)})
    assert gone.status_code == 400
    assert "upload the file again" in gone.content.decode()


def test_a_csv_whose_headers_all_match_imports_at_once(workspace: Workspace, editor: Client) -> None:
    campaign = _campaign(workspace)
    response = _upload(editor, campaign, "\ufefffirst_name,email\nAnn,ann@example.com\n".encode())
    assert response.status_code == 200
    assert "<strong>1</strong> accepted" in response.content.decode()


def test_the_schedule_reads_in_words_with_its_next_runs(workspace: Workspace, viewer: Client) -> None:
    campaign = _campaign(workspace, schedule_cron="0 9 * * 1-5", schedule_timezone="Europe/Berlin")
    page = viewer.get(f"/campaigns/{campaign.pk}/").content.decode()
    assert "Weekdays at 09:00 (Europe/Berlin); next: " in page
    assert cron_in_words("*/15 * * * *") == "Every 15 minutes"
    assert cron_in_words("0 12 25 12 *") == "Every 25 December at 12:00"
    assert cron_in_words("0 9 L * *") == "cron 0 9 L * *"
    monday = datetime(2026, 11, 29, 12, tzinfo=UTC)  # a Sunday
    assert schedule_in_words(cron="0 9 * * 1-5", timezone="Europe/Berlin", now=monday) == (
        "Weekdays at 09:00 (Europe/Berlin); next: Mon 30 Nov 09:00, Tue 1 Dec 09:00, Wed 2 Dec 09:00"
    )


# --- webhooks and integrations --------------------------------------------------------------------------------


def test_a_webhook_secret_is_rotated_and_a_disabled_endpoint_gets_no_test(
    workspace: Workspace, editor: Client, viewer: Client, settings: Any
) -> None:
    settings.OUTBOUND_ALLOW_PRIVATE = True
    endpoint = webhook_endpoint_create(
        workspace=workspace, url="http://127.0.0.1:9/hook", events=["render.failed"]
    )
    old = endpoint.secret
    assert viewer.post(f"/webhooks/{endpoint.pk}/rotate-secret/").status_code == 403
    editor.post(f"/webhooks/{endpoint.pk}/rotate-secret/")
    endpoint.refresh_from_db()
    assert endpoint.secret != old
    assert endpoint.secret in editor.get(f"/webhooks/{endpoint.pk}/").content.decode()
    assert endpoint.secret not in viewer.get(f"/webhooks/{endpoint.pk}/").content.decode()
    webhook_endpoint_set_enabled(endpoint=endpoint, enabled=False)
    refused = editor.post(f"/webhooks/{endpoint.pk}/test/", follow=True)
    assert "enable it to send a test event" in refused.content.decode()
    assert not WebhookDelivery.objects.exists()
    webhook_endpoint_set_enabled(endpoint=endpoint, enabled=True)
    editor.post(f"/webhooks/{endpoint.pk}/test/")
    assert WebhookDelivery.objects.get().event == "ping"
    assert WebhookEndpoint.objects.count() == 1


def test_an_integration_shows_its_url_and_secret_once_and_is_deleted(
    workspace: Workspace, editor: Client, viewer: Client
) -> None:
    brand = brand_create(workspace=workspace, name="B", colors=COLORS)
    template = _template(workspace).template
    bad = editor.post(
        "/integrations/",
        {"kind": "generic", "template": str(template.pk), "brand": str(brand.pk), "field_map": "firstname"},
    )
    assert bad.status_code == 400
    assert "write it as property = variable" in bad.content.decode()
    unmapped = editor.post(
        "/integrations/",
        {
            "kind": "generic",
            "template": str(template.pk),
            "brand": str(brand.pk),
            "field_map": "nick = nickname",
        },
    )
    assert unmapped.status_code == 400
    assert "Not a variable of this template" in unmapped.content.decode()
    created = editor.post(
        "/integrations/",
        {
            "kind": "hubspot",
            "name": "Leads",
            "template": str(template.pk),
            "brand": str(brand.pk),
            "field_map": "firstname = first_name\ncompany = company",
        },
    )
    integration = Integration.objects.get()
    page = created.content.decode()
    assert created["Cache-Control"] == "no-store"
    assert integration.secret in page
    assert f"/inbound/{integration.pk}/" in page
    assert integration.field_map == {"firstname": "first_name", "company": "company"}
    listed = viewer.get("/integrations/").content.decode()
    assert f"/inbound/{integration.pk}/" in listed
    assert integration.secret not in listed
    assert "Add an integration" not in listed
    assert viewer.post(f"/integrations/{integration.pk}/delete/").status_code == 403
    editor.post(f"/integrations/{integration.pk}/delete/")
    assert not Integration.objects.exists()


# --- billing, renders, brands -------------------------------------------------------------------------------------


def test_billing_draws_usage_per_day_as_an_svg_chart(workspace: Workspace, owner: Client) -> None:
    account = BillingAccount.objects.create(workspace=workspace)
    now = timezone.now()
    for cost, when in ((3, now), (5, now), (2, now - timedelta(days=1))):
        Reservation.objects.create(
            account=account,
            render_id=uuid.uuid4(),
            estimate=cost,
            cost=cost,
            status="captured",
            settled_at=when,
        )
    page = owner.get("/billing").content.decode()
    assert '<svg viewBox="0 0 620 160"' in page
    assert f"{now:%b} {now.day}: 8 credits" in page
    if now.day > 1:
        yesterday = now - timedelta(days=1)
        assert f"{yesterday:%b} {yesterday.day}: 2 credits" in page
        assert page.count("<rect ") == now.day


def test_a_render_page_shows_its_stages_and_c2pa_status(workspace: Workspace, viewer: Client) -> None:
    brand = brand_create(workspace=workspace, name="B", colors=COLORS)
    version = _template(workspace)
    start = timezone.now() - timedelta(seconds=30)
    render = Render.objects.create(
        workspace=workspace, template_version=version, brand=brand, variables={}, status="succeeded"
    )
    Render.objects.filter(pk=render.pk).update(
        created_at=start,
        finished_at=start + timedelta(seconds=12),
        outputs=[{**OUTPUT, "c2pa": True}],
    )
    generation = Generation.objects.create(
        key="k" * 64, model="tiny-sd", prompt="p", seed=1, width=64, height=64, steps=1, guidance=1.0,
        shape_key="s", status="succeeded",
    )  # fmt: skip
    Generation.objects.filter(pk=generation.pk).update(updated_at=start + timedelta(seconds=8))
    RenderGeneration.objects.create(render=render, generation=generation)
    page = viewer.get(f"/renders/{render.pk}/").content.decode()
    assert 'Queued and generating pictures</td><td class="num">8.0' in page
    assert 'Composing and uploading</td><td class="num">4.0' in page
    assert "Signed with a C2PA manifest." in page
    Render.objects.filter(pk=render.pk).update(outputs=[OUTPUT])
    assert "C2PA signing is off on this server" in viewer.get(f"/renders/{render.pk}/").content.decode()


def test_a_brand_asset_is_removed_and_the_previous_one_returns(workspace: Workspace, editor: Client) -> None:
    brand = brand_create(workspace=workspace, name="B", colors=COLORS)
    first = brand_asset_upload(brand=brand, kind="logo", data=_png(), original_name="a.png")
    second = brand_asset_upload(brand=brand, kind="logo", data=_png(), original_name="b.png")
    assert 'aria-label="Remove the logo b.png"' in editor.get(f"/brands/{brand.pk}/").content.decode()
    editor.post(f"/brands/{brand.pk}/assets/{second.pk}/delete/")
    assert list(BrandAsset.objects.all()) == [first]


def _integration(workspace: Workspace, i: int) -> None:
    from campaigns.crm import integration_create

    brand = brand_create(workspace=workspace, name=f"B{i}", colors=COLORS)
    integration_create(
        workspace=workspace,
        kind="generic",
        template=_template(workspace, f"T{i}").template,
        version=None,
        brand=brand,
        field_map={"firstname": "first_name"},
    )


def _captured(workspace: Workspace, i: int) -> None:
    account, _ = BillingAccount.objects.get_or_create(workspace=workspace)
    Reservation.objects.create(
        account=account,
        render_id=uuid.uuid4(),
        estimate=1,
        cost=1,
        status="captured",
        settled_at=timezone.now(),
    )


def _archived(workspace: Workspace, i: int) -> None:
    template = _template(workspace, f"A{i}").template
    AdTemplate.objects.filter(pk=template.pk).update(archived_at=timezone.now())


@pytest.mark.parametrize(
    ("path", "make"),
    [("/integrations/", _integration), ("/billing", _captured), ("/templates/?archived=1", _archived)],
)
def test_the_new_pages_query_counts_do_not_grow_with_their_lists(
    workspace: Workspace, owner: Client, django_assert_max_num_queries: Any, path: str, make: Any
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    make(workspace, 0)
    with CaptureQueriesContext(connection) as one:
        assert owner.get(path).status_code == 200
    for i in range(1, 6):
        make(workspace, i)
    with django_assert_max_num_queries(len(one.captured_queries)):
        assert owner.get(path).status_code == 200
