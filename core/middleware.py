"""Oversized request bodies answer 413 in the one error shape, on every route (docs/reliability.md R17).

Django refuses a body over `DATA_UPLOAD_MAX_MEMORY_SIZE` by raising `RequestDataTooBig` when something
reads it, which its own handler turns into an HTML 400 page. Here: a body that declares itself too large
is refused before anything reads it, and one found too large while reading (multipart fields, a body
without a length) is answered the same way. Multipart uploads are exempt from the declared-length check:
their files stream to disk and are capped by kind (`core.assets`).
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse

from core.parsers import TOO_LARGE


def too_large_response() -> JsonResponse:
    return JsonResponse({"message": TOO_LARGE.format(limit=settings.DATA_UPLOAD_MAX_MEMORY_SIZE)}, status=413)


def _declared_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


class BodyLimitMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        multipart = request.content_type == "multipart/form-data"
        if not multipart and _declared_length(request) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
            return too_large_response()
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, RequestDataTooBig):
            return too_large_response()
        return None
