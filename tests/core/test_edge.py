"""No 500 from input (docs/reliability.md R17): what the API reads is bounded at the edge, and every refusal is
a 4xx in the one error shape naming the field. Each test here is a reproduction that answered 500 (or
silently did something else) before."""

from __future__ import annotations

import base64
import json
import socket
import uuid
from typing import Any

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from campaigns.models import Campaign, WebhookEndpoint
from core.errors import ApplicationError
from core.models import Brand
from core.pagination import INVALID_CURSOR, INVALID_PAGE_SIZE
from core.parsers import MAX_JSON_DEPTH, TOO_DEEP
from core.services import workspace_get_or_create
from core.text import NAME_BIDI, NUL, SURROGATE
from render.models import Render
from tests.campaigns.helpers import make_campaign
from tests.render.test_api_renders import make_brand, make_template, request_render

pytestmark = pytest.mark.django_db

LISTS = [
    "/api/v1/brands/",
    "/api/v1/templates/",
    "/api/v1/renders/",
    "/api/v1/campaigns/",
    "/api/v1/webhooks/",
    "/api/v1/webhooks/{endpoint}/deliveries/",
    "/api/v1/integrations/",
]


def _raw(api: APIClient, method: str, path: str, body: str | bytes, **headers: Any) -> Any:
    return api.generic(method, path, body, content_type="application/json", **headers)  # type: ignore[arg-type]  # bytes are sent as they are


def _error_shape(response: Any) -> dict[str, Any]:
    assert response["Content-Type"].startswith("application/json"), response.content[:200]
    body: dict[str, Any] = response.json()
    assert isinstance(body["message"], str)
    assert set(body) <= {"message", "fields"}
    return body


def _deep(depth: int) -> str:
    return "[" * depth + "]" * depth


class TestBodies:
    def test_a_body_over_5_mib_is_413_in_the_error_shape(self, api: APIClient) -> None:
        big = json.dumps({"name": "x" * (6 * 1024 * 1024), "colors": {}})
        response = _raw(api, "POST", "/api/v1/brands/", big)
        assert response.status_code == 413
        assert "5242880 bytes" in _error_shape(response)["message"]
        assert not Brand.objects.exists()

    def test_outside_the_api_too_413_not_djangos_html_page(self, api: APIClient) -> None:
        big = b"{" + b" " * (6 * 1024 * 1024) + b"}"
        for path in ("/stripe/webhook/", f"/inbound/{uuid.uuid4()}/"):
            response = _raw(APIClient(), "POST", path, big)
            assert response.status_code == 413, path
            _error_shape(response)

    def test_a_multipart_field_over_5_mib_is_413(self, api: APIClient) -> None:
        brand = make_brand(api)
        response = api.post(
            f"/api/v1/brands/{brand}/assets/", {"kind": "x" * (6 * 1024 * 1024)}, format="multipart"
        )
        assert response.status_code == 413
        _error_shape(response)

    def test_json_nested_1000_deep_is_400_on_every_json_operation(self, api: APIClient) -> None:
        ids = _one_of_everything(api)
        schema = api.get("/api/v1/schema/", HTTP_ACCEPT="application/json").json()
        checked = 0
        for path, operations in schema["paths"].items():
            for method, operation in operations.items():
                content = operation.get("requestBody", {}).get("content", {})
                if "application/json" not in content or path.startswith("/inbound/"):
                    continue
                url = path.format(**{name: ids.get(name, str(uuid.uuid4())) for name in _params(path)})
                response = _raw(api, method.upper(), url, _deep(1000))
                assert response.status_code in (400, 404), (method, path, response.status_code)
                body = _error_shape(response)
                if all(name in ids for name in _params(path)):
                    assert response.status_code == 400, (method, path)
                    assert body["fields"] == {"body": [TOO_DEEP]}, (method, path)
                    checked += 1
        assert checked >= 15

    def test_depth_up_to_the_limit_parses(self, api: APIClient) -> None:
        nested: Any = "Zoë"
        for _ in range(MAX_JSON_DEPTH - 2):
            nested = [nested]
        response = request_render(api, make_template(api), make_brand(api), {"first_name": nested})
        assert response.status_code == 400
        assert response.json()["fields"] == {"variables.first_name": ["Must be text."]}

    def test_malformed_json_names_line_and_column_without_python_internals(self, api: APIClient) -> None:
        response = _raw(api, "POST", "/api/v1/brands/", '{"name": "Acme",\n "colors": ')
        assert response.status_code == 400
        body = _error_shape(response)
        assert body["message"] == "Malformed JSON: Expecting value at line 2, column 12."
        assert "char" not in body["message"]
        assert "parse error" not in body["message"]
        not_utf8 = _raw(api, "POST", "/api/v1/brands/", b'{"name": "\xff"}')
        assert not_utf8.status_code == 400
        assert _error_shape(not_utf8)["message"] == "The body must be UTF-8 encoded JSON."

    def test_integers_beyond_64_bits_and_non_finite_numbers_are_named(self, api: APIClient) -> None:
        template = make_template(api)
        spec_body = '{"spec": {"scenes": [{"duration": NaN, "background": {"generate": {"seed": %s}}}]}}'
        response = _raw(api, "POST", f"/api/v1/templates/{template}/versions/", spec_body % ("9" * 400))
        assert response.status_code == 400
        fields = _error_shape(response)["fields"]
        assert fields == {
            "spec.scenes[0].duration": ["Numbers must be finite (no NaN or Infinity)."],
            "spec.scenes[0].background.generate.seed": ["Integers must be between -2^63 and 2^63-1."],
        }


