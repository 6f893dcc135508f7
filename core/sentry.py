"""Errors to Sentry when `SENTRY_DSN` is set (core/settings.py calls `sentry_init`); nothing at all when not.

Django (unhandled exceptions in views, with the request), Celery (a task that raises, with its name and
arguments) and logging (records at ERROR and above, such as a failed render's `logger.exception`) are
reported. No personal data is sent (`send_default_pii` off: no cookies, no user, no request bodies).
"""

from __future__ import annotations

from typing import Any


def sentry_init(
    *, dsn: str, environment: str, release: str, traces_sample_rate: float, **options: Any
) -> None:
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration

    sentry_sdk.init(
        dsn=dsn,
        environment=environment or None,
        release=release or None,
        traces_sample_rate=traces_sample_rate,
        send_default_pii=False,
        integrations=[DjangoIntegration(), CeleryIntegration()],
        **options,
    )
