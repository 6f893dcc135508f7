"""The trust pages through Django's test client (docs/trust.md, docs/dashboard.md): the audit log (owners only,
filters, the same filters' CSV, the chain checked on request), consents recorded and revoked through the page
(the same services as the API, with their audit entries), a likeness upload refused without consent, and a
template version's authors."""

from __future__ import annotations

import csv
import html
import io
import json
import re
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.db import connection
from django.test import Client

from core.assets import NOT_EVIDENCE
from core.audit import audit_record, ip_hash
from core.consent import (
    ALREADY_REVOKED,
    CONSENT_REQUIRED,
    CONSENT_WRONG_BRAND,
    VALID_UNTIL_PAST,
    consent_create,
    consent_revoke,
)
from core.models import AuditEntry, BrandAsset, Consent, Workspace
from core.services import api_key_create, brand_create, brand_update
from core.storage import get_storage
from dashboard.forms import AUTHOR_LINE, SHOWS_PERSON_NOT_VIDEO, SINCE_AFTER_UNTIL
from render.models import RenderStatus
from render.services import render_request
from templates.models import AdTemplate, TemplateVersion
from templates.services import template_create
from tests.core.test_api_brands import png_bytes, wav_bytes
from tests.core.test_consent import PDF, PORTRAIT_SPEC
from tests.factories import small_spec

pytestmark = pytest.mark.django_db

COLORS = {"primary": "#1F3A93", "secondary": "#FF7A00", "text": "#FFFFFF"}


def _file(data: bytes, name: str) -> io.BytesIO:
    handle = io.BytesIO(data)
    handle.name = name
    return handle


def _email(client: Client) -> str:
    return str(client.member.user.get_username())  # type: ignore[attr-defined]  # set by member_client


def _consent(
    workspace: Workspace, brands: list[Any], uses: list[str], name: str = "Dana Presenter"
) -> Consent:
    return consent_create(
        workspace=workspace,
        person_name=name,
        brand_ids=[b.pk for b in brands],
        uses=uses,
        valid_until=None,
        evidence=PDF,
        evidence_name="release.pdf",
        collected_by="Sam from Legal",
    )


def _actions(html: str) -> list[str]:
    """The audit list's actions, top to bottom."""
    return re.findall(r"<td><code>([a-z_.]+)</code></td>", html)


# --- the audit log ----------------------------------------------------------------------------------------------


def test_the_audit_log_is_for_owners_and_consents_for_editors(
    owner: Client, editor: Client, viewer: Client
) -> None:
    assert owner.get("/audit/").status_code == 200
    for client in (editor, viewer):
        refused = client.get("/audit/")
        assert refused.status_code == 403
        assert "needs the owner role" in refused.content.decode()
        assert client.get("/audit.csv").status_code == 403
        assert client.post("/audit/verify/").status_code == 403
    assert editor.get("/consents/").status_code == 200
    assert viewer.get("/consents/").status_code == 403
    assert viewer.post("/consents/", {"person_name": "X"}).status_code == 403
    owner_nav, editor_nav, viewer_nav = (c.get("/").content.decode() for c in (owner, editor, viewer))
    assert [">Audit log<" in nav for nav in (owner_nav, editor_nav, viewer_nav)] == [True, False, False]
    assert [">Consents<" in nav for nav in (owner_nav, editor_nav, viewer_nav)] == [True, True, False]


def test_the_audit_log_shows_who_what_where_and_the_changes_newest_first(
    owner: Client, workspace: Workspace, other_workspace: Workspace
) -> None:
    made = owner.post(
        "/brands/new/",
        {"name": "Old", "color_primary": "#112233", "color_secondary": "#445566", "color_text": "#FFFFFF"},
    )
    assert made.status_code == 302
    brand = workspace.brands.get()
    owner.post(
        f"/brands/{brand.pk}/",
        {"name": "New", "color_primary": "#112233", "color_secondary": "#445566", "color_text": "#FFFFFF"},
    )
    brand_create(workspace=other_workspace, name="Theirs", colors=COLORS)
    html = owner.get("/audit/").content.decode()
    assert _actions(html) == ["brand.updated", "brand.created", "auth.signed_in", "member.invited"]
    assert "Theirs" not in html
    # Who (a link that filters by them), from where (the hash's prefix only), what changed (JSON, folded).
    actor = f"user:{_email(owner)}"
    assert f'<a href="?actor=user%3A{_email(owner).replace("@", "%40")}">{actor}</a>' in html
    address = ip_hash("127.0.0.1")
    assert f"<code>{address[:8]}…</code>" in html
    assert address[8:16] not in html
    assert "<details><summary>name</summary>" in html
    assert "&quot;name&quot;: &quot;Old&quot;" in html
    assert "&quot;name&quot;: &quot;New&quot;" in html
    # The chain is not walked on a page view: it is a button.
    assert "Chain verified" not in html
    assert 'hx-post="/audit/verify/"' in html


