"""The dashboard's session auth: a signed-in member acts for their workspace, nobody else's."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from core.models import Membership
from tests.factories import BrandFactory, WorkspaceFactory

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
