"""Archiving a template: hidden from lists and refused for new renders, campaigns and integrations, kept
for what was already made with it; restored by PATCH."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from templates.selectors import TEMPLATE_ARCHIVED
from tests.factories import small_spec
from tests.render.test_api_renders import make_brand

pytestmark = pytest.mark.django_db


def _template(api: APIClient, name: str = "Hello") -> dict[str, Any]:
    response = api.post("/api/v1/templates/", {"name": name, "spec": small_spec()}, format="json")
    assert response.status_code == 201, response.json()
    body: dict[str, Any] = response.json()
    return body


def test_archive_hides_refuses_new_work_and_restore_brings_it_back(
    api: APIClient, other_api: APIClient
) -> None:
    kept, archived = _template(api, "Kept"), _template(api, "Old")
    brand = make_brand(api)
    assert other_api.delete(f"/api/v1/templates/{archived['id']}/").status_code == 404
    assert api.delete(f"/api/v1/templates/{archived['id']}/").status_code == 204
    assert [t["name"] for t in api.get("/api/v1/templates/").json()["results"]] == ["Kept"]
    listed = api.get("/api/v1/templates/?archived=true").json()["results"]
    assert [(t["name"], t["archived_at"] is not None) for t in listed] == [("Old", True)]
    detail = api.get(f"/api/v1/templates/{archived['id']}/").json()
    assert detail["archived_at"] is not None
    render = api.post(
        "/api/v1/renders/",
        {"template": archived["id"], "brand": brand, "variables": {"first_name": "Ann"}},
        format="json",
    )
    assert render.status_code == 400
    assert render.json()["fields"] == {"template": [TEMPLATE_ARCHIVED]}
    campaign = api.post(
        "/api/v1/campaigns/", {"name": "C", "template": archived["id"], "brand": brand}, format="json"
    )
    assert campaign.status_code == 400
    assert campaign.json()["fields"] == {"template": [TEMPLATE_ARCHIVED]}
    restored = api.patch(
        f"/api/v1/templates/{archived['id']}/", {"archived": False, "name": "Back"}, format="json"
    ).json()
    assert (restored["name"], restored["archived_at"]) == ("Back", None)
    assert {t["name"] for t in api.get("/api/v1/templates/").json()["results"]} == {"Kept", "Back"}
    assert api.patch(f"/api/v1/templates/{kept['id']}/", {"name": ""}, format="json").status_code == 400
