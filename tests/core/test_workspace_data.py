"""A workspace's data as a whole (docs/trust.md): exported to a zip of JSON and files, and deleted whole by its
owner (the API, with the name typed again) or by support (the command), both audited; other workspaces and the
audit chains stay intact."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from rest_framework.test import APIClient

from campaigns.models import Campaign, Recipient
from core.audit import audit_verify
from core.billing.models import BillingAccount
from core.models import AuditChain, AuditEntry, Brand, Consent, Membership, Workspace
from core.storage import get_storage
from render.models import Render
from tests.campaigns.helpers import make_campaign, upload_json
from tests.core.test_api_brands import png_bytes, upload
from tests.core.test_consent import portrait_setup

BOB = {"email": "bob@example.com", "first_name": "Bob"}


def _filled(api: APIClient) -> dict[str, Any]:
    """A workspace with a brand logo, a campaign, a recipient and their finished render."""
    campaign = make_campaign(api)
    upload(api, campaign["brand"], "logo", png_bytes(), "logo.png")
    upload_json(api, campaign["id"], [BOB])
    api.post(f"/api/v1/campaigns/{campaign['id']}/samples/", {"count": 1}, format="json")
    return campaign


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("run_tasks_inline")
def test_a_workspace_is_exported_as_json_and_files(
    api: APIClient, workspace: Workspace, tmp_path: Path
) -> None:
    campaign = _filled(api)
    render = Render.objects.get(campaign_link__campaign_id=campaign["id"])
    out = tmp_path / "export.zip"
    call_command("export_workspace", workspace.name, "--out", str(out))
    with zipfile.ZipFile(out) as archive:
        names = set(archive.namelist())
        recipients = json.loads(archive.read("campaigns/recipients.json"))
        audit = json.loads(archive.read("core/audit.json"))
        integrations = archive.read("campaigns/integrations.json").decode()
        assert archive.read(f"files/{render.video_key}")[4:8] == b"ftyp"  # the video itself
    assert {
        "core/workspace.json",
        "core/brands.json",
        "templates/versions.json",
        "render/renders.json",
    } <= names
    assert [r["email"] for r in recipients] == [BOB["email"]]
    logo_key = Brand.objects.get(pk=campaign["brand"]).current_asset("logo").storage_key  # type: ignore[union-attr]
    assert f"files/{logo_key}" in names
    assert [e["seq"] for e in audit] == list(range(1, len(audit) + 1))
    assert "secret" not in integrations
    assert "token" not in integrations
    assert AuditEntry.objects.filter(workspace=workspace, action="workspace.exported").exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("run_tasks_inline")
def test_the_owner_deletes_the_workspace_whole(
    api: APIClient, other_api: APIClient, workspace: Workspace
) -> None:
    campaign = _filled(api)
    kept = _filled(other_api)
    render = Render.objects.get(campaign_link__campaign_id=campaign["id"])
    storage = get_storage()
    logo = Brand.objects.get(pk=campaign["brand"]).current_asset("logo")
    assert logo is not None
    files = [render.video_key, render.thumbnail_key, logo.storage_key]
    assert all(storage.exists(key) for key in files)
    workspace_id, name = workspace.pk, workspace.name

    editor = get_user_model().objects.create_user("ed@example.com", password="pw-for-tests-only")
    Membership.objects.create(workspace=workspace, user=editor, role="editor")
    client = APIClient()
    client.force_login(editor)
    assert client.post("/api/v1/workspace/delete/", {"confirm": name}, format="json").status_code == 403
    wrong = api.post("/api/v1/workspace/delete/", {"confirm": name.upper()}, format="json")
    assert wrong.status_code == 400
    assert list(wrong.json()["fields"]) == ["confirm"]
    BillingAccount.objects.update_or_create(workspace=workspace, defaults={"subscription_status": "active"})
    billing = api.post("/api/v1/workspace/delete/", {"confirm": name}, format="json")
    assert billing.status_code == 409
    assert "subscription" in billing.json()["message"]
    BillingAccount.objects.filter(workspace=workspace).update(subscription_status="canceled")

    assert api.post("/api/v1/workspace/delete/", {"confirm": name}, format="json").status_code == 202
    assert not Workspace.objects.filter(pk=workspace_id).exists()
    assert not Campaign.objects.filter(pk=campaign["id"]).exists()
    assert not Render.objects.filter(workspace_id=workspace_id).exists()
    assert not Recipient.objects.filter(campaign_id=campaign["id"]).exists()
    assert not any(storage.exists(key) for key in files)
    assert not AuditEntry.objects.filter(workspace_id=workspace_id).exists()
    assert not AuditChain.objects.filter(key=str(workspace_id)).exists()
    deleted = AuditEntry.objects.get(action="workspace.deleted")
    assert deleted.workspace_id is None
    assert deleted.object_id == str(workspace_id)
    # Its key went with it; the other workspace is whole and every chain still verifies.
    assert api.get("/api/v1/brands/").status_code == 401
    assert Render.objects.filter(campaign_link__campaign_id=kept["id"]).count() == 1
    assert other_api.get(f"/api/v1/campaigns/{kept['id']}/").status_code == 200
    assert audit_verify()[1] is None


@pytest.mark.django_db
def test_support_deletes_a_workspace_with_the_command(workspace: Workspace, api: APIClient) -> None:
    make_campaign(api)
    portrait_setup(api)  # a consent, and a portrait that names it
    evidence = Consent.objects.get(workspace=workspace).evidence_key
    assert get_storage().exists(evidence)
    with pytest.raises(CommandError, match="Type the workspace's name exactly"):
        call_command("delete_workspace", str(workspace.pk), "--confirm", "something else")
    call_command("delete_workspace", str(workspace.pk), "--confirm", workspace.name, "--by", "ticket-7")
    assert not Workspace.objects.filter(pk=workspace.pk).exists()
    assert AuditEntry.objects.get(action="workspace.deleted").actor == "support:ticket-7"
    assert not Consent.objects.exists()
    assert not get_storage().exists(evidence)
    with pytest.raises(CommandError, match="No workspace"):
        call_command("delete_workspace", "nope", "--confirm", "nope")
