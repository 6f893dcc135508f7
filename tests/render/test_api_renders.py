"""Renders through the public API: request validation, idempotency, tenancy, cancel, and the whole flow."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from render.models import Generation, Render, RenderStatus
from render.services import IDEMPOTENCY_CONFLICT
from tests.factories import small_spec


def make_template(api: APIClient, spec: dict | None = None) -> str:
    response = api.post("/api/v1/templates/", {"name": "Hello", "spec": spec or small_spec()}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()["id"]


def make_brand(api: APIClient) -> str:
    response = api.post(
        "/api/v1/brands/",
        {"name": "Acme", "colors": {"primary": "#1F3A93", "secondary": "#FF7A00", "text": "#FFFFFF"}},
        format="json",
    )
    return response.json()["id"]


def request_render(api: APIClient, template: str, brand: str, variables: dict, **extra: Any):
    headers = {}
    if "idempotency_key" in extra:
        headers["HTTP_IDEMPOTENCY_KEY"] = extra.pop("idempotency_key")
    return api.post(
        "/api/v1/renders/",
        {"template": template, "brand": brand, "variables": variables, **extra},
        format="json",
        **headers,
    )


@pytest.mark.django_db
class TestRequestValidation:
    def test_missing_required_variable_names_it(self, api: APIClient) -> None:
        response = request_render(api, make_template(api), make_brand(api), {"company": "Acme"})
        assert response.status_code == 400
        assert response.json()["fields"] == {"variables.first_name": ["This field is required."]}

    def test_too_long_and_unknown_variables_name_them(self, api: APIClient) -> None:
        response = request_render(
            api, make_template(api), make_brand(api), {"first_name": "x" * 33, "nick": "y"}
        )
        assert response.status_code == 400
        assert set(response.json()["fields"]) == {"variables.first_name", "variables.nick"}

    def test_non_object_variables(self, api: APIClient) -> None:
        response = request_render(api, make_template(api), make_brand(api), "Zoë")  # type: ignore[arg-type]
        assert response.status_code == 400
        assert "variables" in response.json()["fields"]

    def test_unknown_version_names_it(self, api: APIClient) -> None:
        response = request_render(api, make_template(api), make_brand(api), {"first_name": "Zoë"}, version=7)
        assert response.status_code == 400
        assert "version" in response.json()["fields"]

    def test_bad_callback_url(self, api: APIClient) -> None:
        response = request_render(
            api,
            make_template(api),
            make_brand(api),
            {"first_name": "Zoë"},
            callback_url="javascript:alert(1)",
        )
        assert response.status_code == 400
        assert "callback_url" in response.json()["fields"]

    def test_not_a_uuid_template(self, api: APIClient) -> None:
        response = request_render(api, "../../etc", make_brand(api), {"first_name": "Zoë"})
        assert response.status_code == 400
        assert "template" in response.json()["fields"]

    def test_bad_status_filter(self, api: APIClient) -> None:
        response = api.get("/api/v1/renders/?status=bogus")
        assert response.status_code == 400
        assert "status" in response.json()["fields"]


@pytest.mark.django_db
class TestIdempotency:
    def test_same_key_same_body_same_render(self, api: APIClient) -> None:
        template, brand = make_template(api), make_brand(api)
        first = request_render(api, template, brand, {"first_name": "Zoë"}, idempotency_key="abc")
        again = request_render(api, template, brand, {"first_name": "Zoë"}, idempotency_key="abc")
        assert first.status_code == again.status_code == 202
        assert first.json()["id"] == again.json()["id"]
        assert Render.objects.count() == 1

    def test_same_key_other_body_conflicts(self, api: APIClient) -> None:
        template, brand = make_template(api), make_brand(api)
        request_render(api, template, brand, {"first_name": "Zoë"}, idempotency_key="abc")
        other = request_render(api, template, brand, {"first_name": "Zack"}, idempotency_key="abc")
        assert other.status_code == 409
        assert other.json()["message"] == IDEMPOTENCY_CONFLICT
        assert Render.objects.count() == 1

    def test_keys_are_per_workspace(self, api: APIClient, other_api: APIClient) -> None:
        mine = request_render(
            api, make_template(api), make_brand(api), {"first_name": "A"}, idempotency_key="k"
        )
        theirs = request_render(
            other_api,
            make_template(other_api),
            make_brand(other_api),
            {"first_name": "A"},
            idempotency_key="k",
        )
        assert mine.status_code == theirs.status_code == 202
        assert mine.json()["id"] != theirs.json()["id"]


@pytest.mark.django_db
class TestTenancy:
    """Another workspace's ids answer exactly like ids that do not exist, and change nothing (R11)."""

    def test_every_route_hides_foreign_objects(self, api: APIClient, other_api: APIClient) -> None:
        template, brand = make_template(other_api), make_brand(other_api)
        render = request_render(other_api, template, brand, {"first_name": "Zoë"}).json()["id"]
        missing = "00000000-0000-0000-0000-000000000000"
        routes = [
            ("get", "/api/v1/brands/{}/"),
            ("post", "/api/v1/brands/{}/assets/"),
            ("get", "/api/v1/templates/{}/"),
            ("post", "/api/v1/templates/{}/versions/"),
            ("post", "/api/v1/templates/{}/assets/"),
            ("get", "/api/v1/templates/{}/versions/1/"),
            ("get", "/api/v1/renders/{}/"),
            ("post", "/api/v1/renders/{}/cancel/"),
        ]
        ids = {"brands": brand, "templates": template, "renders": render}
        for method, route in routes:
            foreign_id = ids[route.split("/")[3]]
            foreign = getattr(api, method)(route.format(foreign_id), {}, format="json")
            nonexistent = getattr(api, method)(route.format(missing), {}, format="json")
            assert foreign.status_code == nonexistent.status_code == 404, route
            assert foreign.json() == nonexistent.json(), route
        assert Render.objects.get(pk=render).status != RenderStatus.CANCELED

    def test_foreign_template_and_brand_in_a_body_read_as_missing(
        self, api: APIClient, other_api: APIClient
    ) -> None:
        foreign = request_render(api, make_template(other_api), make_brand(other_api), {"first_name": "Zoë"})
        missing = request_render(
            api,
            "00000000-0000-0000-0000-000000000000",
            "00000000-0000-0000-0000-000000000000",
            {"first_name": "Z"},
        )
        assert foreign.status_code == missing.status_code == 400
        assert foreign.json() == missing.json()

    def test_lists_show_only_own_objects(self, api: APIClient, other_api: APIClient) -> None:
        request_render(other_api, make_template(other_api), make_brand(other_api), {"first_name": "Zoë"})
        assert api.get("/api/v1/renders/").json()["results"] == []
        assert api.get("/api/v1/templates/").json()["results"] == []
        assert api.get("/api/v1/brands/").json()["results"] == []