def test_the_audit_filters_and_the_same_filters_csv(owner: Client, workspace: Workspace) -> None:
    owner.post(
        "/brands/new/",
        {"name": "B", "color_primary": "#112233", "color_secondary": "#445566", "color_text": "#FFFFFF"},
    )
    key, _ = api_key_create(workspace=workspace, name="ci")  # by the system: no request
    actor = f"user:{_email(owner)}"

    def listed(query: str) -> list[str]:
        response = owner.get(f"/audit/?{query}")
        assert response.status_code == 200, response.content.decode()
        return _actions(response.content.decode())

    assert listed("action=brand.") == ["brand.created"]
    assert listed("action=api_key.created") == ["api_key.created"]
    assert listed("action=api_key") == []  # an action is exact; a family ends in a dot
    assert listed(f"actor={actor}") == ["brand.created", "auth.signed_in"]
    assert listed("actor=system") == ["api_key.created", "member.invited"]
    assert listed(f"object_type=api_key&object_id={key.pk}") == ["api_key.created"]
    today = date.today()
    everything = ["api_key.created", "brand.created", "auth.signed_in", "member.invited"]
    assert listed(f"since={today}&until={today}") == everything
    assert listed(f"since={today + timedelta(days=1)}") == []
    assert listed(f"until={today - timedelta(days=1)}") == []
    bad = owner.get(f"/audit/?since={today}&until={today - timedelta(days=1)}")
    assert bad.status_code == 400
    assert SINCE_AFTER_UNTIL in bad.content.decode()
    assert "Fix the filter" in bad.content.decode()
    assert owner.get("/audit/?since=yesterday").status_code == 400
    # The CSV link carries the page's filters; the CSV holds exactly what the page lists.
    page = owner.get("/audit/?action=brand.&actor=" + actor).content.decode()
    assert f'href="/audit.csv?action=brand.&amp;actor=user%3A{_email(owner).replace("@", "%40")}"' in page
    response = owner.get("/audit.csv", {"action": "brand.", "actor": actor})
    assert response["Content-Type"] == "text/csv"
    assert response["Content-Disposition"] == 'attachment; filename="audit.csv"'
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))  # type: ignore[attr-defined]  # a StreamingHttpResponse
    assert [(r["action"], r["actor"]) for r in rows] == [("brand.created", actor)]
    assert json.loads(rows[0]["after"])["name"] == "B"
    whole = owner.get("/audit.csv")
    assert len(list(csv.reader(io.StringIO(b"".join(whole.streaming_content).decode())))) == 5  # type: ignore[attr-defined]  # a StreamingHttpResponse
    assert owner.get("/audit.csv?since=nonsense").status_code == 400


def test_the_audit_log_is_paginated_keeping_its_filters(owner: Client, workspace: Workspace) -> None:
    brand = brand_create(workspace=workspace, name="B0", colors=COLORS)
    for i in range(1, 30):
        brand_update(brand=brand, name=f"B{i}")
    html = owner.get("/audit/?action=brand.").content.decode()
    assert "Page 1 of 2 (30 in all)" in html
    assert 'href="?action=brand.&amp;page=2"' in html
    second = owner.get("/audit/?action=brand.&page=2").content.decode()
    assert _actions(second) == ["brand.updated"] * 4 + ["brand.created"]


def test_the_chain_is_verified_on_request_and_an_edit_in_the_database_is_named(
    owner: Client, workspace: Workspace
) -> None:
    brand_create(workspace=workspace, name="B", colors=COLORS)
    verified = owner.post("/audit/verify/", HTTP_HX_REQUEST="true")
    assert verified.status_code == 200
    assert "Chain verified: 3 entries." in verified.content.decode()
    # Without script: back to the page, the result as a message.
    plain = owner.post("/audit/verify/", follow=True)
    assert plain.redirect_chain == [("/audit/", 302)]
    assert "Chain verified: 3 entries." in plain.content.decode()
    edited = AuditEntry.objects.get(workspace=workspace, action="brand.created")
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {AuditEntry._meta.db_table} SET actor = %s WHERE id = %s",  # noqa: S608
            ["user:someone-else@example.com", edited.pk],
        )
    broken = owner.post("/audit/verify/", HTTP_HX_REQUEST="true").content.decode()
    assert f"Chain broken at entry 3 (id {edited.pk}): its content does not match its hash." in broken
    assert "The 2 entries before it hold." in broken


