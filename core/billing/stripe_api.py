"""Every Stripe call Reelsmith makes, and nothing else (docs/style.md rule 6; shaped like Saleor's
stripe_api.py).

One `StripeClient` with a pinned API version, pointed at `settings.STRIPE_API_BASE`. Each call that creates
something carries an idempotency key derived from the business operation (the workspace for its customer,
the render for its meter event), so a retried task or a double-clicked button never creates two. Functions
take and return plain values; callers never see a StripeObject.
"""

from __future__ import annotations

import functools
from typing import Any

import stripe
from django.conf import settings

from core.parsers import json_parse

# The API version this code was written and tested against (the one stripe-python 16.1 was generated for).
# Pinned so a change of the account's default version in the Stripe dashboard never changes payload shapes.
STRIPE_API_VERSION = "2026-10-28.endive"
# Stripe's own recommendation for replay protection (stripe.Webhook.DEFAULT_TOLERANCE, seconds).
WEBHOOK_TOLERANCE_SECONDS = 300
# The SDK retries connection errors and 5xx itself, reusing the idempotency key (its docs' suggested 2).
NETWORK_RETRIES = 2

StripeError = stripe.StripeError
SignatureVerificationError = stripe.SignatureVerificationError


@functools.cache
def _client_for(api_key: str, api_base: str) -> stripe.StripeClient:
    return stripe.StripeClient(
        api_key,
        stripe_version=STRIPE_API_VERSION,
        base_addresses={"api": api_base},
        max_network_retries=NETWORK_RETRIES,
    )


def _client() -> stripe.StripeClient:
    return _client_for(settings.STRIPE_SECRET_KEY, settings.STRIPE_API_BASE)


def customer_create(*, workspace_id: str, name: str) -> str:
    """Create the workspace's Stripe Customer; returns its id. One per workspace, ever (the key is the workspace)."""
    customer = _client().v1.customers.create(
        params={"name": name, "metadata": {"workspace_id": workspace_id}},
        options={"idempotency_key": f"reelsmith-customer-{workspace_id}"},
    )
    return str(customer.id)


def checkout_session_create(
    *,
    customer_id: str,
    workspace_id: str,
    plan: str,
    price_ids: list[str],
    success_url: str,
    cancel_url: str,
    operation_key: str,
) -> str:
    """A subscription Checkout Session for one plan; returns the URL to send the customer to."""
    session = _client().v1.checkout.sessions.create(
        params={
            "mode": "subscription",
            "customer": customer_id,
            "client_reference_id": workspace_id,
            # Metered prices take no quantity; licensed ones take one seat.
            "line_items": [
                {"price": price_id, "quantity": 1} if index == 0 else {"price": price_id}
                for index, price_id in enumerate(price_ids)
            ],
            "metadata": {"workspace_id": workspace_id, "plan": plan},
            "subscription_data": {"metadata": {"workspace_id": workspace_id, "plan": plan}},
            "success_url": success_url,
            "cancel_url": cancel_url,
        },
        options={"idempotency_key": f"reelsmith-checkout-{workspace_id}-{plan}-{operation_key}"},
    )
    return str(session.url)


def portal_session_create(*, customer_id: str, return_url: str, operation_key: str) -> str:
    """A Customer Portal session; returns its URL."""
    session = _client().v1.billing_portal.sessions.create(
        params={"customer": customer_id, "return_url": return_url},
        options={"idempotency_key": f"reelsmith-portal-{customer_id}-{operation_key}"},
    )
    return str(session.url)


def subscription_retrieve(*, subscription_id: str) -> dict[str, Any]:
    """The subscription as Stripe holds it now: webhook handlers apply this, not the event's snapshot (R8)."""
    return _client().v1.subscriptions.retrieve(subscription_id).to_dict()


def meter_event_create(
    *, event_name: str, identifier: str, customer_id: str, value: int, timestamp: int
) -> None:
    """One Billing Meter event. Stripe drops a second event with the same identifier, so a retry never bills twice."""
    _client().v1.billing.meter_events.create(
        params={
            "event_name": event_name,
            "identifier": identifier,
            "payload": {"stripe_customer_id": customer_id, "value": str(value)},
            "timestamp": timestamp,
        },
        options={"idempotency_key": f"reelsmith-meter-{identifier}"},
    )


def webhook_event_construct(*, payload: bytes, signature: str | None, secret: str) -> Any:
    """Verify a webhook's signature on the raw body, then parse it as plain JSON under the API's limits
    (`core.parsers.json_parse`: depth, 64-bit integers, no NUL). Raises SignatureVerificationError,
    ValueError (a body that is not UTF-8), or ApplicationError (400) for a body no JSON value is made of.
    The caller checks the value is an event (a signed `[1]` is valid JSON)."""
    stripe.WebhookSignature.verify_header(payload, signature, secret, tolerance=WEBHOOK_TOLERANCE_SECONDS)
    return json_parse(payload)