class TestText:
    def test_nul_in_spec_strings_is_400_naming_the_path(self, api: APIClient) -> None:
        spec = json.loads(json.dumps(_spec_with_text("Hi\u0000{{first_name}}")))
        response = api.post("/api/v1/templates/", {"name": "T", "spec": spec}, format="json")
        assert response.status_code == 400
        assert _error_shape(response)["fields"] == {"spec.scenes[0].layers[0].text": [NUL]}

    def test_a_lone_surrogate_in_render_variables_is_400_naming_it(self, api: APIClient) -> None:
        template, brand = make_template(api), make_brand(api)
        body = json.dumps({"template": template, "brand": brand, "variables": {"first_name": "Zo\ud800"}})
        response = _raw(api, "POST", "/api/v1/renders/", body)
        assert response.status_code == 400
        assert _error_shape(response)["fields"] == {"variables.first_name": [SURROGATE]}
        assert not Render.objects.exists()

    def test_nul_in_a_recipient_external_id_is_400_naming_the_row(self, api: APIClient) -> None:
        campaign = make_campaign(api)
        response = api.post(
            f"/api/v1/campaigns/{campaign['id']}/recipients/",
            {"recipients": [{"first_name": "Ann", "external_id": "c-1\u0000"}]},
            format="json",
        )
        assert response.status_code == 400
        assert _error_shape(response)["fields"] == {"recipients[0].external_id": [NUL]}

    def test_a_key_that_cannot_be_echoed_names_its_parent(self, api: APIClient) -> None:
        template, brand = make_template(api), make_brand(api)
        body = json.dumps({"template": template, "brand": brand, "variables": {"\udfff": "x"}})
        response = _raw(api, "POST", "/api/v1/renders/", body)
        assert response.status_code == 400
        assert list(_error_shape(response)["fields"]) == ["variables"]

    @pytest.mark.parametrize("mark", ["\u202e", "\u202a", "\u2066", "\u2069", "\u0007"])
    def test_bidi_overrides_and_controls_are_refused_in_names(self, api: APIClient, mark: str) -> None:
        name = f"Acme{mark}gpj.exe"
        brand_body = {
            "name": name,
            "colors": {"primary": "#000000", "secondary": "#000000", "text": "#FFFFFF"},
        }
        answers = {
            "brand": api.post("/api/v1/brands/", brand_body, format="json"),
            "template": api.post(
                "/api/v1/templates/", {"name": name, "spec": _spec_with_text("Hi")}, format="json"
            ),
            "campaign": api.post(
                "/api/v1/campaigns/",
                {"name": name, "template": make_template(api), "brand": make_brand(api)},
                format="json",
            ),
            "integration": api.post(
                "/api/v1/integrations/",
                {
                    "kind": "generic",
                    "name": name,
                    "template": make_template(api),
                    "brand": make_brand(api),
                    "field_map": {"firstname": "first_name"},
                },
                format="json",
            ),
        }
        for what, response in answers.items():
            assert response.status_code == 400, what
            assert list(_error_shape(response)["fields"]) == ["name"], what
        with pytest.raises(ApplicationError) as refused:
            workspace_get_or_create(name=name)
        assert refused.value.fields == {"name": [NAME_BIDI if mark != "\u0007" else refused.value.message]}
        assert not Campaign.objects.filter(name=name).exists()


class TestUnknownFields:
    def test_a_typo_in_callback_url_is_400_naming_it(self, api: APIClient) -> None:
        response = request_render(
            api, make_template(api), make_brand(api), {"first_name": "Zoë"}, calback_url="https://x.test/"
        )
        assert response.status_code == 400
        assert list(_error_shape(response)["fields"]) == ["calback_url"]
        assert not Render.objects.exists()

    def test_nested_unknown_keys_are_named_with_their_path(self, api: APIClient) -> None:
        colors = {"primary": "#000000", "secondary": "#000000", "text": "#FFFFFF", "tertiary": "#FFFFFF"}
        response = api.post("/api/v1/brands/", {"name": "Acme", "colors": colors}, format="json")
        assert response.status_code == 400
        assert list(_error_shape(response)["fields"]) == ["colors.tertiary"]
        campaign = api.post(
            "/api/v1/campaigns/",
            {
                "name": "C",
                "template": make_template(api),
                "brand": make_brand(api),
                "schedule": {"cron": "0 9 * * *", "tz": "UTC"},
            },
            format="json",
        )
        assert campaign.status_code == 400
        assert list(_error_shape(campaign)["fields"]) == ["schedule.tz"]


