"""Everything Reelsmith keeps in step with Stripe: the customer, Checkout and Customer Portal sessions, the
subscription's state (from webhooks) and the credits of paid invoices. The SDK calls themselves are in
`core/billing/stripe_api.py`; the webhook endpoint that calls into this is `core/billing/webhooks.py`.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.utils import timezone

from core.billing import stripe_api
from core.billing.ledger import billing_account_get_or_create
from core.billing.models import BillingAccount, CreditEntry
from core.billing.plans import LIVE_SUBSCRIPTION_STATUSES, UNPAID_SUBSCRIPTION_STATUSES, billing_enabled
from core.errors import ApplicationError
from core.models import Workspace

logger = logging.getLogger(__name__)

BILLING_OFF = "Billing is not enabled on this server."
UNKNOWN_PLAN = "Unknown plan, or one that cannot be bought: choose one of {plans}."
NO_CUSTOMER = "This workspace has no billing account yet: start a checkout first."
STRIPE_UNAVAILABLE = "Stripe could not be reached; try again in a moment."


# --- checkout and portal ---------------------------------------------------------------------------------------


def _customer_ensure(workspace: Workspace) -> BillingAccount:
    account = billing_account_get_or_create(workspace=workspace)
    if account.stripe_customer_id:
        return account
    try:
        customer_id = stripe_api.customer_create(workspace_id=str(workspace.pk), name=workspace.name)
    except stripe_api.StripeError as exc:
        logger.warning("creating the Stripe customer failed: %s", exc)
        raise ApplicationError(STRIPE_UNAVAILABLE, status_code=503) from exc
    # Conditional: two concurrent first checkouts get the same customer anyway (the idempotency key).
    BillingAccount.objects.filter(pk=account.pk, stripe_customer_id__isnull=True).update(
        stripe_customer_id=customer_id
    )
    account.refresh_from_db()
    return account


def billing_checkout_start(*, workspace: Workspace, plan: str, operation_key: str | None = None) -> str:
    """A Checkout Session URL for subscribing to `plan`. The same `operation_key` gives the same session."""
    if not billing_enabled():
        raise ApplicationError(BILLING_OFF)
    plans: dict[str, dict[str, Any]] = settings.REELSMITH_PLANS
    buyable = sorted(key for key, spec in plans.items() if spec["price_id"])
    if plan not in buyable:
        message = UNKNOWN_PLAN.format(plans=", ".join(buyable) or "none")
        raise ApplicationError(message, fields={"plan": message})
    account = _customer_ensure(workspace)
    price_ids = [plans[plan]["price_id"]] + (
        [plans[plan]["metered_price_id"]] if plans[plan]["metered_price_id"] else []
    )
    try:
        return stripe_api.checkout_session_create(
            customer_id=str(account.stripe_customer_id),
            workspace_id=str(workspace.pk),
            plan=plan,
            price_ids=price_ids,
            success_url=f"{settings.REELSMITH_BILLING_RETURN_URL}?checkout=success",
            cancel_url=f"{settings.REELSMITH_BILLING_RETURN_URL}?checkout=canceled",
            operation_key=operation_key or uuid.uuid4().hex,
        )
    except stripe_api.StripeError as exc:
        logger.warning("creating a checkout session failed: %s", exc)
        raise ApplicationError(STRIPE_UNAVAILABLE, status_code=503) from exc


def billing_portal_start(*, workspace: Workspace, operation_key: str | None = None) -> str:
    """A Customer Portal URL (change plan, cards, invoices)."""
    if not billing_enabled():
        raise ApplicationError(BILLING_OFF)
    account = BillingAccount.objects.filter(workspace=workspace).first()
    if account is None or not account.stripe_customer_id:
        raise ApplicationError(NO_CUSTOMER)
    try:
        return stripe_api.portal_session_create(
            customer_id=account.stripe_customer_id,
            return_url=settings.REELSMITH_BILLING_RETURN_URL,
            operation_key=operation_key or uuid.uuid4().hex,
        )
    except stripe_api.StripeError as exc:
        logger.warning("creating a portal session failed: %s", exc)
        raise ApplicationError(STRIPE_UNAVAILABLE, status_code=503) from exc


# --- subscription state (from webhooks) -----------------------------------------------------------------------


def price_ids_in(obj: Any) -> set[str]:
    """Every price id anywhere in a Stripe object (subscription items, invoice lines: the path moves by version)."""
    found: set[str] = set()
    if isinstance(obj, dict):
        for key, value in obj.items():
            if key == "price" and isinstance(value, str):
                found.add(value)
            elif key == "price" and isinstance(value, dict) and isinstance(value.get("id"), str):
                found.add(value["id"])
            else:
                found |= price_ids_in(value)
    elif isinstance(obj, list):
        for item in obj:
            found |= price_ids_in(item)
    return found


def plan_for_prices(price_ids: set[str]) -> str:
    for key, spec in settings.REELSMITH_PLANS.items():
        if spec["price_id"] and spec["price_id"] in price_ids:
            return str(key)
    return ""


def _timestamp(value: Any) -> datetime | None:
    return datetime.fromtimestamp(int(value), tz=UTC) if isinstance(value, int | float) else None


def _period(subscription: dict[str, Any]) -> tuple[datetime | None, datetime | None]:
    # Since API version 2025-03-31 the period lives on the subscription's items, not the subscription.
    start, end = subscription.get("current_period_start"), subscription.get("current_period_end")
    items = (subscription.get("items") or {}).get("data") or []
    if start is None and items:
        start, end = items[0].get("current_period_start"), items[0].get("current_period_end")
    return _timestamp(start), _timestamp(end)


def stripe_id_of(value: Any) -> str:
    """A Stripe reference: an id, or the expanded object carrying it."""
    if isinstance(value, dict):
        return str(value.get("id") or "")
    return str(value or "")


def billing_account_for_stripe(*, customer_id: str, workspace_id: str = "") -> BillingAccount | None:
    """The account of a Stripe customer; `workspace_id` (from metadata we set) links one not yet linked."""
    if customer_id:
        account = BillingAccount.objects.filter(stripe_customer_id=customer_id).first()
        if account is not None:
            return account
    if workspace_id:
        try:
            workspace = Workspace.objects.get(pk=uuid.UUID(workspace_id))
        except (ValueError, Workspace.DoesNotExist):
            return None
        account = billing_account_get_or_create(workspace=workspace)
        if customer_id and not account.stripe_customer_id:
            BillingAccount.objects.filter(pk=account.pk, stripe_customer_id__isnull=True).update(
                stripe_customer_id=customer_id
            )
            account.refresh_from_db()
        return account
    return None


def subscription_apply(*, subscription: dict[str, Any]) -> BillingAccount | None:
    """Mirror a subscription *as fetched from Stripe now* onto its account. Applying the current state (never an
    event's snapshot) makes the outcome independent of the order events arrive in (docs/reliability.md R8)."""
    account = billing_account_for_stripe(
        customer_id=stripe_id_of(subscription.get("customer")),
        workspace_id=str((subscription.get("metadata") or {}).get("workspace_id") or ""),
    )
    if account is None:
        return None
    account = BillingAccount.objects.select_for_update().get(pk=account.pk)
    status = str(subscription.get("status") or "")
    replaced = bool(account.stripe_subscription_id) and account.stripe_subscription_id != subscription["id"]
    if replaced and status not in LIVE_SUBSCRIPTION_STATUSES:
        return account  # an old subscription ending changes nothing about the live one
    start, end = _period(subscription)
    account.stripe_subscription_id = str(subscription["id"])
    account.subscription_status = status
    account.plan = plan_for_prices(price_ids_in(subscription.get("items"))) or str(
        (subscription.get("metadata") or {}).get("plan") or ""
    )
    account.current_period_start, account.current_period_end = start, end
    if status in UNPAID_SUBSCRIPTION_STATUSES:
        account.past_due_since = account.past_due_since or timezone.now()
    else:
        account.past_due_since = None
    account.save()
    return account


def subscription_refresh(*, subscription_id: str) -> BillingAccount | None:
    return subscription_apply(subscription=stripe_api.subscription_retrieve(subscription_id=subscription_id))


def invoice_credits_grant(*, account: BillingAccount, invoice: dict[str, Any]) -> CreditEntry | None:
    """The period's credits of a paid invoice, once per invoice (the ledger's unique reference)."""
    plan = plan_for_prices(price_ids_in(invoice.get("lines"))) or account.plan
    credits = int(settings.REELSMITH_PLANS.get(plan, {}).get("credits_per_period", 0))
    if credits <= 0:
        return None
    account = BillingAccount.objects.select_for_update().get(pk=account.pk)
    reference = f"invoice:{invoice['id']}"
    if CreditEntry.objects.filter(account=account, kind=CreditEntry.Kind.GRANT, reference=reference).exists():
        return None
    return CreditEntry.objects.create(
        account=account,
        kind=CreditEntry.Kind.GRANT,
        delta=credits,
        reference=reference,
        note=f"{plan} plan credits for invoice {invoice['id']}",
    )
