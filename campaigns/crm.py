"""CRM inbound: integrations that turn a signed CRM workflow call into one render.

HubSpot: workflow "Send a webhook" calls signed with the v3 scheme: `X-HubSpot-Signature-v3` is the base64
HMAC-SHA256, keyed with the app's client secret, of method + URI + body + `X-HubSpot-Request-Timestamp`
(milliseconds), and the timestamp must be within 5 minutes
(https://developers.hubspot.com/docs/api/webhooks/validating-requests).
Salesforce (a Flow HTTP callout) and generic callers: `X-Reelsmith-Signature: sha256=<hex HMAC-SHA256 of the
body>` with the integration's secret; generic callers may instead send the workspace's API key as Bearer.
A CRM retry of one event never makes a second render: the render's idempotency key is the `Idempotency-Key`
header, else the object id and the event timestamp from the body.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.db import transaction

from campaigns.models import Integration, IntegrationRender
from core.errors import ApplicationError
from core.models import Brand, Workspace
from core.selectors import api_key_authenticate
from render.models import Render
from render.services import render_request
from templates.models import AdTemplate
from templates.selectors import template_version_get

BAD_SIGNATURE = "Missing, invalid or stale signature."
BAD_BODY = "The body must be a JSON object."
UNMAPPED_FIELD = "Not a variable of this template; its variables are: {variables}."
UNMAPPED_REQUIRED = "This required template variable has no CRM property mapped to it."
WRITEBACK_INCOMPLETE = "Required when write-back is enabled."
WRITEBACK_VENDOR_ONLY = "Write-back is available for HubSpot and Salesforce integrations."
NO_EVENT_IDENTITY = "Send an Idempotency-Key header, or an object id and an event timestamp in the body."
# HubSpot's documented tolerance for X-HubSpot-Request-Timestamp (milliseconds): 5 minutes.
HUBSPOT_MAX_SKEW_MS = 5 * 60 * 1000
OBJECT_ID_FIELDS = ("objectId", "hs_object_id", "vid", "Id", "id")
TIMESTAMP_FIELDS = ("occurredAt", "timestamp", "eventTimestamp", "LastModifiedDate", "hs_lastmodifieddate")


def integration_create(
    *,
    workspace: Workspace,
    kind: str,
    template: AdTemplate,
    version: int | None,
    brand: Brand,
    field_map: dict[str, str],
    secret: str = "",
    name: str = "",
    callback_url: str = "",
    writeback: dict[str, Any] | None = None,
) -> Integration:
    template_version = template_version_get(template=template, version=version)
    declared = template_version.variables
    problems: dict[str, str] = {}
    for prop, variable in field_map.items():
        if variable not in declared:
            problems[f"field_map.{prop}"] = UNMAPPED_FIELD.format(variables=", ".join(sorted(declared)))
    mapped = set(field_map.values())
    for variable, decl in declared.items():
        if decl["required"] and variable not in mapped:
            problems[f"field_map.{variable}"] = UNMAPPED_REQUIRED
    writeback = writeback or {}
    if writeback.get("enabled"):
        for name in ("field", "token") + (("base_url",) if kind == Integration.Kind.SALESFORCE else ()):
            if not writeback.get(name):
                problems[f"writeback.{name}"] = WRITEBACK_INCOMPLETE
        if kind == Integration.Kind.GENERIC:
            problems["writeback.enabled"] = WRITEBACK_VENDOR_ONLY
    if problems:
        raise ApplicationError(next(iter(problems.values())), fields=problems)
    return Integration.objects.create(
        writeback_enabled=bool(writeback.get("enabled")),
        writeback_field=writeback.get("field", ""),
        writeback_token=writeback.get("token", ""),
        writeback_base_url=writeback.get("base_url", ""),
        salesforce_object=writeback.get("salesforce_object") or "Contact",
        workspace=workspace,
        kind=kind,
        name=name,
        template=template,
        version=version,
        brand=brand,
        field_map=field_map,
        secret=secret or secrets.token_urlsafe(32),
        callback_url=callback_url,
    )


def hubspot_signature(*, secret: str, method: str, uri: str, body: bytes, timestamp: str) -> str:
    message = method.encode() + uri.encode() + body + timestamp.encode()
    return base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()


def body_signature(*, secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _unauthorized() -> ApplicationError:
    return ApplicationError(BAD_SIGNATURE, status_code=401)


def inbound_verify(
    *, integration: Integration, method: str, uri: str, body: bytes, headers: Mapping[str, str]
) -> None:
    """Raise 401 unless the request is signed for this integration (constant-time comparisons)."""
    if integration.kind == Integration.Kind.HUBSPOT:
        signature = headers.get("X-HubSpot-Signature-v3", "")
        timestamp = headers.get("X-HubSpot-Request-Timestamp", "")
        if not signature or not timestamp.isdigit():
            raise _unauthorized()
        if abs(time.time() * 1000 - int(timestamp)) > HUBSPOT_MAX_SKEW_MS:
            raise _unauthorized()
        expected = hubspot_signature(
            secret=integration.secret, method=method, uri=uri, body=body, timestamp=timestamp
        )
        if not hmac.compare_digest(expected, signature):
            raise _unauthorized()
        return
    signature = headers.get("X-Reelsmith-Signature", "")
    if signature:
        if not hmac.compare_digest(body_signature(secret=integration.secret, body=body), signature):
            raise _unauthorized()
        return
    if integration.kind == Integration.Kind.GENERIC:
        scheme, _, token = headers.get("Authorization", "").partition(" ")
        api_key = api_key_authenticate(raw_key=token.strip()) if scheme.lower() == "bearer" else None
        if api_key is not None and api_key.workspace_id == integration.workspace_id:
            return
    raise _unauthorized()


def _flatten(body: dict[str, Any]) -> dict[str, Any]:
    """HubSpot sends `properties: {name: {value}}` or `{name: value}`; Salesforce and others send flat JSON."""
    flat = {k: v for k, v in body.items() if k != "properties"}
    properties = body.get("properties")
    if isinstance(properties, dict):
        for name, value in properties.items():
            flat.setdefault(name, value.get("value") if isinstance(value, dict) else value)
    return flat


def inbound_render(
    *, integration: Integration, body: bytes, idempotency_key: str | None
) -> tuple[Render, bool]:
    try:
        event = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        event = None
    if not isinstance(event, dict):
        raise ApplicationError(BAD_BODY, fields={"body": BAD_BODY})
    flat = _flatten(event)
    if not idempotency_key:
        object_id = next((str(flat[f]) for f in OBJECT_ID_FIELDS if flat.get(f) not in (None, "")), "")
        stamp = next((str(flat[f]) for f in TIMESTAMP_FIELDS if flat.get(f) not in (None, "")), "")
        if not object_id or not stamp:
            raise ApplicationError(
                NO_EVENT_IDENTITY,
                fields={"Idempotency-Key": NO_EVENT_IDENTITY, "objectId": NO_EVENT_IDENTITY},
            )
        idempotency_key = f"{object_id}:{stamp}"
    else:
        object_id = next((str(flat[f]) for f in OBJECT_ID_FIELDS if flat.get(f) not in (None, "")), "")
    variables = {variable: flat[prop] for prop, variable in integration.field_map.items() if prop in flat}
    template_version = template_version_get(template=integration.template, version=integration.version)
    to_property = {variable: prop for prop, variable in integration.field_map.items()}
    try:
        # One transaction: the render's tasks start on commit, after the CRM record link exists.
        with transaction.atomic():
            render, created = render_request(
                workspace=integration.workspace,
                template_version=template_version,
                brand=integration.brand,
                variables=variables,
                callback_url=integration.callback_url,
                external_id=object_id[:200],
                # Scoped to the integration so two CRMs' object ids never collide in the workspace's key space.
                idempotency_key=f"crm:{integration.pk}:{idempotency_key}"[:255],
            )
            IntegrationRender.objects.get_or_create(
                render=render, defaults={"integration": integration, "object_id": object_id[:200]}
            )
        return render, created
    except ApplicationError as exc:
        # Name the CRM property the caller controls, not our variable.
        fields = {}
        for path, messages in exc.fields.items():
            variable = path.removeprefix("variables.")
            fields[f"properties.{to_property.get(variable, variable)}"] = messages
        raise ApplicationError(exc.message, fields=fields, status_code=exc.status_code) from None


def inbound_url(integration: Integration) -> str:
    return f"{settings.PUBLIC_BASE_URL}/inbound/{integration.pk}/"