class TestCallbackUrls:
    @pytest.mark.parametrize(
        "url", ["http://10.0.0.1/hook", "http://127.0.0.1:8080/", "http://[::1]/", "http://169.254.169.254/"]
    )
    def test_private_literal_addresses_are_400_at_request_time(self, api: APIClient, url: str) -> None:
        response = request_render(
            api, make_template(api), make_brand(api), {"first_name": "Zoë"}, callback_url=url
        )
        assert response.status_code == 400
        assert list(_error_shape(response)["fields"]) == ["callback_url"]
        assert not Render.objects.exists()

    def test_a_name_that_resolves_to_a_private_address_is_400(
        self, api: APIClient, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        def resolve(host: str, port: int) -> list[Any]:
            assert host == "hooks.customer.test"  # resolved, never connected to
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("192.168.1.20", port))]

        monkeypatch.setattr("core.outbound.host_resolve", resolve)
        template, brand = make_template(api), make_brand(api)
        url = "https://hooks.customer.test/reelsmith"
        render = request_render(api, template, brand, {"first_name": "Zoë"}, callback_url=url)
        integration = api.post(
            "/api/v1/integrations/",
            {
                "kind": "generic",
                "template": template,
                "brand": brand,
                "field_map": {"firstname": "first_name"},
                "callback_url": url,
            },
            format="json",
        )
        for response in (render, integration):
            assert response.status_code == 400
            assert list(_error_shape(response)["fields"]) == ["callback_url"]


class TestLists:
    @pytest.mark.parametrize(
        "raw", [b"p=abc", b"p=2026-13-01 00:00:00+00:00", b"p=2026-01-01", b"o=x", b"\xff"]
    )
    def test_a_crafted_cursor_is_400_naming_cursor_on_every_list(self, api: APIClient, raw: bytes) -> None:
        endpoint = _endpoint(api)
        cursor = base64.b64encode(raw).decode()
        for path in LISTS:
            response = api.get(path.format(endpoint=endpoint), {"cursor": cursor})
            assert response.status_code == 400, path
            assert _error_shape(response)["fields"] == {"cursor": [INVALID_CURSOR]}, path

    def test_cursors_handed_out_still_work(self, api: APIClient) -> None:
        for index in range(3):
            api.post(
                "/api/v1/brands/",
                {
                    "name": f"B{index}",
                    "colors": {"primary": "#000000", "secondary": "#000000", "text": "#FFFFFF"},
                },
                format="json",
            )
        first = api.get("/api/v1/brands/", {"page_size": 2}).json()
        second = api.get(first["next"])
        assert second.status_code == 200
        assert len(first["results"]) + len(second.json()["results"]) == 3

    @pytest.mark.parametrize("size", ["0", "201", "-1", "abc", "9" * 40])
    def test_page_size_outside_1_to_200_is_400(self, api: APIClient, size: str) -> None:
        response = api.get("/api/v1/renders/", {"page_size": size})
        assert response.status_code == 400
        assert _error_shape(response)["fields"] == {"page_size": [INVALID_PAGE_SIZE]}


# --- builders -----------------------------------------------------------------------------------------------


def _params(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{")]


def _spec_with_text(text: str) -> dict[str, Any]:
    return {
        "format": {"width": 180, "height": 320, "fps": 10},
        "variables": {"first_name": {"type": "text", "required": True}},
        "scenes": [
            {
                "duration": 1.0,
                "background": {"color": "#000000"},
                "layers": [{"type": "text", "text": text, "box": [0.1, 0.1, 0.8, 0.2]}],
            }
        ],
    }


def _endpoint(api: APIClient) -> str:
    settings.OUTBOUND_ALLOW_PRIVATE = True
    try:
        response = api.post(
            "/api/v1/webhooks/",
            {"url": "http://127.0.0.1:9/hook", "events": ["render.failed"]},
            format="json",
        )
    finally:
        settings.OUTBOUND_ALLOW_PRIVATE = False
    assert response.status_code == 201, response.json()
    return str(response.json()["id"])


def _one_of_everything(api: APIClient) -> dict[str, str]:
    """An id for each kind of path parameter, all of `api`'s workspace."""
    template, brand = make_template(api), make_brand(api)
    campaign = make_campaign(api)
    endpoint = _endpoint(api)
    render = request_render(api, template, brand, {"first_name": "Zoë"}).json()["id"]
    integration = api.post(
        "/api/v1/integrations/",
        {"kind": "generic", "template": template, "brand": brand, "field_map": {"firstname": "first_name"}},
        format="json",
    ).json()["id"]
    ids = {
        "template_id": template,
        "brand_id": brand,
        "campaign_id": campaign["id"],
        "endpoint_id": endpoint,
        "render_id": render,
        "integration_id": integration,
        "version": "1",
    }
    assert WebhookEndpoint.objects.filter(pk=endpoint).exists()
    member = api.get("/api/v1/members/")
    if member.status_code == 200 and member.json()["results"]:
        ids["member_id"] = str(member.json()["results"][0]["id"])
    return ids
