"""Celery interfaces to the campaign and webhook services. Thin: take ids, call one service (acks_late +
reject_on_worker_lost as render.tasks; every service here is safe to run twice)."""

from __future__ import annotations

from celery import shared_task

from campaigns import services, webhooks, writeback

TASK_OPTIONS = {"acks_late": True, "reject_on_worker_lost": True, "ignore_result": True}


@shared_task(name=services.TASK_FANOUT, queue="cpu", **TASK_OPTIONS)
def fanout(campaign_id: str) -> None:
    services.campaign_fanout(campaign_id=campaign_id)


@shared_task(name="campaigns.tick", queue="cpu", **TASK_OPTIONS)
def tick() -> None:
    services.campaigns_tick()


@shared_task(name=webhooks.TASK_DELIVER, queue="cpu", **TASK_OPTIONS)
def deliver(delivery_id: str) -> None:
    webhooks.webhook_delivery_attempt(delivery_id=delivery_id)


@shared_task(name="webhooks.dispatch_due", queue="cpu", **TASK_OPTIONS)
def dispatch_due() -> None:
    webhooks.webhook_deliveries_dispatch_due()


@shared_task(name=writeback.TASK_WRITEBACK, queue="cpu", **TASK_OPTIONS)
def crm_writeback(render_id: str) -> None:
    writeback.writeback_run(render_id=render_id)


__all__ = ["crm_writeback", "deliver", "dispatch_due", "fanout", "tick"]
