"""The OpenAPI document (drf-spectacular) says what the API really answers (docs/reliability.md R17):

- the bearer API keys (`ApiKeyAuthenticationScheme`);
- every list as the page it is, `{results, next, previous}` with `cursor` and `page_size` (`AutoSchema`: the
  API classes page by hand with `core.pagination.CursorPagination`, which spectacular cannot see);
- every 4xx an operation can give, in the one error shape (`Error`: `{message, fields?}`), added by
  `errors_postprocess` from what the operation has: a body (400, 413, 415), parameters (400), path ids
  (404), credentials (401, 403, 429), a write (409). Operations that can cost credits add 402 themselves
  (`error_responses(402)`);
- request bodies that refuse keys they do not declare (`additionalProperties: false`, `core.inputs`) and
  integers within 64 bits (`core.parsers`), so a schema-valid request is one the API can accept.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular import openapi
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiResponse

from core.pagination import CursorPagination
from core.parsers import MAX_INT, MIN_INT

ERROR_COMPONENT = "Error"
ERROR_DESCRIPTIONS = {
    400: "Bad input: `fields` names each offending path.",
    401: "Missing, invalid or revoked credentials (or a bad or stale signature).",
    402: "Not enough credits, or the subscription is past due: `message` says the cost and the balance.",
    403: "The signed-in member's role may not do this.",
    404: "No such object in this workspace (another workspace's id reads the same).",
    409: "Conflicts with the object's state, or an Idempotency-Key reused with another body.",
    413: "The request body is too large.",
    415: "The body is not of a media type this operation reads.",
    429: "Too many requests or renders in flight; retry later (`Retry-After`).",
}
WRITE_METHODS = ("post", "put", "patch", "delete")


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "core.auth.ApiKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer", "bearerFormat": "rsk_<prefix>_<secret>"}


class AutoSchema(openapi.AutoSchema):
    """Every list the API answers is a cursor page (docs/api.md "Lists")."""

    def _get_paginator(self) -> Any:
        # Asked only for list views (a GET answering many objects).
        return super()._get_paginator() or CursorPagination()


def error_responses(*codes: int) -> dict[int, OpenApiResponse]:
    """`extend_schema(responses={..., **error_responses(402)})` for answers only some operations give."""
    reference = {"$ref": f"#/components/schemas/{ERROR_COMPONENT}"}  # added by errors_postprocess
    return {code: OpenApiResponse(reference, description=ERROR_DESCRIPTIONS[code]) for code in codes}


def _error_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "description": "Every 4xx: `message` for a person to read; `fields` (input errors only) maps each "
        "offending path to its messages.",
        "properties": {
            "message": {"type": "string"},
            "fields": {
                "type": "object",
                "additionalProperties": {"type": "array", "items": {"type": "string"}},
            },
        },
        "required": ["message"],
    }


def _error_codes(operation: dict[str, Any], method: str) -> set[int]:
    parameters = operation.get("parameters", [])
    codes = set()
    if operation.get("requestBody"):
        codes |= {400, 413, 415}
    if any(p.get("in") in ("query", "header") for p in parameters):
        codes.add(400)
    if any(p.get("in") == "path" for p in parameters):
        codes.add(404)
    # Every operation but the public schema itself takes credentials: an API key, a session, a signature.
    if operation.get("operationId") != "schema_retrieve":
        codes |= {401, 403, 429}
    if method in WRITE_METHODS:
        codes.add(409)
    return codes


def _request_components(result: dict[str, Any]) -> set[str]:
    """Names of the components a request body reaches (through any depth of `$ref`)."""
    schemas = result.get("components", {}).get("schemas", {})
    seen: set[str] = set()
    pending: list[Any] = [
        operation.get("requestBody", {})
        for methods in result.get("paths", {}).values()
        for operation in methods.values()
        if isinstance(operation, dict)
    ]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
                name = ref.rsplit("/", 1)[1]
                if name not in seen and name in schemas:
                    seen.add(name)
                    pending.append(schemas[name])
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
    return seen


def _bound_integers(node: Any) -> None:
    if isinstance(node, dict):
        if node.get("type") == "integer":
            node.setdefault("maximum", MAX_INT)
            node.setdefault("minimum", MIN_INT)
        for value in node.values():
            _bound_integers(value)
    elif isinstance(node, list):
        for value in node:
            _bound_integers(value)


def errors_postprocess(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular POSTPROCESSING_HOOKS entry: the error answers and strict request bodies (above)."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas[ERROR_COMPONENT] = _error_schema()
    error_content = {"application/json": {"schema": {"$ref": f"#/components/schemas/{ERROR_COMPONENT}"}}}
    for methods in result.get("paths", {}).values():
        for method, operation in methods.items():
            if not isinstance(operation, dict) or method not in ("get", *WRITE_METHODS):
                continue
            responses = operation.setdefault("responses", {})
            for code in sorted(_error_codes(operation, method)):
                responses.setdefault(
                    str(code), {"description": ERROR_DESCRIPTIONS[code], "content": error_content}
                )
            _bound_integers(operation.get("parameters", []))
            _bound_integers(operation.get("requestBody", {}))
    for name in _request_components(result):
        component = schemas[name]
        if component.get("type") == "object" and "properties" in component:
            component.setdefault("additionalProperties", False)
        _bound_integers(component)
    return result