@pytest.mark.django_db
def test_cancel_a_queued_render(api: APIClient) -> None:
    render = request_render(api, make_template(api), make_brand(api), {"first_name": "Zoë"}).json()
    assert render["status"] == "queued"
    canceled = api.post(f"/api/v1/renders/{render['id']}/cancel/")
    assert canceled.status_code == 202
    assert canceled.json()["status"] == "canceled"
    assert api.post(f"/api/v1/renders/{render['id']}/cancel/").status_code == 202  # idempotent


@pytest.mark.django_db
def test_filters(api: APIClient) -> None:
    template, brand = make_template(api), make_brand(api)
    a = request_render(api, template, brand, {"first_name": "A"}, external_id="crm-1").json()
    request_render(api, template, brand, {"first_name": "B"}, external_id="crm-2")
    api.post(f"/api/v1/renders/{a['id']}/cancel/")
    assert [r["id"] for r in api.get("/api/v1/renders/?external_id=crm-1").json()["results"]] == [a["id"]]
    assert [r["id"] for r in api.get("/api/v1/renders/?status=canceled").json()["results"]] == [a["id"]]
    assert len(api.get("/api/v1/renders/?status=queued").json()["results"]) == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("run_tasks_inline")
def test_identical_pictures_are_generated_once(api: APIClient) -> None:
    template, brand = make_template(api), make_brand(api)
    for name in ("Zoë", "Zack", "Zed"):
        assert (
            request_render(api, template, brand, {"first_name": name, "industry": "bakery"}).status_code
            == 202
        )
    request_render(api, template, brand, {"first_name": "Ann", "industry": "florist"})
    assert Generation.objects.count() == 2
    assert sorted(Generation.objects.values_list("runs", flat=True)) == [1, 1]
    assert set(Render.objects.values_list("status", flat=True)) == {RenderStatus.SUCCEEDED}
