"""Request throttling per API key: a client that sends too much gets 429 with `Retry-After`, not a slower
API for every other workspace.

DRF's `SimpleRateThrottle` (a sliding window of request times in Django's cache) keyed by the API key, or
by the signed-in person for the dashboard's session calls; requests with neither are answered 401 by the
authentication anyway and are not counted. The rate is `REELSMITH_THROTTLE_RATE` (`off` to switch it off).
The cache is shared by every API process when Redis is configured (`CACHES` in core/settings.py), so the
limit holds across processes and pods. A cache that does not answer lets the request through: throttling
protects the API, it must not be what takes it down.
"""

from __future__ import annotations

import logging
from typing import Any

import redis
from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from core.models import ApiKey

logger = logging.getLogger(__name__)


class ApiKeyRateThrottle(SimpleRateThrottle):
    scope = "api_key"

    def get_rate(self) -> str | None:
        rate: str = settings.REELSMITH_THROTTLE_RATE
        return None if rate in ("", "off") else rate

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        if isinstance(request.auth, ApiKey):
            ident = f"key:{request.auth.pk}"
        elif request.user is not None and request.user.is_authenticated:
            ident = f"user:{request.user.pk}"
        else:
            return None
        return self.cache_format % {"scope": self.scope, "ident": ident}

    def allow_request(self, request: Request, view: Any) -> bool:
        try:
            return super().allow_request(request, view)
        except redis.RedisError:
            logger.warning("request throttling skipped: the cache did not answer", exc_info=True)
            return True
