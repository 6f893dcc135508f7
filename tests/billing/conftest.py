"""Billing fixtures: billing switched on against the local fake Stripe, signed webhook deliveries, cheap templates."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from rest_framework.test import APIClient

from core.billing.ledger import billing_account_get_or_create
from core.billing.models import BillingAccount
from core.models import Workspace
from tests.billing.fake_stripe import FakeStripe, fake_stripe_server
from tests.factories import small_spec

WEBHOOK_SECRET = "whsec_test_reelsmith"
PRICE_STARTER = "price_starter_test"
PRICE_PRO = "price_pro_test"
PRICE_PRO_METERED = "price_pro_metered_test"


def one_credit_spec() -> dict[str, Any]:
    """1 s, one 180x320 format, no generated picture: exactly 1 credit, and a fast render."""
    spec = small_spec()
    spec["scenes"] = [spec["scenes"][1]]
    spec.pop("transition")
    return spec


@pytest.fixture
def fake_stripe(settings: Any) -> Iterator[FakeStripe]:
    """Billing on: Stripe keys set, the SDK pointed at a local fake, plans with price ids."""
    plans = copy.deepcopy(django_settings.REELSMITH_PLANS)
    plans["starter"]["price_id"] = PRICE_STARTER
    plans["pro"]["price_id"] = PRICE_PRO
    plans["pro"]["metered_price_id"] = PRICE_PRO_METERED
    with fake_stripe_server() as fake:
        settings.STRIPE_SECRET_KEY = "sk_test_reelsmith_fake"
        settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
        settings.STRIPE_API_BASE = fake.base_url
        settings.REELSMITH_PLANS = plans
        yield fake


def grant(workspace: Workspace, amount: int) -> None:
    call_command("grant_credits", str(workspace.pk), str(amount), "--reason", "test", "--by", "pytest")


def subscribe(
    workspace: Workspace, plan: str = "pro", status: str = "active", customer: str = ""
) -> BillingAccount:
    account = billing_account_get_or_create(workspace=workspace)
    account.plan, account.subscription_status = plan, status
    account.stripe_customer_id = customer or None
    account.save()
    return account


def stripe_signature(payload: bytes, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    """The Stripe-Signature header as Stripe computes it: HMAC-SHA256 of "{t}.{body}"."""
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def stripe_event(event_type: str, data_object: dict[str, Any], event_id: str | None = None) -> dict[str, Any]:
    return {
        "id": event_id or f"evt_{uuid.uuid4().hex[:24]}",
        "object": "event",
        "api_version": "2026-10-28.endive",
        "created": int(time.time()),
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
        "data": {"object": data_object},
    }


def deliver(event: dict[str, Any] | bytes, signature: str | None = "sign") -> Any:
    """POST an event to the webhook as Stripe does (raw JSON body, signed unless told otherwise)."""
    payload = event if isinstance(event, bytes) else json.dumps(event).encode()
    headers: dict[str, Any] = {}
    if signature == "sign":
        headers["HTTP_STRIPE_SIGNATURE"] = stripe_signature(payload)
    elif signature is not None:
        headers["HTTP_STRIPE_SIGNATURE"] = signature
    return APIClient().post("/stripe/webhook/", payload, content_type="application/json", **headers)
