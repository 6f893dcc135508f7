"""POST /stripe/webhook/: verify the signature on the raw body, record the delivery, dispatch through a handler
table, apply each event id once (docs/style.md rule 6, docs/reliability.md R8; shaped like Saleor's stripe
webhooks.py).

Order independence: handlers never trust the event's snapshot of a subscription; they re-fetch it from Stripe
and apply what Stripe holds now, so `updated` arriving before `created` (or a stale retry arriving last) ends
in the current state. Grants are keyed on the invoice id, so a redelivered `invoice.paid` grants once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from core.billing import stripe_api, stripe_sync
from core.billing.models import StripeEvent
from core.errors import ApplicationError

logger = logging.getLogger(__name__)

BAD_SIGNATURE = "Invalid Stripe signature."
BAD_PAYLOAD = "Invalid Stripe event payload."
# What a signed body must be before anything is stored or applied (docs/reliability.md R17): Stripe's ids
# are about 30 characters; these are the columns' own limits (StripeEvent.id 255, type 100), and object ids
# leave room for the ledger's `invoice:<id>` reference (255).
MAX_EVENT_ID = 255
MAX_EVENT_TYPE = 100
MAX_OBJECT_ID = 200
NOT_CONFIGURED = "Stripe webhooks are not configured."


def _subscription_id_of_invoice(invoice: dict[str, Any]) -> str:
    # Before API version 2025-03-31: `invoice.subscription`; since: `invoice.parent.subscription_details`.
    direct = stripe_sync.stripe_id_of(invoice.get("subscription"))
    if direct:
        return direct
    details = ((invoice.get("parent") or {}).get("subscription_details")) or {}
    return stripe_sync.stripe_id_of(details.get("subscription"))


def handle_checkout_session_completed(session: dict[str, Any]) -> str:
    account = stripe_sync.billing_account_for_stripe(
        customer_id=stripe_sync.stripe_id_of(session.get("customer")),
        workspace_id=str(session.get("client_reference_id") or ""),
    )
    if account is None:
        return "ignored: unknown customer"
    subscription_id = stripe_sync.stripe_id_of(session.get("subscription"))
    if subscription_id:
        stripe_sync.subscription_refresh(subscription_id=subscription_id)
    return f"linked {account.workspace_id}"


def handle_subscription_changed(subscription: dict[str, Any]) -> str:
    account = stripe_sync.subscription_refresh(subscription_id=str(subscription["id"]))
    if account is None:
        return "ignored: unknown customer"
    return f"{account.plan or 'default'} {account.subscription_status}"


def handle_invoice_paid(invoice: dict[str, Any]) -> str:
    subscription_id = _subscription_id_of_invoice(invoice)
    if subscription_id:
        stripe_sync.subscription_refresh(subscription_id=subscription_id)
    account = stripe_sync.billing_account_for_stripe(
        customer_id=stripe_sync.stripe_id_of(invoice.get("customer"))
    )
    if account is None:
        return "ignored: unknown customer"
    entry = stripe_sync.invoice_credits_grant(account=account, invoice=invoice)
    return f"granted {entry.delta}" if entry else "no credits to grant"


def handle_invoice_payment_failed(invoice: dict[str, Any]) -> str:
    subscription_id = _subscription_id_of_invoice(invoice)
    if not subscription_id:
        return "ignored: no subscription"
    account = stripe_sync.subscription_refresh(subscription_id=subscription_id)
    if account is None:
        return "ignored: unknown customer"
    return f"subscription {account.subscription_status}"


HANDLERS: dict[str, Callable[[dict[str, Any]], str]] = {
    "checkout.session.completed": handle_checkout_session_completed,
    "customer.subscription.created": handle_subscription_changed,
    "customer.subscription.updated": handle_subscription_changed,
    "customer.subscription.deleted": handle_subscription_changed,
    "invoice.paid": handle_invoice_paid,
    "invoice.payment_failed": handle_invoice_payment_failed,
}


def stripe_event_process(*, event: dict[str, Any]) -> str:
    """Record the delivery, then apply the event unless an earlier delivery already did. Returns the outcome."""
    now = timezone.now()
    with transaction.atomic():
        StripeEvent.objects.get_or_create(
            id=event["id"], defaults={"type": str(event.get("type", "")), "payload": event}
        )
        StripeEvent.objects.filter(pk=event["id"]).update(
            deliveries=F("deliveries") + 1, last_delivery_at=now
        )
    # One transaction per application: a handler that raises leaves the event unprocessed (Stripe retries it),
    # and the row lock makes a concurrent redelivery wait, then see processed_at.
    with transaction.atomic():
        row = StripeEvent.objects.select_for_update().get(pk=event["id"])
        if row.processed_at is not None:
            return "duplicate"
        handler = HANDLERS.get(row.type)
        data_object = (event.get("data") or {}).get("object") or {}
        outcome = handler(data_object) if handler else "ignored: unhandled type"
        row.processed_at = timezone.now()
        row.outcome = outcome[:255]
        row.save(update_fields=["processed_at", "outcome"])
    return outcome


def _text_of(value: Any, limit: int) -> bool:
    return isinstance(value, str) and 0 < len(value) <= limit


def stripe_event_valid(event: Any) -> bool:
    """An event as Stripe sends one: an object with an id and a type, and `data.object` an object with an id
    (every Stripe object has one; the handlers read it). A signed `[1]` or `{}` is no event."""
    if not isinstance(event, dict):
        return False
    if not _text_of(event.get("id"), MAX_EVENT_ID) or not _text_of(event.get("type"), MAX_EVENT_TYPE):
        return False
    data = event.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("object"), dict):
        return False
    return _text_of(data["object"].get("id"), MAX_OBJECT_ID)


@csrf_exempt
@require_POST
def stripe_webhook(request: HttpRequest) -> HttpResponse:
    secret = settings.STRIPE_WEBHOOK_SECRET
    if not secret:
        return JsonResponse({"message": NOT_CONFIGURED}, status=404)
    signature = request.headers.get("Stripe-Signature")
    if not signature:
        return JsonResponse({"message": BAD_SIGNATURE}, status=400)
    try:
        event = stripe_api.webhook_event_construct(payload=request.body, signature=signature, secret=secret)
    except stripe_api.SignatureVerificationError:
        return JsonResponse({"message": BAD_SIGNATURE}, status=400)
    except (ValueError, ApplicationError):
        return JsonResponse({"message": BAD_PAYLOAD}, status=400)
    if not stripe_event_valid(event):
        return JsonResponse({"message": BAD_PAYLOAD}, status=400)
    try:
        outcome = stripe_event_process(event=event)
    except stripe_api.StripeError:
        # Re-fetching from Stripe failed: answer 5xx so Stripe delivers the event again later.
        logger.warning("stripe event %s could not be applied now", event["id"], exc_info=True)
        return JsonResponse({"message": stripe_sync.STRIPE_UNAVAILABLE}, status=503)
    return JsonResponse({"received": True, "outcome": outcome})
