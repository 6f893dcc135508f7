"""The dashboard in a real Chromium: a marketer's whole job end to end, a viewer refused, another workspace
unreachable, every page visited checked by axe-core and for sideways scrolling (tests/dashboard/browser.py).

Runs in both modes: embedded, renders run in the live server's request thread after each commit (so a POST
that starts renders answers once they are done); in service mode, real Celery workers render while the page
polls its progress with htmx.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from django.db import transaction
from PIL import Image
from playwright.sync_api import Page, expect

from campaigns.recipients import recipients_import
from campaigns.services import campaign_create
from campaigns.webhooks import webhook_endpoint_create
from core.models import Membership, Workspace
from core.services import brand_create, member_invite
from render.models import Render
from templates.models import AdTemplate
from templates.services import template_create
from tests.dashboard.browser import PHONE, page_check, post_with_csrf, sign_in
from tests.dashboard.conftest import PASSWORD
from tests.factories import WorkspaceFactory, small_spec

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# As a spreadsheet exports it on a German Windows: `;`, Windows-1252, headers as people write them, and a
# column the template does not know (kept with each recipient through the mapping step).
CSV_WITH_BAD_ROWS = (
    "First Name;Company;E-mail;Notes\n"
    "Ann;Acme;ann@example.com;VIP\n"
    ";Nameless;nameless@example.com;\n"  # row 3: first_name is required
    "Bob;Bobco;not-an-email;\n"  # row 4: bad email
    "Cy;Café Cy;cy@example.com;\n"
)


def _member(workspace: Workspace, role: str, email: str) -> str:
    member = member_invite(workspace=workspace, email=email, role=role)
    member.user.set_password(PASSWORD)
    member.user.save()
    return email


def _logo(tmp_path: Path) -> Path:
    buffer = io.BytesIO()
    Image.new("RGBA", (128, 64), (255, 122, 0, 255)).save(buffer, format="PNG")
    path = tmp_path / "logo.png"
    path.write_bytes(buffer.getvalue())
    return path


def _make_brand_with_logo(page: Page, base: str, tmp_path: Path, checked: list[str]) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Brands").click()
    page_check(page, checked)
    page.get_by_role("link", name="New brand").click()
    page_check(page, checked)
    page.get_by_label("Name").fill("Flow Co")
    page.get_by_label("Primary colour").fill("#1f3a93")
    page.get_by_role("button", name="Create brand").click()
    page.get_by_label("Kind").select_option("logo")
    page.get_by_label("File").set_input_files(_logo(tmp_path))
    page.get_by_role("button", name="Upload").click()
    logo = page.get_by_role("img", name="Flow Co logo (logo.png)")
    expect(logo).to_be_visible()
    page.wait_for_function("img => img.complete && img.naturalWidth === 128", arg=logo.element_handle())
    page_check(page, checked)


def _make_template(page: Page, checked: list[str]) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Templates").click()
    page_check(page, checked)
    page.get_by_role("link", name="New template").click()
    bad = small_spec()
    bad["scenes"][0]["duration"] = 0
    page.get_by_label("Name").fill("Flow template")
    page.get_by_label("Spec (JSON)").fill(json.dumps(bad, indent=2))
    page.get_by_role("button", name="Create template").click()
    problems = page.get_by_role("complementary", name="Problems")
    expect(problems.locator("li", has_text="scenes[0].duration")).to_contain_text(
        "Must be a number from 0.1 to 60."
    )
    expect(problems).to_contain_text("Nothing was saved")
    page_check(page, checked)
    assert not AdTemplate.objects.exists()
    page.get_by_label("Spec (JSON)").fill(json.dumps(small_spec(), indent=2))
    page.get_by_role("button", name="Create template").click()
    expect(page.get_by_role("heading", name="Version history")).to_be_visible()
    _preview(page, checked)


def _preview(page: Page, checked: list[str]) -> None:
    """The stills load with the page (defaults pre-filled), then again for a typed value: no render, no
    generated picture, a note where the picture is not made yet."""
    stills = page.locator("#stills img")
    expect(stills).to_have_count(2)
    expect(page.get_by_label("first_name")).to_have_value("First Name")
    expect(page.locator("#stills")).to_contain_text("background not generated yet")
    page.wait_for_function(
        "() => [...document.querySelectorAll('#stills img')].every(i => i.complete && i.naturalWidth === 180)"
    )
    first = stills.first.get_attribute("src")
    page.get_by_label("first_name").fill("Zoë")
    page.get_by_role("button", name="Preview", exact=True).click()
    expect(page.locator("#stills img").first).not_to_have_attribute("src", first or "")
    page.wait_for_function(
        "() => [...document.querySelectorAll('#stills img')].every(i => i.complete && i.naturalWidth === 180)"
    )
    assert not Render.objects.exists()
    page_check(page, checked)


def _make_campaign_with_recipients(page: Page, tmp_path: Path, checked: list[str]) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Campaigns").click()
    page_check(page, checked)
    page.get_by_role("link", name="New campaign").click()
    page_check(page, checked)
    page.get_by_label("Name").fill("Flow campaign")
    page.get_by_label("Template").select_option(label="Flow template")
    page.get_by_label("Brand").select_option(label="Flow Co")
    page.get_by_role("button", name="Create campaign").click()
    csv_path = tmp_path / "recipients.csv"
    csv_path.write_text(CSV_WITH_BAD_ROWS, encoding="cp1252")
    page.get_by_label("Recipients CSV").set_input_files(csv_path)
    page.get_by_role("button", name="Upload recipients").click()
    # The mapping step: "First Name" and "E-mail" are recognised; "Notes" is the person's to choose.
    mapping = page.locator("#column-mapping")
    expect(mapping.get_by_label("Read First Name as")).to_have_value("first_name")
    expect(mapping.get_by_label("Read E-mail as")).to_have_value("email")
    expect(mapping.get_by_role("row", name="Notes")).to_contain_text("Unknown column")
    page_check(page, checked)
    mapping.get_by_label("Read Notes as").select_option(label="Keep as a recipient field")
    page.get_by_role("button", name="Import recipients").click()
    report = page.locator("#import-report")
    expect(report).to_contain_text("2 accepted")
    expect(report).to_contain_text("2 rejected")
    rows = report.get_by_role("table", name="Rejected rows").locator("tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("3")
    expect(rows.nth(0)).to_contain_text("first_name")
    expect(rows.nth(1)).to_contain_text("4")
    expect(rows.nth(1)).to_contain_text("email")
    with page.expect_download() as download:
        report.get_by_role("link", name="Download the rejected rows (CSV)").click()
    rejected = Path(download.value.path()).read_text(encoding="utf-8-sig").splitlines()
    assert rejected[0] == "First Name,Company,E-mail,Notes,row,problems"
    assert [line.split(",")[4] for line in rejected[1:]] == ["3", "4"]
    expect(page.get_by_role("cell", name="ann@example.com Notes: VIP")).to_be_visible()
    page_check(page, checked)


def _sample_approve_launch(page: Page, checked: list[str]) -> None:
    page.get_by_label("Samples").fill("1")
    page.get_by_role("button", name="Request samples").click()
    # Service mode: the live part polls until the sample is done and swaps in its player and the buttons.
    video = page.locator("#live video")
    expect(video).to_have_count(1, timeout=300_000)
    page.wait_for_function(
        "() => { const v = document.querySelector('#live video'); return v && v.readyState === 4; }",
        timeout=60_000,
    )
    page.evaluate(
        "() => { const v = document.querySelector('#live video'); v.muted = true; return v.play(); }"
    )
    page.wait_for_function("() => document.querySelector('#live video').currentTime > 0")
    page_check(page, checked)
    page.get_by_role("button", name="Approve").click()
    expect(page.locator("#campaign-status")).to_have_text("Approved")
    page.get_by_role("button", name="Launch").click()
    expect(page.locator("#progress-text")).to_contain_text("2 of 2 finished", timeout=300_000)
    expect(page.locator("#campaign-status")).to_have_text("Completed")
    page_check(page, checked)


def _results_csv(page: Page) -> None:
    with page.expect_download() as download:
        page.get_by_role("link", name="Download results.csv").click()
    lines = Path(download.value.path()).read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("recipient,external_id,status,watch_url,error,email,")
    assert len(lines) == 3
    assert all(",succeeded," in line for line in lines[1:])


def _create_and_revoke_key(page: Page, checked: list[str]) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("link", name="API keys").click()
    page.get_by_label("Key name").fill("zapier")
    page.get_by_role("button", name="Create key").click()
    raw_key = page.get_by_label("New API key").input_value()
    assert raw_key.startswith("rsk_")
    page_check(page, checked)
    page.get_by_role("button", name="Revoke zapier").click()
    expect(page.get_by_role("row", name="zapier")).to_contain_text("revoked")
    expect(page.get_by_label("New API key")).to_have_count(0)  # shown once
    page_check(page, checked)


def _webhook_test_event(page: Page, workspace: Workspace, checked: list[str]) -> None:
    endpoint = webhook_endpoint_create(
        workspace=workspace, url="http://127.0.0.1:9/hook", events=["render.failed"]
    )
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Webhooks").click()
    page.get_by_role("link", name=endpoint.url).click()
    page.get_by_role("button", name="Send a test event").click()
    expect(page.get_by_role("row", name="ping")).to_be_visible()
    page_check(page, checked)


def test_a_marketer_runs_a_campaign_from_sign_in_to_results(
    page: Page, dashboard_url: str, workspace: Workspace, tmp_path: Path, settings: Any
) -> None:
    settings.OUTBOUND_ALLOW_PRIVATE = True  # the test endpoint listens on loopback
    email = _member(workspace, Membership.Role.OWNER, "owner@example.com")
    checked: list[str] = []
    sign_in(page, dashboard_url, email, PASSWORD)
    page_check(page, checked)
    _make_brand_with_logo(page, dashboard_url, tmp_path, checked)
    _make_template(page, checked)
    _make_campaign_with_recipients(page, tmp_path, checked)
    _sample_approve_launch(page, checked)
    _results_csv(page)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Renders").click()
    expect(page.locator("tbody tr")).to_have_count(2)
    page_check(page, checked)
    page.locator("tbody tr a").first.click()
    expect(page.get_by_role("heading", name="Provenance")).to_be_visible()
    page_check(page, checked)
    _create_and_revoke_key(page, checked)
    _webhook_test_event(page, workspace, checked)
    for name in ("Integrations", "Consents", "Billing", "Members", "Audit log"):
        page.get_by_role("navigation", name="Main").get_by_role("link", name=name).click()
        page_check(page, checked)
    assert len(checked) >= 15


def _foreign_objects() -> dict[str, Any]:
    other = WorkspaceFactory.create()
    brand = brand_create(
        workspace=other,
        name="Theirs",
        colors={"primary": "#000000", "secondary": "#111111", "text": "#FFFFFF"},
    )
    version = template_create(workspace=other, name="Theirs", spec=small_spec())
    campaign = campaign_create(workspace=other, name="Theirs", template_version=version, brand=brand)
    return {"brand": brand, "template": version.template, "campaign": campaign}


def test_a_viewer_cannot_approve_and_nobody_reaches_another_workspace(
    page: Page, dashboard_url: str, workspace: Workspace
) -> None:
    email = _member(workspace, Membership.Role.VIEWER, "viewer@example.com")
    with transaction.atomic():
        brand = brand_create(
            workspace=workspace,
            name="Ours",
            colors={"primary": "#1F3A93", "secondary": "#FF7A00", "text": "#FFFFFF"},
        )
        version = template_create(workspace=workspace, name="Ours", spec=small_spec())
        campaign = campaign_create(workspace=workspace, name="Ours", template_version=version, brand=brand)
        recipients_import(campaign=campaign, recipients=[{"first_name": "Ann"}])
    theirs = _foreign_objects()
    page.set_viewport_size(PHONE)
    sign_in(page, dashboard_url, email, PASSWORD)
    page_check(page)
    page.goto(f"{dashboard_url}/campaigns/{campaign.pk}/")
    page_check(page)
    expect(page.get_by_role("button", name="Approve")).to_have_count(0)
    assert post_with_csrf(page, f"/campaigns/{campaign.pk}/approve/") == 403
    assert post_with_csrf(page, f"/campaigns/{campaign.pk}/samples/") == 403
    assert not Render.objects.exists()
    # Owners' pages are not in a viewer's navigation, and refused by address.
    nav = page.get_by_role("navigation", name="Main")
    for name in ("Campaigns", "Templates", "Brands", "Renders", "Webhooks"):
        expect(nav.get_by_role("link", name=name)).to_be_visible()
    for name in ("API keys", "Consents", "Audit log"):
        expect(nav.get_by_role("link", name=name)).to_have_count(0)
    for path in ("/api-keys/", "/consents/", "/audit/"):
        response = page.goto(f"{dashboard_url}{path}")
        assert response is not None
        assert response.status == 403, path
    for path in (
        f"/campaigns/{theirs['campaign'].pk}/",
        f"/brands/{theirs['brand'].pk}/",
        f"/templates/{theirs['template'].pk}/",
        f"/campaigns/{theirs['campaign'].pk}/results.csv",
    ):
        response = page.goto(f"{dashboard_url}{path}")
        assert response is not None
        assert response.status == 404, path
    page_check(page)
    for path in (
        "/",
        "/campaigns/",
        "/templates/",
        "/brands/",
        "/renders/",
        "/webhooks/",
        "/integrations/",
        f"/templates/{version.template_id}/",
        f"/brands/{brand.pk}/",
    ):
        page.goto(f"{dashboard_url}{path}")
        page_check(page)
