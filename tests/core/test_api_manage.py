"""What the dashboard can do, the API can do: brands and their assets edited and deleted, API keys listed,
created and revoked, members invited, re-roled and removed (owners) — each error in the one shape."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from campaigns.models import Campaign
from campaigns.services import campaign_create
from core.models import ApiKey, Brand, BrandAsset, Membership, Workspace
from core.services import brand_asset_upload
from templates.services import template_create
from tests.core.test_api_brands import create_brand, png_bytes
from tests.factories import small_spec

pytestmark = pytest.mark.django_db


def test_a_brand_is_patched_partly_and_bad_colours_name_their_field(api: APIClient) -> None:
    brand = create_brand(api)
    path = f"/api/v1/brands/{brand['id']}/"
    bad = api.patch(path, {"colors": {"text": "white"}}, format="json")
    assert bad.status_code == 400
    assert bad.json() == {
        "message": "Invalid input.",
        "fields": {"colors.text": ["Must be a colour as #RRGGBB."]},
    }
    changed = api.patch(path, {"name": "Renamed", "colors": {"primary": "#abcdef"}}, format="json").json()
    assert changed["name"] == "Renamed"
    assert changed["colors"] == {"primary": "#ABCDEF", "secondary": "#445566", "text": "#FFFFFF"}


def test_a_brand_in_use_is_not_deleted_and_says_why(api: APIClient, workspace: Workspace) -> None:
    brand = create_brand(api)
    version = template_create(workspace=workspace, name="T", spec=small_spec())
    campaign = campaign_create(
        workspace=workspace, name="Spring", template_version=version, brand=Brand.objects.get(pk=brand["id"])
    )
    refused = api.delete(f"/api/v1/brands/{brand['id']}/")
    assert refused.status_code == 409
    assert refused.json()["message"].startswith("The campaign 'Spring' (Draft) still uses this brand")
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.COMPLETED)
    assert api.delete(f"/api/v1/brands/{brand['id']}/").status_code == 204
    assert api.get(f"/api/v1/brands/{brand['id']}/").status_code == 404
    assert Brand.objects.filter(pk=brand["id"], deleted_at__isnull=False).exists()


def test_an_asset_is_renamed_and_deleting_it_brings_back_the_previous_one(
    api: APIClient, other_api: APIClient
) -> None:
    brand = Brand.objects.get(pk=create_brand(api)["id"])
    first = brand_asset_upload(brand=brand, kind="logo", data=png_bytes((64, 32)), original_name="old.png")
    second = brand_asset_upload(brand=brand, kind="logo", data=png_bytes((32, 32)), original_name="new.png")
    path = f"/api/v1/brands/{brand.pk}/assets/{second.pk}/"
    assert api.get(path).json()["name"] == "new.png"
    assert api.patch(path, {"name": "Logo 2024.png"}, format="json").json()["name"] == "Logo 2024.png"
    assert api.patch(path, {"name": ""}, format="json").status_code == 400
    assert other_api.delete(path).status_code == 404
    assert api.delete(path).status_code == 204
    assert brand.current_asset("logo") == first
    assert api.get(f"/api/v1/brands/{brand.pk}/").json()["assets"]["logo"]["id"] == str(first.pk)
    assert api.get(path).status_code == 404
    assert BrandAsset.objects.count() == 1


def test_api_keys_are_listed_created_once_and_revoked(api: APIClient, other_api: APIClient) -> None:
    created = api.post("/api/v1/api-keys/", {"name": "zapier"}, format="json")
    assert created.status_code == 201
    assert created["Cache-Control"] == "no-store"
    body = created.json()
    assert body["key"].startswith(f"rsk_{body['prefix']}_")
    listed = api.get("/api/v1/api-keys/").json()["results"]
    assert "zapier" in {k["name"] for k in listed}
    assert all("key" not in k for k in listed)
    assert api.post("/api/v1/api-keys/", {"name": ""}, format="json").json()["fields"] == {
        "name": ["This field may not be blank."]
    }
    assert other_api.post(f"/api/v1/api-keys/{body['id']}/revoke/").status_code == 404
    revoked = api.post(f"/api/v1/api-keys/{body['id']}/revoke/").json()
    assert revoked["revoked_at"] is not None
    stale = APIClient()
    stale.credentials(HTTP_AUTHORIZATION=f"Bearer {body['key']}")
    assert stale.get("/api/v1/brands/").status_code == 401
    assert ApiKey.objects.get(pk=body["id"]).revoked_at is not None


def test_members_are_invited_re_roled_and_removed_keeping_an_owner(
    api: APIClient, workspace: Workspace
) -> None:
    invited = api.post("/api/v1/members/", {"email": "New@Example.com", "role": "viewer"}, format="json")
    assert invited.status_code == 201, invited.json()
    body = invited.json()
    assert (body["email"], body["role"]) == ("new@example.com", "viewer")
    assert "/reset/" in body["set_password_url"]
    again = api.post("/api/v1/members/", {"email": "new@example.com"}, format="json")
    assert again.status_code == 409
    assert list(again.json()["fields"]) == ["email"]
    bad_role = api.patch(f"/api/v1/members/{body['id']}/", {"role": "boss"}, format="json")
    assert bad_role.status_code == 400
    assert list(bad_role.json()["fields"]) == ["role"]
    owner = api.patch(f"/api/v1/members/{body['id']}/", {"role": "owner"}, format="json").json()
    assert owner["role"] == "owner"
    last = api.delete(f"/api/v1/members/{body['id']}/")
    assert last.status_code == 409
    assert "at least one owner" in last.json()["message"]
    assert [m["email"] for m in api.get("/api/v1/members/").json()["results"]] == ["new@example.com"]
    assert api.get("/api/v1/members/not-a-number/").status_code == 404
    other_owner = get_user_model().objects.create_user("o2@example.com")
    Membership.objects.create(workspace=workspace, user=other_owner, role=Membership.Role.OWNER)
    assert api.delete(f"/api/v1/members/{body['id']}/").status_code == 204
