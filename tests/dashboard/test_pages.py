"""The dashboard's pages through Django's test client: roles, tenancy, bad input, query counts, and the
people commands. The browser walks the same pages in test_browser.py."""

from __future__ import annotations

import io
import json
import re
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.management import call_command
from django.test import Client

from campaigns.models import Campaign
from campaigns.recipients import recipients_import
from campaigns.services import campaign_create
from core.models import ApiKey, Brand, Membership, Workspace
from core.services import api_key_create, brand_create, member_invite
from render.pricing import template_cost
from templates.models import AdTemplate
from templates.services import template_create
from tests.campaigns.test_zip_import import SPEC_WITH_NAME, make_zip
from tests.dashboard.conftest import PASSWORD, member_client
from tests.factories import BrandFactory, small_spec
from tests.render.test_image_uploads import png

pytestmark = pytest.mark.django_db

COLORS = {"primary": "#1F3A93", "secondary": "#FF7A00", "text": "#FFFFFF"}


def _campaign(workspace: Workspace, name: str = "C", recipients: int = 1) -> Campaign:
    brand = BrandFactory.create(workspace=workspace)
    version = template_create(workspace=workspace, name=f"T {name}", spec=small_spec())
    campaign = campaign_create(workspace=workspace, name=name, template_version=version, brand=brand)
    recipients_import(campaign=campaign, recipients=[{"first_name": f"R{i}"} for i in range(recipients)])
    return campaign


def _running_campaign(workspace: Workspace, name: str) -> Campaign:
    campaign = _campaign(workspace, name=name)
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.RUNNING)
    return campaign


def test_sign_in_with_email_and_password_then_sign_out(workspace: Workspace) -> None:
    member_client(workspace, Membership.Role.EDITOR, email="Ed@Example.com")
    client = Client()
    page = client.get("/login/").content.decode()
    assert 'for="id_username">Email<' in page
    assert 'for="id_password">Password<' in page
    assert ">Sign in<" in page
    bad = client.post("/login/", {"username": "ed@example.com", "password": "wrong"})
    assert bad.status_code == 200
    assert "Please enter a correct" in bad.content.decode()
    ok = client.post("/login/", {"username": "ED@example.com", "password": PASSWORD})
    assert ok.status_code == 302
    assert ok["Location"] == "/"
    assert client.get("/").status_code == 200
    assert client.post("/logout/").status_code == 302
    assert client.get("/").status_code == 302  # back to the sign-in page


def test_pages_need_a_signed_in_member(workspace: Workspace) -> None:
    response = Client().get("/campaigns/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=/campaigns/")
    drifter = get_user_model().objects.create_user("drifter@example.com", password=PASSWORD)
    client = Client()
    client.force_login(drifter)
    assert client.get("/").status_code == 403


def test_password_reset_mails_a_link_that_sets_the_password(workspace: Workspace) -> None:
    member_client(workspace, Membership.Role.VIEWER, email="vi@example.com")
    client = Client()
    assert client.post("/password-reset/", {"email": "vi@example.com"}).status_code == 302
    assert len(mail.outbox) == 1
    link = next(line for line in mail.outbox[0].body.splitlines() if "/reset/" in line)
    form = client.get(link.split("testserver", 1)[1], follow=True)
    assert form.status_code == 200
    assert "Set your password" in form.content.decode()
    done = client.post(
        form.redirect_chain[-1][0],
        {"new_password1": "an0ther-long-pass", "new_password2": "an0ther-long-pass"},
    )
    assert done.status_code == 302
    assert client.login(username="vi@example.com", password="an0ther-long-pass")


def test_create_member_makes_the_workspace_and_prints_a_one_time_link(db: Any) -> None:
    out, err = io.StringIO(), io.StringIO()
    call_command("create_member", "Acme", "Boss@Acme.test", "--role", "owner", stdout=out, stderr=err)
    link = out.getvalue().strip().splitlines()[-1]
    assert "/reset/" in link
    assert "owner of workspace 'Acme'" in err.getvalue()
    member = Membership.objects.select_related("workspace", "user").get()
    assert (member.workspace.name, member.user.username, member.role) == ("Acme", "boss@acme.test", "owner")
    client = Client()
    form = client.get(link.split("://", 1)[1].split("/", 1)[1].join(["/", ""]), follow=True)
    assert "Set your password" in form.content.decode()
    client.post(
        form.redirect_chain[-1][0], {"new_password1": "s3t-by-link-ok", "new_password2": "s3t-by-link-ok"}
    )
    assert client.login(username="boss@acme.test", password="s3t-by-link-ok")
    again = client.get(link.split("://", 1)[1].split("/", 1)[1].join(["/", ""]), follow=True)
    assert "already used or has expired" in again.content.decode()


