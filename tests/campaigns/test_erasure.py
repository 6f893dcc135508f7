"""Erasing a recipient on request (docs/trust.md): through the API, the dashboard and support's command, their
values, their render's files (every one, checked in storage: SeaweedFS in service mode), the pictures generated
for them alone, their watch page and its events are gone after one task run; an audit entry says so without
naming them; everyone else's work stays."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from rest_framework.test import APIClient

from campaigns.models import Campaign, Recipient
from core.models import AuditEntry, Membership, Workspace
from core.storage import get_storage
from render.models import Generation, Render, RenderStatus, WatchEvent, WatchPage
from tests.campaigns.helpers import make_campaign, upload_json
from tests.factories import small_spec
from tests.render.test_api_renders import make_brand, make_template

ALICE = {
    "email": "alice@example.com",
    "external_id": "crm-alice",
    "first_name": "Alice",
    "industry": "bakery",
}
BOB = {"email": "bob@example.com", "external_id": "crm-bob", "first_name": "Bob", "industry": "florist"}
CAROL = {"email": "carol@example.com", "external_id": "crm-carol", "first_name": "Carol"}


def _recipients(campaign_id: str) -> dict[str, Recipient]:
    return {r.email: r for r in Recipient.objects.filter(campaign_id=campaign_id)}


def _keys(render: Render) -> list[str]:
    return [
        output[k] for output in render.outputs for k in ("video_key", "poster_key", "gif_key", "captions_key")
    ]


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("run_tasks_inline")
def test_an_erased_recipients_files_values_and_watch_page_are_gone(
    api: APIClient, workspace: Workspace
) -> None:
    # The generated background's prompt holds the recipient's industry: a picture made for them alone.
    template = make_template(api, small_spec())
    response = api.post(
        "/api/v1/campaigns/",
        {"name": "Spring", "template": template, "brand": make_brand(api)},
        format="json",
    )
    campaign = response.json()["id"]
    upload_json(api, campaign, [ALICE, BOB, CAROL])
    assert api.post(f"/api/v1/campaigns/{campaign}/samples/", {"count": 2}, format="json").status_code == 202
    people = _recipients(campaign)
    alice_render = Render.objects.get(campaign_link__recipient=people[ALICE["email"]])
    bob_render = Render.objects.get(campaign_link__recipient=people[BOB["email"]])
    assert alice_render.status == bob_render.status == RenderStatus.SUCCEEDED
    storage = get_storage()
    alice_keys, bob_keys = _keys(alice_render), _keys(bob_render)
    alice_pictures = list(Generation.objects.filter(render_links__render=alice_render))
    assert alice_pictures
    assert all(storage.exists(g.output_key) for g in alice_pictures)
    assert all(storage.exists(key) for key in alice_keys + bob_keys)
    page = WatchPage.objects.get(render=alice_render)
    WatchEvent.objects.create(page=page, kind="view", session="s-1", viewer="v-1")
    assert api.get(f"/w/{page.token}").status_code == 200

    erased = api.delete(f"/api/v1/campaigns/{campaign}/recipients/{people[ALICE['email']].pk}/")
    assert erased.status_code == 202
    # One task run later (embedded: before the answer), nothing of Alice is left.
    assert not Recipient.objects.filter(email=ALICE["email"]).exists()
    assert not any(storage.exists(key) for key in alice_keys)
    assert not any(storage.exists(g.output_key) for g in alice_pictures)
    assert not Generation.objects.filter(pk__in=[g.pk for g in alice_pictures]).exists()
    assert not WatchPage.objects.filter(render=alice_render).exists()
    assert not WatchEvent.objects.filter(session="s-1").exists()
    assert api.get(f"/w/{page.token}").status_code == 404
    render = api.get(f"/api/v1/renders/{alice_render.pk}/").json()
    assert render["variables"] == {}
    assert render["external_id"] == ""
    assert render["video_url"] is None
    assert render["outputs_erased_reason"] == "Erased at the recipient's request."
    assert "Alice" not in str(render)
    assert "bakery" not in str(render)
    # Bob's are untouched.
    assert all(storage.exists(key) for key in bob_keys)
    assert api.get(f"/api/v1/renders/{bob_render.pk}/").json()["variables"]["first_name"] == "Bob"
    results: Any = api.get(f"/api/v1/campaigns/{campaign}/results.csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(results.streaming_content).decode())))
    assert {row["email"] for row in rows} == {BOB["email"], CAROL["email"]}

    entry = AuditEntry.objects.get(action="recipient.erased")
    assert entry.object_id == str(people[ALICE["email"]].pk)
    after: dict[str, Any] = entry.after or {}
    assert set(after) == {"campaign", "renders", "objects_deleted"}
    assert after["campaign"] == campaign
    assert after["renders"] == 1
    assert after["objects_deleted"] >= len(alice_keys) + len(alice_pictures)
    logged = str(list(AuditEntry.objects.filter(workspace=workspace).values("before", "after", "object_id")))
    for personal in ALICE.values():
        assert personal not in logged
    call_command("audit_verify")
    # A second run (a redelivered task) finds nothing to do.
    from campaigns.erasure import recipient_erase

    assert recipient_erase(recipient_id=people[ALICE["email"]].pk) is False


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("run_tasks_inline")
def test_a_campaign_whose_last_recipient_was_erased_before_their_turn_completes(api: APIClient) -> None:
    campaign = make_campaign(api)["id"]
    upload_json(api, campaign, [BOB, CAROL])
    api.post(f"/api/v1/campaigns/{campaign}/samples/", {"count": 1}, format="json")
    carol = _recipients(campaign)[CAROL["email"]]
    assert api.delete(f"/api/v1/campaigns/{campaign}/recipients/{carol.pk}/").status_code == 202
    api.post(f"/api/v1/campaigns/{campaign}/approve/")
    assert api.post(f"/api/v1/campaigns/{campaign}/launch/").status_code == 202
    assert Campaign.objects.get(pk=campaign).status == Campaign.Status.COMPLETED


@pytest.mark.django_db
@pytest.mark.usefixtures("run_tasks_inline")  # the erasure's task, in either mode
def test_a_render_still_queued_is_canceled_and_erased(
    api: APIClient, django_capture_on_commit_callbacks: Any
) -> None:
    campaign = make_campaign(api)["id"]
    upload_json(api, campaign, [BOB])
    api.post(f"/api/v1/campaigns/{campaign}/samples/", {"count": 1}, format="json")  # tasks never ran
    bob = _recipients(campaign)[BOB["email"]]
    render = Render.objects.get(campaign_link__recipient=bob)
    assert render.status == RenderStatus.QUEUED
    with django_capture_on_commit_callbacks(execute=True):
        assert api.delete(f"/api/v1/campaigns/{campaign}/recipients/{bob.pk}/").status_code == 202
    render.refresh_from_db()
    assert render.status == RenderStatus.CANCELED
    assert render.variables == {}
    assert render.outputs_erased_at is not None


@pytest.mark.django_db
def test_only_this_workspaces_editors_erase(
    api: APIClient, other_api: APIClient, workspace: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    campaign = make_campaign(api)["id"]
    upload_json(api, campaign, [BOB])
    bob = _recipients(campaign)[BOB["email"]]
    path = f"/api/v1/campaigns/{campaign}/recipients/{bob.pk}/"
    assert other_api.delete(path).status_code == 404
    assert (
        api.delete(
            f"/api/v1/campaigns/{campaign}/recipients/00000000-0000-0000-0000-000000000000/"
        ).status_code
        == 404
    )
    assert api.delete(f"/api/v1/campaigns/{campaign}/recipients/not-an-id/").status_code == 404
    viewer = get_user_model().objects.create_user("viewer@example.com", password="pw-for-tests-only")
    Membership.objects.create(workspace=workspace, user=viewer, role="viewer")
    client = APIClient()
    client.force_login(viewer)
    refused = client.delete(path)
    assert refused.status_code == 403
    assert refused.json() == {"message": "This needs the editor role; yours is viewer."}
    assert Recipient.objects.filter(pk=bob.pk).exists()


@pytest.mark.django_db
@pytest.mark.usefixtures("run_tasks_inline")
def test_the_dashboard_erases_from_the_recipient_row(
    api: APIClient, workspace: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    campaign = make_campaign(api)["id"]
    upload_json(api, campaign, [BOB, CAROL])
    editor = get_user_model().objects.create_user("ed@example.com", password="pw-for-tests-only")
    Membership.objects.create(workspace=workspace, user=editor, role="editor")
    client = APIClient()
    client.force_login(editor)
    page = client.get(f"/campaigns/{campaign}/").content.decode()
    bob = _recipients(campaign)[BOB["email"]]
    action = f"/campaigns/{campaign}/recipients/{bob.pk}/erase/"
    assert action in page
    assert "hx-confirm" in page
    with django_capture_on_commit_callbacks(execute=True):
        swapped = client.post(action, HTTP_HX_REQUEST="true")
    assert swapped.status_code == 200
    assert "Erased" in swapped.content.decode()
    assert set(_recipients(campaign)) == {CAROL["email"]}
    carol = _recipients(campaign)[CAROL["email"]]
    with django_capture_on_commit_callbacks(execute=True):
        plain = client.post(f"/campaigns/{campaign}/recipients/{carol.pk}/erase/")
    assert plain.status_code == 302
    assert not _recipients(campaign)


@pytest.mark.django_db
def test_support_erases_a_person_by_email_everywhere_or_in_one_workspace(
    api: APIClient, other_api: APIClient, capsys: pytest.CaptureFixture[str]
) -> None:
    mine = make_campaign(api)["id"]
    again = make_campaign(api)["id"]
    theirs = make_campaign(other_api)["id"]
    for client, campaign in ((api, mine), (api, again), (other_api, theirs)):
        upload_json(client, campaign, [BOB, CAROL])
    call_command("erase_recipient", "--email", "BOB@example.com", "--workspace", str(other_api.workspace.pk))  # type: ignore[attr-defined]
    assert "Erased 1 recipient(s)." in capsys.readouterr().out
    assert Recipient.objects.filter(email=BOB["email"]).count() == 2
    call_command("erase_recipient", "--email", "bob@example.com", "--by", "ticket-42")
    assert not Recipient.objects.filter(email=BOB["email"]).exists()
    assert Recipient.objects.filter(email=CAROL["email"]).count() == 3
    entries = AuditEntry.objects.filter(action="recipient.erased")
    assert entries.count() == 3
    assert set(entries.values_list("actor", flat=True)) >= {"support:ticket-42"}