# --- consents ---------------------------------------------------------------------------------------------------


@pytest.mark.usefixtures("run_tasks_inline")  # the revoke's task, in either mode
def test_an_editor_records_and_revokes_a_consent_and_the_audit_log_has_each_step(
    editor: Client, owner: Client, workspace: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    brand = brand_create(workspace=workspace, name="Acme", colors=COLORS)
    form = editor.get("/consents/").content.decode()
    assert f'value="{_email(editor)}"' in form  # collected by: the signed-in member, unless changed
    recorded = editor.post(
        "/consents/",
        {
            "person_name": "Dana Presenter",
            "brands": [str(brand.pk)],
            "uses": ["portrait", "voice"],
            "valid_until": "",
            "evidence": _file(PDF, "release.pdf"),
            "collected_by": "",
        },
    )
    assert recorded.status_code == 302, recorded.content.decode()
    consent = Consent.objects.get()
    assert (consent.person_name, consent.uses, consent.valid_until) == (
        "Dana Presenter",
        ["portrait", "voice"],
        None,
    )
    assert consent.collected_by == f"user:{_email(editor)}"  # as the API: whoever records it
    assert list(consent.brands.all()) == [brand]
    listed = editor.get("/consents/").content.decode()
    assert '<th scope="row">Dana Presenter</th>' in listed
    assert '<span class="badge s-active">active</span>' in listed
    # The evidence link is the stored object's signed URL; its signature carries the second it was made, so
    # the page's and one made here may differ: compare what they point at.
    link = re.search(r'<a href="([^"]+)" download="release.pdf">release.pdf</a>', listed)
    assert link is not None
    evidence_url = get_storage().url(consent.evidence_key)
    assert urlsplit(html.unescape(link.group(1))).path == urlsplit(evidence_url).path
    # Her portrait, and a render that shows it, still queued (its tasks never ran).
    uploaded = editor.post(
        f"/brands/{brand.pk}/assets/",
        {"kind": "portrait", "file": _file(png_bytes((48, 64)), "dana.png"), "consent": str(consent.pk)},
    )
    assert uploaded.status_code == 302, uploaded.content.decode()
    version = template_create(workspace=workspace, name="Presenter", spec=PORTRAIT_SPEC)
    queued, _ = render_request(
        workspace=workspace, template_version=version, brand=brand, variables={"first_name": "Zoë"}
    )
    with django_capture_on_commit_callbacks(execute=True):
        revoked = editor.post(
            f"/consents/{consent.pk}/revoke/", {"reason": "Left the company"}, HTTP_HX_REQUEST="true"
        )
    row = revoked.content.decode()
    assert row.startswith(f'<tr id="consent-{consent.pk}">')
    assert '<span class="badge s-revoked">revoked</span>' in row
    assert "Left the company" in row
    assert ">Revoke<" not in row
    consent.refresh_from_db()
    assert consent.revoked_reason == "Left the company"
    queued.refresh_from_db()
    assert (queued.status, queued.error) == (RenderStatus.CANCELED, "Consent of 'Dana Presenter' revoked")
    again = editor.post(f"/consents/{consent.pk}/revoke/", HTTP_HX_REQUEST="true").content.decode()
    assert ALREADY_REVOKED in again
    plain = editor.post(f"/consents/{consent.pk}/revoke/", follow=True)
    assert f"was not revoked: {ALREADY_REVOKED}" in plain.content.decode()
    audit = owner.get("/audit/?since=2000-01-01").content.decode()
    steps = _actions(audit)
    for action in ("consent.granted", "brand_asset.uploaded", "consent.revoked", "render.canceled"):
        assert action in steps, steps
    assert steps.index("consent.revoked") > steps.index("render.canceled")  # newest first
    by_editor = _actions(
        owner.get(f"/audit/?actor=user:{_email(editor)}&object_type=consent").content.decode()
    )
    assert by_editor == ["consent.revoked", "consent.granted"]


def test_a_consent_without_evidence_or_ending_in_the_past_is_refused_on_the_form(
    editor: Client, workspace: Workspace
) -> None:
    brand = brand_create(workspace=workspace, name="Acme", colors=COLORS)
    fields = {"person_name": "Dana", "brands": [str(brand.pk)], "uses": ["portrait"]}
    not_evidence = editor.post("/consents/", {**fields, "evidence": _file(b"hello", "note.txt")})
    assert not_evidence.status_code == 400
    assert NOT_EVIDENCE in not_evidence.content.decode()
    past = editor.post(
        "/consents/", {**fields, "valid_until": "2001-01-01T12:00", "evidence": _file(PDF, "r.pdf")}
    )
    assert past.status_code == 400
    assert VALID_UNTIL_PAST in past.content.decode()
    nothing = editor.post("/consents/", {"person_name": "", "evidence": _file(PDF, "r.pdf")})
    assert nothing.status_code == 400
    assert nothing.content.decode().count("This field is required.") == 3  # person, brands, uses
    assert not Consent.objects.exists()


def test_a_consent_ending_at_a_time_and_another_workspaces_consent(
    editor: Client, workspace: Workspace, other_workspace: Workspace
) -> None:
    brand = brand_create(workspace=workspace, name="Acme", colors=COLORS)
    editor.post(
        "/consents/",
        {
            "person_name": "Dana",
            "brands": [str(brand.pk)],
            "uses": ["voice"],
            "valid_until": "2099-06-30T17:30",
            "evidence": _file(PDF, "r.pdf"),
        },
    )
    consent = Consent.objects.get()
    assert consent.valid_until is not None
    assert consent.valid_until.isoformat() == "2099-06-30T17:30:00+00:00"
    assert '<time datetime="2099-06-30T17:30:00+00:00">2099-06-30 17:30</time>' in (
        editor.get("/consents/").content.decode()
    )
    theirs = _consent(
        other_workspace, [brand_create(workspace=other_workspace, name="T", colors=COLORS)], ["voice"]
    )
    assert editor.post(f"/consents/{theirs.pk}/revoke/").status_code == 404
    assert editor.post("/consents/not-an-id/revoke/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.revoked_at is None
    assert "Dana" in editor.get("/consents/").content.decode()
    assert theirs.person_name not in editor.get("/consents/").content.decode().replace("Dana", "")


# --- likeness uploads on the brand page -------------------------------------------------------------------------


def test_a_portrait_without_consent_is_refused_with_the_services_message(
    editor: Client, workspace: Workspace
) -> None:
    brand = brand_create(workspace=workspace, name="Acme", colors=COLORS)
    other_brand = brand_create(workspace=workspace, name="Other", colors=COLORS)
    page = editor.get(f"/brands/{brand.pk}/").content.decode()
    assert '<option value="portrait">Portrait of a person</option>' in page
    assert 'name="shows_person"' in page
    refused = editor.post(
        f"/brands/{brand.pk}/assets/", {"kind": "portrait", "file": _file(png_bytes(), "dana.png")}
    )
    assert refused.status_code == 400
    assert CONSENT_REQUIRED.format(use="portrait") in refused.content.decode()
    elsewhere = _consent(workspace, [other_brand], ["portrait"], name="Eve")
    wrong = editor.post(
        f"/brands/{brand.pk}/assets/",
        {"kind": "portrait", "file": _file(png_bytes(), "eve.png"), "consent": str(elsewhere.pk)},
    )
    assert wrong.status_code == 400
    assert CONSENT_WRONG_BRAND.format(person="'Eve'", brand="'Acme'").replace("'", "&#x27;") in (
        wrong.content.decode()
    )
    assert not BrandAsset.objects.exists()
    consent = _consent(workspace, [brand], ["portrait", "voice"])
    offered = editor.get(f"/brands/{brand.pk}/").content.decode()
    assert f'<option value="{consent.pk}">Dana Presenter (portrait, voice)</option>' in offered
    for kind, data, name in (("portrait", png_bytes(), "dana.png"), ("voice", wav_bytes(), "dana.wav")):
        saved = editor.post(
            f"/brands/{brand.pk}/assets/",
            {"kind": kind, "file": _file(data, name), "consent": str(consent.pk)},
        )
        assert saved.status_code == 302, saved.content.decode()
    assert {(a.kind, a.consent_id) for a in BrandAsset.objects.all()} == {
        ("portrait", consent.pk),
        ("voice", consent.pk),
    }
    shown = editor.get(f"/brands/{brand.pk}/").content.decode()
    assert shown.count("Consent of Dana Presenter") == 2
    assert 'alt="Acme portrait (dana.png)"' in shown
    assert 'aria-label="Acme voice"' in shown
    # Revoked, the consent is no longer offered, and the page says why its assets are not used.
    consent_revoke(consent=consent)
    after = editor.get(f"/brands/{brand.pk}/").content.decode()
    assert f'value="{consent.pk}"' not in after
    assert after.count("Not used in renders: The consent of &#x27;Dana Presenter&#x27; was revoked") == 2


def test_only_footage_is_flagged_as_showing_a_person(editor: Client, workspace: Workspace) -> None:
    brand = brand_create(workspace=workspace, name="Acme", colors=COLORS)
    refused = editor.post(
        f"/brands/{brand.pk}/assets/",
        {"kind": "image", "file": _file(png_bytes(), "a.png"), "shows_person": "on"},
    )
    assert refused.status_code == 400
    assert SHOWS_PERSON_NOT_VIDEO in refused.content.decode()
    assert not BrandAsset.objects.exists()


# --- a template version's authors -------------------------------------------------------------------------------


def test_authors_are_saved_with_a_new_template_and_a_new_version(
    editor: Client, workspace: Workspace
) -> None:
    spec = json.dumps(small_spec())
    created = editor.post(
        "/templates/new/",
        {"name": "T", "spec": spec, "authors": "Ana Ruiz \N{EM DASH} design\n\n  Jean-Luc Picard - copy  \n"},
    )
    assert created.status_code == 302, created.content.decode()
    template = AdTemplate.objects.get()
    first = TemplateVersion.objects.get(template=template)
    assert first.authors == [
        {"name": "Ana Ruiz", "role": "design"},
        {"name": "Jean-Luc Picard", "role": "copy"},
    ]
    page = editor.get(f"/templates/{template.pk}/").content.decode()
    assert "Authors: Ana Ruiz (design), Jean-Luc Picard (copy)" in page
    # A new version starts from the latest one's credits.
    edit = editor.get(f"/templates/{template.pk}/edit/").content.decode()
    assert "Ana Ruiz \N{EM DASH} design\nJean-Luc Picard \N{EM DASH} copy</textarea>" in edit
    editor.post(f"/templates/{template.pk}/edit/", {"spec": spec, "authors": "Bo Li \N{EN DASH} motion"})
    second = TemplateVersion.objects.get(template=template, version=2)
    assert second.authors == [{"name": "Bo Li", "role": "motion"}]


def test_a_bad_authors_line_is_named_and_nothing_is_saved(editor: Client, workspace: Workspace) -> None:
    spec = json.dumps(small_spec())
    no_role = editor.post("/templates/new/", {"name": "T", "spec": spec, "authors": "Ana Ruiz"})
    assert no_role.status_code == 400
    assert AUTHOR_LINE.format(line=1) in no_role.content.decode()
    too_long = editor.post(
        "/templates/new/",
        {"name": "T", "spec": spec, "authors": f"Ana \N{EM DASH} design\n\nBo \N{EM DASH} {'x' * 51}"},
    )
    assert too_long.status_code == 400
    assert "Line 3 (role): Must be 1 to 50 characters." in too_long.content.decode()
    assert not AdTemplate.objects.exists()


# --- lists stay cheap -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "make"),
    [
        (
            "/audit/",
            lambda ws, i: audit_record("test.written", workspace=ws, object_type="brand", after={"i": i}),
        ),
        (
            "/consents/",
            lambda ws, i: _consent(ws, [brand_create(workspace=ws, name=f"B{i}", colors=COLORS)], ["voice"]),
        ),
    ],
)
def test_the_trust_pages_query_count_does_not_grow_with_their_list(
    workspace: Workspace, owner: Client, django_assert_max_num_queries: Any, path: str, make: Any
) -> None:
    from django.test.utils import CaptureQueriesContext

    make(workspace, 0)
    with CaptureQueriesContext(connection) as one:
        assert owner.get(path).status_code == 200
    for i in range(1, 8):
        make(workspace, i)
    with django_assert_max_num_queries(len(one.captured_queries)):
        assert owner.get(path).status_code == 200
