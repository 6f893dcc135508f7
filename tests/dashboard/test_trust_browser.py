"""The trust pages in a real Chromium (docs/trust.md): an owner records a consent, uploads the person's portrait
(refused first without the consent, the reason on the form), revokes the consent through the confirmation
dialog, then reads the audit log: filtered, its chain verified, its CSV downloaded. axe-core and the sideways
scroll check run on every page, at 1440 and 375 px (tests/dashboard/browser.py)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from django.db import transaction
from PIL import Image
from playwright.sync_api import Page, expect

from core.consent import CONSENT_REQUIRED
from core.models import Consent, Membership, Workspace
from core.services import brand_create, member_invite
from tests.core.test_consent import PDF
from tests.dashboard.browser import PHONE, WIDE, page_check, sign_in
from tests.dashboard.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _both_widths(page: Page, checked: list[str]) -> None:
    page_check(page, checked)
    page.set_viewport_size(PHONE)
    page_check(page, checked)
    page.set_viewport_size(WIDE)


def _portrait(tmp_path: Path) -> Path:
    path = tmp_path / "dana.png"
    Image.new("RGB", (48, 64), (180, 120, 90)).save(path, format="PNG")
    return path


def test_an_owner_records_uses_and_revokes_a_consent_then_reads_the_audit_log(
    page: Page, dashboard_url: str, workspace: Workspace, tmp_path: Path
) -> None:
    with transaction.atomic():
        member = member_invite(workspace=workspace, email="owner@example.com", role=Membership.Role.OWNER)
        member.user.set_password(PASSWORD)
        member.user.save()
        brand_create(
            workspace=workspace,
            name="Acme",
            colors={"primary": "#1F3A93", "secondary": "#FF7A00", "text": "#FFFFFF"},
        )
    checked: list[str] = []
    sign_in(page, dashboard_url, "owner@example.com", PASSWORD)
    nav = page.get_by_role("navigation", name="Main")

    # 1. A consent, with its signed release.
    nav.get_by_role("link", name="Consents").click()
    expect(page.get_by_text("No consents recorded yet.")).to_be_visible()
    _both_widths(page, checked)
    release = tmp_path / "release.pdf"
    release.write_bytes(PDF)
    page.get_by_label("Person").fill("Dana Presenter")
    page.get_by_role("group", name="Brands").get_by_label("Acme").check()
    page.get_by_label("Portrait (pictures of them)").check()
    page.get_by_label("Evidence").set_input_files(release)
    page.get_by_role("button", name="Record consent").click()
    row = page.get_by_role("row", name="Dana Presenter")
    expect(row).to_contain_text("active")
    expect(row.get_by_role("link", name="release.pdf")).to_be_visible()
    _both_widths(page, checked)

    # 2. Her portrait: the consent field appears for the kind; without a consent the service's reason shows.
    nav.get_by_role("link", name="Brands").click()
    page.get_by_role("link", name="Acme").click()
    consent_select = page.get_by_label("Consent", exact=True)
    shows_person = page.get_by_label("The video shows a real person")
    page.get_by_label("Kind").select_option("logo")
    expect(consent_select).to_be_hidden()
    page.get_by_label("Kind").select_option("video")
    expect(shows_person).to_be_visible()
    expect(consent_select).to_be_hidden()
    shows_person.check()
    expect(consent_select).to_be_visible()
    page.get_by_label("Kind").select_option("portrait")
    expect(shows_person).to_be_hidden()
    expect(consent_select).to_be_visible()
    page.get_by_label("File").set_input_files(_portrait(tmp_path))
    page.get_by_role("button", name="Upload").click()
    expect(page.get_by_text(CONSENT_REQUIRED.format(use="portrait"))).to_be_visible()
    _both_widths(page, checked)
    page.get_by_label("File").set_input_files(_portrait(tmp_path))
    page.get_by_label("Consent", exact=True).select_option(label="Dana Presenter (portrait)")
    page.get_by_role("button", name="Upload").click()
    expect(page.get_by_role("img", name="Acme portrait (dana.png)")).to_be_visible()
    expect(page.get_by_text("Consent of Dana Presenter")).to_be_visible()
    _both_widths(page, checked)

    # 3. Revoked, after the confirmation: the row changes in place.
    nav.get_by_role("link", name="Consents").click()
    page.get_by_label("Why Dana Presenter's consent is revoked (optional)").fill("Asked by Dana")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Revoke the consent of Dana Presenter").click()
    row = page.get_by_role("row", name="Dana Presenter")
    expect(row).to_contain_text("revoked")
    expect(row).to_contain_text("Asked by Dana")
    expect(row.get_by_role("button")).to_have_count(0)
    assert Consent.objects.get().revoked_reason == "Asked by Dana"
    _both_widths(page, checked)

    # 4. The audit log: filtered, verified, downloaded.
    nav.get_by_role("link", name="Audit log").click()
    expect(page.get_by_role("cell", name="consent.revoked")).to_be_visible()
    _both_widths(page, checked)
    page.get_by_label("Action").fill("consent.")
    page.get_by_role("button", name="Filter").click()
    rows = page.locator("table.audit tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("consent.revoked")
    expect(rows.nth(1)).to_contain_text("consent.granted")
    rows.nth(1).locator("summary").click()
    expect(rows.nth(1).locator("pre")).to_contain_text('"uses": [')
    page.get_by_role("button", name="Verify the chain").click()
    expect(page.locator("#chain-status")).to_contain_text("Chain verified:")
    _both_widths(page, checked)
    with page.expect_download() as download:
        page.get_by_role("link", name="Download CSV").click()
    lines = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text(encoding="utf-8"))))
    assert [line["action"] for line in lines] == ["consent.revoked", "consent.granted"]
    assert len(checked) == 14