def test_roles_owners_manage_editors_work_viewers_read(
    workspace: Workspace, owner: Client, editor: Client, viewer: Client
) -> None:
    campaign = _campaign(workspace)
    for client in (owner, editor, viewer):
        assert client.get(f"/campaigns/{campaign.pk}/").status_code == 200
    for path in ("/api-keys/", "/billing", "/members/"):
        assert owner.get(path).status_code == 200
        assert editor.get(path).status_code == 403
        assert viewer.get(path).status_code == 403
    refused = viewer.post(f"/campaigns/{campaign.pk}/approve/")
    assert refused.status_code == 403
    assert "needs the editor role" in refused.content.decode()
    assert viewer.post("/brands/new/", {"name": "X", "color_primary": "#000000"}).status_code == 403
    nav = viewer.get("/").content.decode()
    assert ">Campaigns<" in nav
    assert ">API keys<" not in nav
    assert all(f">{name}<" in owner.get("/").content.decode() for name in ("API keys", "Billing", "Members"))


def test_state_changes_need_the_csrf_token(workspace: Workspace) -> None:
    editor = member_client(workspace, Membership.Role.EDITOR)
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(editor.member.user)  # type: ignore[attr-defined]  # set by member_client
    assert strict.post("/brands/new/", {"name": "X"}).status_code == 403
    assert not Brand.objects.exists()


def test_another_workspaces_ids_answer_404(owner: Client, other_workspace: Workspace) -> None:
    theirs = _campaign(other_workspace)
    brand = theirs.brand
    key, _ = api_key_create(workspace=other_workspace, name="theirs")
    paths = [
        f"/campaigns/{theirs.pk}/",
        f"/campaigns/{theirs.pk}/live/",
        f"/campaigns/{theirs.pk}/results.csv",
        f"/brands/{brand.pk}/",
        f"/templates/{theirs.template_version.template_id}/",
        f"/templates/{theirs.template_version.template_id}/edit/",
        "/renders/not-a-uuid/",
        "/webhooks/00000000-0000-0000-0000-000000000000/",
    ]
    for path in paths:
        assert owner.get(path).status_code == 404, path
    assert owner.post(f"/campaigns/{theirs.pk}/launch/").status_code == 404
    assert owner.post(f"/brands/{brand.pk}/delete/").status_code == 404
    assert owner.post(f"/api-keys/{key.pk}/revoke/").status_code == 404
    assert ApiKey.objects.get(pk=key.pk).revoked_at is None


def test_bad_brand_input_comes_back_with_the_fields_message(workspace: Workspace, editor: Client) -> None:
    response = editor.post(
        "/brands/new/",
        {"name": "", "color_primary": "blue", "color_secondary": "#000000", "color_text": "#FFFFFF"},
    )
    page = response.content.decode()
    assert response.status_code == 400
    assert "This field is required." in page
    assert "Must be a colour as #RRGGBB." in page
    assert not Brand.objects.exists()


def test_a_brand_is_edited_and_its_deletion_refused_while_a_live_campaign_uses_it(
    workspace: Workspace, editor: Client
) -> None:
    campaign = _campaign(workspace, name="Spring")
    brand = campaign.brand
    saved = editor.post(
        f"/brands/{brand.pk}/",
        {
            "name": "Renamed",
            "color_primary": "#112233",
            "color_secondary": "#445566",
            "color_text": "#ffffff",
        },
    )
    assert saved.status_code == 302
    brand.refresh_from_db()
    assert (brand.name, brand.color_primary, brand.color_text) == ("Renamed", "#112233", "#FFFFFF")
    refused = editor.post(f"/brands/{brand.pk}/delete/", follow=True)
    assert "The campaign &#x27;Spring&#x27; (Draft) still uses this brand" in refused.content.decode()
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.CANCELED)
    assert editor.post(f"/brands/{brand.pk}/delete/").status_code == 302
    assert editor.get(f"/brands/{brand.pk}/").status_code == 404
    assert Brand.objects.filter(pk=brand.pk, deleted_at__isnull=False).exists()  # old renders keep it


