"""Every request gets an id that its log lines carry and its answer echoes, and is counted in `/metrics`.

`RequestContextMiddleware` comes first in MIDDLEWARE, so whatever answers (a view, a redirect, a 413 from
`core.middleware`) is timed, logged and counted.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from structlog.contextvars import bind_contextvars, clear_contextvars

from core.logs import REQUEST_ID_HEADER, request_id_from
from core.metrics import http_observe

request_logger = logging.getLogger("reelsmith.request")


def _route(request: HttpRequest) -> str:
    """The URL pattern that served the request (a bounded set of label values), never the path itself."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        return "unmatched"
    return "/" + str(match.route)


class RequestContextMiddleware:
    """Binds `request_id` for every log line written while serving the request, echoes it as `X-Request-ID`,
    logs the request once and counts it in the HTTP metrics."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = request_id_from(request.headers.get(REQUEST_ID_HEADER))
        request.request_id = request_id  # type: ignore[attr-defined]  # for views that want to show it
        clear_contextvars()  # nothing of the previous request served on this thread
        bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            seconds = time.perf_counter() - started
            response[REQUEST_ID_HEADER] = request_id
            route = _route(request)
            http_observe(
                method=request.method or "", route=route, status=response.status_code, seconds=seconds
            )
            request_logger.info(
                "request",
                extra={
                    "method": request.method,
                    "route": route,
                    "status": response.status_code,
                    "duration_ms": round(seconds * 1000, 1),
                },
            )
            return response
        finally:
            clear_contextvars()
