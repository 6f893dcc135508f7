"""Celery interface to billing: send captured renders' usage to Stripe Billing Meters.

Thin, like render.tasks: one service call. Enqueued on the commit of each capture, and every minute by beat
(a run whose retries ran out leaves its rows pending; the next one sends them).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

from core.billing.metering import billing_report_usage
from core.queue import task

# Waits between retries (seconds): 10 s, 20 s, 40 s, ... capped at 10 minutes.
RETRY_BASE_SECONDS = 10
RETRY_CAP_SECONDS = 600
MAX_RETRIES = 8


@task("billing.report_usage", queue="cpu", bind=True, max_retries=MAX_RETRIES)
def report_usage(self: Any) -> int:
    sent, failed = billing_report_usage(batch_size=settings.REELSMITH_METER_BATCH)
    if failed and not self.request.is_eager:
        countdown = min(RETRY_CAP_SECONDS, RETRY_BASE_SECONDS * 2**self.request.retries)
        raise self.retry(countdown=countdown)
    return sent