def test_a_bad_upload_is_refused_with_its_reason(workspace: Workspace, editor: Client) -> None:
    brand = brand_create(workspace=workspace, name="B", colors=COLORS)
    upload = io.BytesIO(b"not a picture")
    upload.name = "logo.png"
    response = editor.post(f"/brands/{brand.pk}/assets/", {"kind": "logo", "file": upload})
    assert response.status_code == 400
    assert 'class="error"' in response.content.decode()
    assert not brand.assets.exists()


def test_a_bad_spec_is_shown_beside_its_path_and_nothing_is_saved(
    workspace: Workspace, editor: Client
) -> None:
    bad = small_spec()
    bad["scenes"][1]["duration"] = 99
    response = editor.post("/templates/new/", {"name": "T", "spec": json.dumps(bad)})
    page = response.content.decode()
    assert response.status_code == 400
    assert '<code class="path">scenes[1].duration</code>' in page
    not_json = editor.post("/templates/new/", {"name": "T", "spec": "{oops"})
    assert not_json.status_code == 400
    assert "Not valid JSON" in not_json.content.decode()
    assert not AdTemplate.objects.exists()
    created = editor.post("/templates/new/", {"name": "T", "spec": json.dumps(small_spec())})
    template = AdTemplate.objects.get()
    assert created["Location"] == f"/templates/{template.pk}/"
    again = editor.post(f"/templates/{template.pk}/edit/", {"spec": json.dumps(bad)})
    assert again.status_code == 400
    editor.post(f"/templates/{template.pk}/edit/", {"spec": json.dumps(small_spec())})
    template.refresh_from_db()
    assert template.latest_version == 2
    # The saved spec is shown as the JSON its author writes, not as Python's repr of it.
    shown = editor.get(f"/templates/{template.pk}/").content.decode()
    assert "&quot;scenes&quot;: [" in shown
    assert "{&#x27;" not in shown


def test_the_template_page_says_what_each_recipient_costs(workspace: Workspace, editor: Client) -> None:
    spec = small_spec()
    spec["scenes"][1]["layers"][1]["text"] = "Let's talk."  # the same for everyone: a shared scene
    version = template_create(workspace=workspace, name="Costed", spec=spec)
    cost = template_cost(spec=version.spec)
    page = editor.get(f"/templates/{version.template_id}/").content.decode()
    assert "What each recipient costs" in page
    assert f"{cost['personal_seconds']} s of each video are made per recipient" in page
    assert page.count('<span class="badge s-running">per recipient</span>') == sum(
        1 for scene in cost["scenes"] if scene["personal"]
    )
    assert 0 < cost["personal_seconds"] < sum(scene["seconds"] for scene in cost["scenes"])


def test_a_csv_with_a_bad_header_is_refused_on_the_form(workspace: Workspace, editor: Client) -> None:
    campaign = _campaign(workspace, recipients=0)
    upload = io.BytesIO(b"first_name,shoe_size\nAnn,42\n")
    upload.name = "r.csv"
    response = editor.post(f"/campaigns/{campaign.pk}/recipients/", {"file": upload})
    assert response.status_code == 400
    assert "Unknown column" in response.content.decode()
    campaign.refresh_from_db()
    assert campaign.recipient_count == 0


def test_a_zip_of_recipients_and_their_pictures_is_imported(workspace: Workspace, editor: Client) -> None:
    brand = BrandFactory.create(workspace=workspace)
    version = template_create(workspace=workspace, name="Logos", spec=SPEC_WITH_NAME)
    campaign = campaign_create(workspace=workspace, name="Z", template_version=version, brand=brand)
    archive = io.BytesIO(
        make_zip(
            {"r.csv": b"first_name,company_logo\nAnn,acme.png\nBo,gone.png\n", "acme.png": png((0, 9, 9))}
        )
    )
    archive.name = "recipients.zip"
    response = editor.post(f"/campaigns/{campaign.pk}/recipients/", {"file": archive})
    page = response.content.decode()
    assert response.status_code == 200, page
    campaign.refresh_from_db()
    assert campaign.recipient_count == 1
    assert "gone.png" in page  # the rejected row says which file the zip lacks


