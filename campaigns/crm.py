"""CRM inbound: integrations that turn a signed CRM workflow call into one render.

A signature covers everything that changes what the call does, and a timestamp, so a captured call cannot be
replayed into more renders (docs/reliability.md R19):

- HubSpot: workflow "Send a webhook" calls signed with the v3 scheme: `X-HubSpot-Signature-v3` is the base64
  HMAC-SHA256, keyed with the app's client secret, of method + URI + body + `X-HubSpot-Request-Timestamp`
  (milliseconds), and the timestamp must be within 5 minutes
  (https://developers.hubspot.com/docs/api/webhooks/validating-requests). HubSpot signs no other header, so
  an `Idempotency-Key` header decides nothing here: the event's identity comes from the signed body.
- Salesforce (a Flow HTTP callout) and generic callers: `X-Reelsmith-Timestamp: <unix seconds>` and
  `X-Reelsmith-Signature: sha256=<hex HMAC-SHA256>` with the integration's secret over
  `timestamp \n METHOD \n path \n Idempotency-Key (or nothing) \n body` (`inbound_signed_message`), within
  the same 5 minutes; docs/campaigns.md has the recipe. Generic callers may instead send the workspace's API
  key as Bearer (a credential that can make renders through the API anyway).

A retry of one event never makes a second render: the render's idempotency key is the signed
`Idempotency-Key`, else the object id and the event timestamp from the body. A replay inside the window
therefore answers the render the first call made; outside it, 401.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.db import transaction

from campaigns.models import Integration, IntegrationRender
from core import outbound
from core.audit import audit_record
from core.errors import ApplicationError
from core.models import Brand, Workspace
from core.parsers import json_parse
from core.selectors import api_key_authenticate
from core.text import name_check
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
BAD_IDEMPOTENCY_KEY = "Idempotency-Key must be 1 to 255 printable characters."
# HubSpot's documented tolerance for X-HubSpot-Request-Timestamp (milliseconds): 5 minutes. The generic
# signature uses the same window (in seconds, as Stripe's and Standard Webhooks' signatures do).
HUBSPOT_MAX_SKEW_MS = 5 * 60 * 1000
SIGNATURE_MAX_SKEW_SECONDS = 5 * 60
# A timestamp header is digits only, checked before it is turned into a number: milliseconds until the year
# 33658 fit in 15 digits; anything longer is refused unparsed (a 400-digit one used to overflow a float).
TIMESTAMP_DIGITS = re.compile(r"[0-9]{1,15}")
OBJECT_ID_FIELDS = ("objectId", "hs_object_id", "vid", "Id", "id")
TIMESTAMP_FIELDS = ("occurredAt", "timestamp", "eventTimestamp", "LastModifiedDate", "hs_lastmodifieddate")


@transaction.atomic
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
    if name:
        name_check(name)
    if callback_url:
        outbound.url_validate(callback_url, field="callback_url")
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
        # Not `name`: that is the integration's name, saved below (a loop variable once renamed it "token").
        for key in ("field", "token") + (("base_url",) if kind == Integration.Kind.SALESFORCE else ()):
            if not writeback.get(key):
                problems[f"writeback.{key}"] = WRITEBACK_INCOMPLETE
        if kind == Integration.Kind.GENERIC:
            problems["writeback.enabled"] = WRITEBACK_VENDOR_ONLY
        if writeback.get("base_url"):
            outbound.url_validate(writeback["base_url"], field="writeback.base_url")
    if problems:
        raise ApplicationError(next(iter(problems.values())), fields=problems)
    integration = Integration.objects.create(
        writeback_enabled=bool(writeback.get("enabled")),
        writeback_field=writeback.get("field", ""),
        writeback_token=writeback.get("token", ""),
        writeback_base_url=writeback.get("base_url", ""),
        salesforce_object=writeback.get("salesforce_object") or "Contact",
        writeback_views_field=writeback.get("views_field", ""),
        writeback_clicks_field=writeback.get("clicks_field", ""),
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
    audit_record(
        "integration.created",
        workspace=workspace,
        object_type="integration",
        object_id=integration.pk,
        after={"kind": kind, "name": name, "template": str(template.pk), "brand": str(brand.pk)},
    )
    return integration


def integration_delete(*, integration: Integration) -> None:
    """Remove an integration: its inbound URL stops answering. Renders it requested stay (their link to the
    CRM record goes with it, so no write-back is attempted for them any more)."""
    with transaction.atomic():
        Integration.objects.filter(pk=integration.pk).delete()
        audit_record(
            "integration.deleted",
            workspace=integration.workspace_id,
            object_type="integration",
            object_id=integration.pk,
            before={"kind": integration.kind, "name": integration.name},
        )


def hubspot_signature(*, secret: str, method: str, uri: str, body: bytes, timestamp: str) -> str:
    message = method.encode() + uri.encode() + body + timestamp.encode()
    return base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()


def inbound_signed_message(
    *, timestamp: str, method: str, path: str, idempotency_key: str, body: bytes
) -> bytes:
    """What `X-Reelsmith-Signature` signs: every part that changes what the call does, one per line."""
    return f"{timestamp}\n{method.upper()}\n{path}\n{idempotency_key}\n".encode() + body


def body_signature(
    *, secret: str, body: bytes, timestamp: str, path: str, method: str = "POST", idempotency_key: str = ""
) -> str:
    """`X-Reelsmith-Signature` for a call (Salesforce and generic integrations; docs/campaigns.md)."""
    message = inbound_signed_message(
        timestamp=timestamp, method=method, path=path, idempotency_key=idempotency_key, body=body
    )
    return "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def _unauthorized() -> ApplicationError:
    return ApplicationError(BAD_SIGNATURE, status_code=401)


def _fresh(timestamp: str, *, now: float, scale: int, tolerance: int) -> bool:
    """A digits-only timestamp (size checked before parsing) within `tolerance` of now, in its unit."""
    if not TIMESTAMP_DIGITS.fullmatch(timestamp):
        return False
    return abs(int(now * scale) - int(timestamp)) <= tolerance


def _idempotency_key_checked(key: str) -> str | None:
    """The authenticated caller's key, if any; checked only after authentication (401 comes first)."""
    if key and not (len(key) <= 255 and key.isprintable()):
        raise ApplicationError(BAD_IDEMPOTENCY_KEY, fields={"Idempotency-Key": BAD_IDEMPOTENCY_KEY})
    return key or None


