"""Metered usage: each captured charge of a Stripe customer is one Billing Meter event (docs/billing.md).

A `MeterReport` row is written in the transaction that captures the charge; `billing.report_usage`
(`core/billing/tasks.py`, enqueued on that commit and run every minute by beat) sends the pending ones. The
meter event's identifier is the charge's reference, and Stripe keeps one event per identifier, so a report
sent twice is billed once.
"""

from __future__ import annotations

import logging
import uuid

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from core.billing import stripe_api
from core.billing.models import BillingAccount, MeterReport
from core.queue import enqueue

logger = logging.getLogger(__name__)

TASK_REPORT_USAGE = "billing.report_usage"


def meter_report_create(
    *, account: BillingAccount, customer_id: str, reference: uuid.UUID, credits: int
) -> MeterReport:
    """Record a captured charge's usage for the account's Stripe customer (`customer_id`), and send it once the
    caller's transaction commits."""
    report = MeterReport.objects.create(
        account=account,
        # The column is named for the only charges there are so far, renders; it holds the charge reference.
        render_id=reference,
        stripe_customer_id=customer_id,
        credits=credits,
    )
    enqueue(TASK_REPORT_USAGE)
    return report


def billing_report_usage(*, batch_size: int) -> tuple[int, int]:
    """Send pending meter reports to Stripe, a batch at a time; returns (sent, failed).

    Rows are claimed with SKIP LOCKED, so two runs never send the same row at once; and each meter event's
    identifier is the charge's reference, so even a row sent twice (a run killed after Stripe answered) is
    billed once. A failure stops the run (Stripe is likely down) and leaves the rest pending for the task's
    retry.
    """
    sent = 0
    while True:
        with transaction.atomic():
            batch = list(
                MeterReport.objects.select_for_update(skip_locked=True)
                .filter(sent_at__isnull=True)
                .order_by("created_at")[:batch_size]
            )
            if not batch:
                return sent, 0
            for report in batch:
                try:
                    stripe_api.meter_event_create(
                        event_name=settings.STRIPE_METER_EVENT_NAME,
                        identifier=str(report.render_id),
                        customer_id=report.stripe_customer_id,
                        value=report.credits,
                        timestamp=int(report.created_at.timestamp()),
                    )
                except stripe_api.StripeError as exc:
                    MeterReport.objects.filter(pk=report.pk).update(
                        attempts=F("attempts") + 1, error=str(exc)[:2000]
                    )
                    logger.warning("meter event for charge %s failed: %s", report.render_id, exc)
                    return sent, 1
                MeterReport.objects.filter(pk=report.pk).update(
                    sent_at=timezone.now(), attempts=F("attempts") + 1, error=""
                )
                sent += 1