def test_request_changes_records_who_when_and_why(workspace: Workspace, editor: Client) -> None:
    campaign = _campaign(workspace)
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.AWAITING_APPROVAL)
    empty = editor.post(f"/campaigns/{campaign.pk}/request-changes/", {"comment": " "}, follow=True)
    assert "Say what should change." in empty.content.decode()
    editor.post(f"/campaigns/{campaign.pk}/request-changes/", {"comment": "Logo too small"})
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.DRAFT
    assert campaign.status_reason.startswith(f"Changes requested by user:{editor.member.user.username} on ")  # type: ignore[attr-defined]  # set by member_client
    assert campaign.status_reason.endswith(": Logo too small")


def test_members_invite_change_role_and_keep_an_owner(workspace: Workspace, owner: Client) -> None:
    response = owner.post("/members/", {"email": "new@example.com", "role": "viewer"})
    assert response.status_code == 200
    assert "/reset/" in response.content.decode()
    assert owner.post("/members/", {"email": "new@example.com", "role": "viewer"}).status_code == 400
    member = Membership.objects.get(user__username="new@example.com")
    owner.post(f"/members/{member.pk}/role/", {"role": "editor"})
    member.refresh_from_db()
    assert member.role == "editor"
    me = owner.member  # type: ignore[attr-defined]  # set by member_client
    demoted = owner.post(f"/members/{me.pk}/role/", {"role": "viewer"}, follow=True)
    assert "at least one owner" in demoted.content.decode()
    owner.post(f"/members/{member.pk}/remove/")
    assert not Membership.objects.filter(pk=member.pk).exists()


def test_api_keys_are_shown_once_and_revoked(workspace: Workspace, owner: Client) -> None:
    created = owner.post("/api-keys/", {"name": "zapier"})
    key = ApiKey.objects.get()
    shown = re.search(r'id="raw-key" type="text" readonly value="([^"]+)"', created.content.decode())
    assert shown is not None
    assert shown.group(1).startswith(f"rsk_{key.prefix}_")
    assert created["Cache-Control"] == "no-store"
    listed = owner.get("/api-keys/").content.decode()
    assert f"rsk_{key.prefix}_…" in listed
    assert shown.group(1) not in listed
    owner.post(f"/api-keys/{key.pk}/revoke/")
    key.refresh_from_db()
    assert key.revoked_at is not None


def test_stripes_return_page_answers_200(owner: Client) -> None:
    assert owner.get("/billing?checkout=success").status_code == 200
    assert owner.get("/billing/")["Location"] == "/billing"


@pytest.mark.parametrize(
    ("path", "make"),
    [
        ("/campaigns/", lambda ws, i: _campaign(ws, name=f"C{i}", recipients=2)),
        ("/brands/", lambda ws, i: brand_create(workspace=ws, name=f"B{i}", colors=COLORS)),
        ("/templates/", lambda ws, i: template_create(workspace=ws, name=f"T{i}", spec=small_spec())),
        ("/", lambda ws, i: _running_campaign(ws, name=f"H{i}")),
        ("/members/", lambda ws, i: member_invite(workspace=ws, email=f"m{i}@example.com", role="viewer")),
        ("/api-keys/", lambda ws, i: api_key_create(workspace=ws, name=f"k{i}")),
    ],
)
def test_a_pages_query_count_does_not_grow_with_its_list(
    workspace: Workspace, owner: Client, django_assert_max_num_queries: Any, path: str, make: Any
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    make(workspace, 0)
    with CaptureQueriesContext(connection) as one:
        assert owner.get(path).status_code == 200
    for i in range(1, 8):
        make(workspace, i)
    with django_assert_max_num_queries(len(one.captured_queries)):
        assert owner.get(path).status_code == 200


def test_the_campaign_pages_query_count_does_not_grow_with_recipients(
    workspace: Workspace, owner: Client, django_assert_max_num_queries: Any
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    small = _campaign(workspace, name="small", recipients=1)
    big = _campaign(workspace, name="big", recipients=40)
    with CaptureQueriesContext(connection) as one:
        assert owner.get(f"/campaigns/{small.pk}/").status_code == 200
    with django_assert_max_num_queries(len(one.captured_queries)):
        page = owner.get(f"/campaigns/{big.pk}/")
    assert "Page 1 of 2 (40 in all)" in page.content.decode()