def inbound_verify(
    *, integration: Integration, method: str, uri: str, path: str, body: bytes, headers: Mapping[str, str]
) -> str | None:
    """Raise 401 unless the request is signed for this integration, fresh (constant-time comparisons).

    Returns the `Idempotency-Key` the credentials vouch for (None when they do not cover one: HubSpot)."""
    now = time.time()
    if integration.kind == Integration.Kind.HUBSPOT:
        signature = headers.get("X-HubSpot-Signature-v3", "")
        timestamp = headers.get("X-HubSpot-Request-Timestamp", "")
        if not signature or not _fresh(timestamp, now=now, scale=1000, tolerance=HUBSPOT_MAX_SKEW_MS):
            raise _unauthorized()
        expected = hubspot_signature(
            secret=integration.secret, method=method, uri=uri, body=body, timestamp=timestamp
        )
        if not hmac.compare_digest(expected, signature):
            raise _unauthorized()
        return None
    idempotency_key = headers.get("Idempotency-Key", "")
    signature = headers.get("X-Reelsmith-Signature", "")
    if signature:
        timestamp = headers.get("X-Reelsmith-Timestamp", "")
        if not _fresh(timestamp, now=now, scale=1, tolerance=SIGNATURE_MAX_SKEW_SECONDS):
            raise _unauthorized()
        expected = body_signature(
            secret=integration.secret,
            body=body,
            timestamp=timestamp,
            path=path,
            method=method,
            idempotency_key=idempotency_key,
        )
        if not hmac.compare_digest(expected, signature):
            raise _unauthorized()
        return _idempotency_key_checked(idempotency_key)
    if integration.kind == Integration.Kind.GENERIC:
        scheme, _, token = headers.get("Authorization", "").partition(" ")
        api_key = api_key_authenticate(raw_key=token.strip()) if scheme.lower() == "bearer" else None
        if api_key is not None and api_key.workspace_id == integration.workspace_id:
            return _idempotency_key_checked(idempotency_key)
    raise _unauthorized()


def _flatten(body: dict[str, Any]) -> dict[str, Any]:
    """HubSpot sends `properties: {name: {value}}` or `{name: value}`; Salesforce and others send flat JSON."""
    flat = {k: v for k, v in body.items() if k != "properties"}
    properties = body.get("properties")
    if isinstance(properties, dict):
        for name, value in properties.items():
            flat.setdefault(name, value.get("value") if isinstance(value, dict) else value)
    return flat


def _identity_part(flat: dict[str, Any], names: tuple[str, ...]) -> str:
    """The first of `names` holding text or an integer, as text (an object or a list identifies nothing)."""
    for name in names:
        value = flat.get(name)
        if isinstance(value, str) and value:
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
    return ""


def inbound_render(
    *, integration: Integration, body: bytes, idempotency_key: str | None
) -> tuple[Render, bool]:
    """One render for a verified call; `idempotency_key` is what `inbound_verify` returned."""
    event = json_parse(body)  # 400 naming the path for what no database could store (core.parsers)
    if not isinstance(event, dict):
        raise ApplicationError(BAD_BODY, fields={"body": BAD_BODY})
    flat = _flatten(event)
    object_id = _identity_part(flat, OBJECT_ID_FIELDS)
    if not idempotency_key:
        stamp = _identity_part(flat, TIMESTAMP_FIELDS)
        if not object_id or not stamp:
            raise ApplicationError(
                NO_EVENT_IDENTITY,
                fields={"Idempotency-Key": NO_EVENT_IDENTITY, "objectId": NO_EVENT_IDENTITY},
            )
        idempotency_key = f"{object_id}:{stamp}"
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
