"""The DRF exception handler: every 4xx answer has the shape `{"message", "fields"?}`."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig, SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.response import Response

from core.errors import ApplicationError
from core.parsers import TOO_LARGE

INVALID_INPUT = "Invalid input."
MALFORMED_REQUEST = "The request is malformed."
NOT_FOUND = "Not found."
# Routes whose callers are programs: a URL that matches nothing answers 404 in the error shape there, not the
# dashboard's HTML page (`/api/v1/templates/<id>/versions/-1/` matched no route and answered HTML).
MACHINE_PREFIXES = ("/api/", "/inbound/", "/stripe/", "/media/")


def flatten_errors(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """Turn DRF's nested error detail into `{"spec.scenes[1].duration": ["..."]}`."""
    out: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            if key in ("non_field_errors", "__all__"):
                path = prefix
            else:
                path = f"{prefix}.{key}" if prefix else str(key)
            for sub_path, messages in flatten_errors(value, path).items():
                out.setdefault(sub_path, []).extend(messages)
    elif isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            out.setdefault(prefix, []).extend(str(item) for item in detail)
        else:
            for index, item in enumerate(detail):
                if item in ({}, []):
                    continue
                for sub_path, messages in flatten_errors(item, f"{prefix}[{index}]").items():
                    out.setdefault(sub_path, []).extend(messages)
    else:
        out.setdefault(prefix, []).append(str(detail))
    return out


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, ApplicationError):
        body: dict[str, Any] = {"message": exc.message}
        if exc.fields:
            body["fields"] = exc.fields
        retry_after = getattr(exc, "retry_after", None)  # TooManyRequestsError
        retry_headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
        return Response(body, status=exc.status_code, headers=retry_headers)
    if isinstance(exc, RequestDataTooBig):
        # Django's own answer is an HTML 400 page (docs/reliability.md R17).
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return Response(
            {"message": TOO_LARGE.format(limit=limit)}, status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
        )
    if isinstance(exc, SuspiciousOperation):
        # Too many fields or files, a malformed header: the client's doing, said without Django's internals.
        return Response({"message": MALFORMED_REQUEST}, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    if isinstance(exc, exceptions.ValidationError):
        fields = flatten_errors(exc.detail)
        message = INVALID_INPUT
        if "" in fields:
            message = " ".join(fields.pop(""))
        body = {"message": message}
        if fields:
            body["fields"] = fields
        return Response(body, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, exceptions.APIException):
        headers: dict[str, str] = {}
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header  # type: ignore[attr-defined]  # set by DRF on 401s
        if getattr(exc, "wait", None):
            headers["Retry-After"] = str(int(exc.wait))  # type: ignore[attr-defined]  # set by DRF on throttles
        detail = exc.detail
        message = str(detail) if not isinstance(detail, dict | list) else INVALID_INPUT
        return Response({"message": message}, status=exc.status_code, headers=headers)
    return None


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """The root URLconf's handler404: the error shape for programs' routes, Django's page for people."""
    if request.path.startswith(MACHINE_PREFIXES):
        return JsonResponse({"message": NOT_FOUND}, status=404)
    return defaults.page_not_found(request, exception)
