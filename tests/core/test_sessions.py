"""The dashboard's session auth: a signed-in member acts for their workspace, nobody else's, with their role."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from campaigns.models import Campaign
from campaigns.services import campaign_create
from core.models import Membership
from templates.services import template_create
from tests.factories import BrandFactory, WorkspaceFactory, api_key_for, small_spec

pytestmark = pytest.mark.django_db


def test_a_member_sees_their_workspace_and_picks_another_with_a_header() -> None:
    user = get_user_model().objects.create_user("marketer", password="pw-for-tests-only")
    first, second, foreign = WorkspaceFactory.create(), WorkspaceFactory.create(), WorkspaceFactory.create()
    Membership.objects.create(workspace=first, user=user)
    Membership.objects.create(workspace=second, user=user)
    mine = BrandFactory.create(workspace=first)
    theirs = BrandFactory.create(workspace=second)
    BrandFactory.create(workspace=foreign)
    client = APIClient()
    client.force_login(user)
    assert [b["id"] for b in client.get("/api/v1/brands/").json()["results"]] == [str(mine.pk)]
    listed = client.get("/api/v1/brands/", HTTP_X_WORKSPACE=str(second.pk)).json()["results"]
    assert [b["id"] for b in listed] == [str(theirs.pk)]
    assert client.get("/api/v1/brands/", HTTP_X_WORKSPACE=str(foreign.pk)).status_code == 401


def test_a_signed_in_user_without_a_workspace_is_refused() -> None:
    user = get_user_model().objects.create_user("drifter", password="pw-for-tests-only")
    client = APIClient()
    client.force_login(user)
    assert client.get("/api/v1/brands/").status_code == 401


def _signed_in(workspace: Any, role: str) -> APIClient:
    user = get_user_model().objects.create_user(f"{role}@example.com", password="pw-for-tests-only")
    Membership.objects.create(workspace=workspace, user=user, role=role)
    client = APIClient()
    client.force_login(user)
    return client


def test_a_viewers_session_reads_but_cannot_approve_or_launch() -> None:
    workspace = WorkspaceFactory.create()
    brand = BrandFactory.create(workspace=workspace)
    version = template_create(workspace=workspace, name="T", spec=small_spec())
    campaign = campaign_create(workspace=workspace, name="C", template_version=version, brand=brand)
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.AWAITING_APPROVAL)
    viewer = _signed_in(workspace, Membership.Role.VIEWER)
    assert viewer.get(f"/api/v1/campaigns/{campaign.pk}/").status_code == 200
    for action in ("approve", "launch", "samples", "cancel"):
        refused = viewer.post(f"/api/v1/campaigns/{campaign.pk}/{action}/", {}, format="json")
        assert refused.status_code == 403, action
        assert refused.json() == {"message": "This needs the editor role; yours is viewer."}
    assert viewer.post("/api/v1/brands/", {"name": "X"}, format="json").status_code == 403
    # The template preview is a read that takes a body: free, so viewers may ask for it.
    preview = viewer.post(f"/api/v1/templates/{version.template_id}/preview/", {}, format="json")
    assert preview.status_code == 200, preview.json()
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.AWAITING_APPROVAL
    assert campaign.approved_by == ""


def test_owners_alone_manage_billing_and_keys_while_api_keys_act_for_the_workspace() -> None:
    workspace = WorkspaceFactory.create()
    editor = _signed_in(workspace, Membership.Role.EDITOR)
    owner = _signed_in(workspace, Membership.Role.OWNER)
    for path in ("/api/v1/billing/", "/api/v1/api-keys/", "/api/v1/members/"):
        refused = editor.get(path)
        assert refused.status_code == 403, path
        assert refused.json()["message"] == "This needs the owner role; yours is editor."
        assert owner.get(path).status_code == 200, path
    keyed = APIClient()
    keyed.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_for(workspace)}")
    assert keyed.get("/api/v1/billing/").status_code == 200
    assert (
        keyed.post("/api/v1/brands/", {"name": "X"}, format="json").status_code == 400
    )  # past the role check


def test_session_writes_need_the_csrf_token() -> None:
    workspace = WorkspaceFactory.create()
    user = get_user_model().objects.create_user("ed@example.com", password="pw-for-tests-only")
    Membership.objects.create(workspace=workspace, user=user, role=Membership.Role.EDITOR)
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(user)
    refused = client.post("/api/v1/brands/", {"name": "X"}, format="json")
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["message"]
