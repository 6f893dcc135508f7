"""Celery interfaces to the campaign and webhook services. Thin: take ids, call one service (redelivered when a
worker dies mid-task, `core.queue.task`; every service here is safe to run twice)."""

from __future__ import annotations

from campaigns import erasure, services, webhooks, writeback
from core.queue import task


@task(services.TASK_FANOUT, queue="cpu")
def fanout(campaign_id: str) -> None:
    services.campaign_fanout(campaign_id=campaign_id)


@task(erasure.TASK_ERASE, queue="cpu")
def erase_recipient(recipient_id: str, actor: str = "") -> None:
    erasure.recipient_erase(recipient_id=recipient_id, actor=actor or None)


@task("campaigns.tick", queue="cpu")
def tick() -> None:
    services.campaigns_tick()


@task(webhooks.TASK_DELIVER, queue="cpu")
def deliver(delivery_id: str) -> None:
    webhooks.webhook_delivery_attempt(delivery_id=delivery_id)


@task("webhooks.dispatch_due", queue="cpu")
def dispatch_due() -> None:
    webhooks.webhook_deliveries_dispatch_due()


@task(writeback.TASK_WRITEBACK, queue="cpu")
def crm_writeback(render_id: str) -> None:
    writeback.writeback_run(render_id=render_id)


@task(writeback.TASK_WRITEBACK_ENGAGEMENT, queue="cpu")
def crm_writeback_engagement(render_id: str) -> None:
    writeback.writeback_engagement_run(render_id=render_id)


__all__ = [
    "crm_writeback",
    "crm_writeback_engagement",
    "deliver",
    "dispatch_due",
    "erase_recipient",
    "fanout",
    "tick",
]
