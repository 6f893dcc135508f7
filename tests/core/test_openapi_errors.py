"""The OpenAPI document describes what the API answers (docs/reliability.md R17): lists as pages, every 4xx
in the error shape, request bodies that refuse unknown keys. schemathesis holds the whole document to it
(tests/core/test_schema_fuzz.py); these are the reproductions of the 49 mismatches it once found."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

LIST_PATHS = [
    "/api/v1/brands/",
    "/api/v1/templates/",
    "/api/v1/renders/",
    "/api/v1/campaigns/",
    "/api/v1/webhooks/",
    "/api/v1/webhooks/{endpoint_id}/deliveries/",
    "/api/v1/integrations/",
]


@pytest.fixture
def schema(api: APIClient) -> dict[str, Any]:
    response = api.get("/api/v1/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    return node


def _operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, methods in schema["paths"].items()
        for method, operation in methods.items()
    ]


def test_every_list_is_a_page_of_results_next_and_previous(schema: dict[str, Any]) -> None:
    for path in LIST_PATHS:
        operation = schema["paths"][path]["get"]
        page = _resolve(schema, operation["responses"]["200"]["content"]["application/json"]["schema"])
        assert page["type"] == "object", path
        assert set(page["required"]) == {"results", "next", "previous"}, path
        assert page["properties"]["results"]["type"] == "array", path
        parameters = {p["name"]: p for p in operation["parameters"]}
        assert "cursor" in parameters, path
        assert parameters["page_size"]["schema"] == {"type": "integer", "minimum": 1, "maximum": 200}, path


def test_every_operation_declares_its_4xx_in_the_error_shape(schema: dict[str, Any]) -> None:
    error = schema["components"]["schemas"]["Error"]
    assert error["required"] == ["message"]
    assert set(error["properties"]) == {"message", "fields"}
    for path, method, operation in _operations(schema):
        responses = operation["responses"]
        expected = {"401", "403", "429"}
        if "requestBody" in operation:
            expected |= {"400", "413", "415"}
        if "{" in path:
            expected.add("404")
        if method != "get":
            expected.add("409")
        assert expected <= set(responses), (method, path, sorted(responses))
        for code in expected:
            content = responses[code]["content"]["application/json"]["schema"]
            assert content == {"$ref": "#/components/schemas/Error"}, (method, path, code)


def test_renders_and_samples_declare_402(schema: dict[str, Any]) -> None:
    assert "402" in schema["paths"]["/api/v1/renders/"]["post"]["responses"]
    assert "402" in schema["paths"]["/api/v1/campaigns/{campaign_id}/samples/"]["post"]["responses"]


def test_request_bodies_refuse_keys_they_do_not_declare(schema: dict[str, Any]) -> None:
    checked = 0
    for path, method, operation in _operations(schema):
        for media in operation.get("requestBody", {}).get("content", {}).values():
            body = _resolve(schema, media["schema"])
            if "properties" in body:
                assert body.get("additionalProperties") is False, (method, path)
                checked += 1
    assert checked >= 15
    render = _resolve(
        schema,
        schema["paths"]["/api/v1/renders/"]["post"]["requestBody"]["content"]["application/json"]["schema"],
    )
    assert render["properties"]["version"]["maximum"] == 2**63 - 1
