"""POST /stripe/webhook/: the signature matrix, once per event id, order independence, invoices and dunning."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from rest_framework.test import APIClient

from core.billing.ledger import billing_account_get_or_create
from core.billing.models import BillingAccount, CreditEntry, StripeEvent
from core.billing.plans import PAST_DUE
from core.billing.selectors import ledger_balance
from core.billing.webhooks import BAD_SIGNATURE
from core.models import Workspace
from render.models import Render
from tests.billing.conftest import (
    PRICE_PRO,
    PRICE_STARTER,
    WEBHOOK_SECRET,
    deliver,
    grant,
    one_credit_spec,
    stripe_event,
    stripe_signature,
)
from tests.billing.fake_stripe import FakeStripe
from tests.render.test_api_renders import make_brand, make_template, request_render

pytestmark = pytest.mark.django_db


def _customer(workspace: Workspace, customer_id: str = "cus_test_1") -> BillingAccount:
    account = billing_account_get_or_create(workspace=workspace)
    account.stripe_customer_id = customer_id
    account.save()
    return account


def _invoice(invoice_id: str, customer: str, subscription: str, price: str) -> dict[str, Any]:
    return {
        "id": invoice_id,
        "object": "invoice",
        "customer": customer,
        "status": "paid",
        "parent": {"type": "subscription_details", "subscription_details": {"subscription": subscription}},
        "lines": {"object": "list", "data": [{"id": "il_1", "pricing": {"price_details": {"price": price}}}]},
    }


class TestSignatures:
    @pytest.fixture
    def event_and_account(self, fake_stripe: FakeStripe, workspace: Workspace) -> tuple[dict[str, Any], Any]:
        account = _customer(workspace)
        subscription = fake_stripe.subscription(customer="cus_test_1", price=PRICE_PRO)
        return stripe_event("customer.subscription.updated", subscription), account

    def test_valid_signature_applies_the_event(self, event_and_account: tuple[dict[str, Any], Any]) -> None:
        event, account = event_and_account
        response = deliver(event)
        assert response.status_code == 200, response.content
        account.refresh_from_db()
        assert (account.plan, account.subscription_status) == ("pro", "active")
        assert StripeEvent.objects.get(pk=event["id"]).processed_at is not None

    @pytest.mark.parametrize("case", ["tampered", "wrong_secret", "too_old", "missing", "garbage"])
    def test_bad_signatures_answer_400_and_change_nothing(
        self, case: str, event_and_account: tuple[dict[str, Any], Any]
    ) -> None:
        event, account = event_and_account
        payload = json.dumps(event).encode()
        if case == "tampered":
            signature = stripe_signature(payload)
            payload = payload.replace(b'"active"', b'"canceled"')
        elif case == "wrong_secret":
            signature = stripe_signature(payload, secret="whsec_someone_else")
        elif case == "too_old":
            signature = stripe_signature(payload, timestamp=int(time.time()) - 301)  # tolerance is 300 s
        elif case == "garbage":
            signature = "t=abc,v1=nothex"
        else:
            signature = None
        response = deliver(payload, signature=signature)
        assert response.status_code == 400
        assert response.json() == {"message": BAD_SIGNATURE}
        account.refresh_from_db()
        assert (account.plan, account.subscription_status) == ("", "")
        assert not StripeEvent.objects.exists()

    def test_signature_within_tolerance_passes(self, event_and_account: tuple[dict[str, Any], Any]) -> None:
        event, _ = event_and_account
        payload = json.dumps(event).encode()
        response = deliver(payload, signature=stripe_signature(payload, timestamp=int(time.time()) - 240))
        assert response.status_code == 200

    def test_secret_is_the_configured_one(self) -> None:
        assert WEBHOOK_SECRET.startswith("whsec_")


class TestOnceAndOrder:
    def test_three_deliveries_of_one_invoice_grant_once(
        self, fake_stripe: FakeStripe, workspace: Workspace
    ) -> None:
        account = _customer(workspace)
        subscription = fake_stripe.subscription(customer="cus_test_1", price=PRICE_STARTER)
        event = stripe_event(
            "invoice.paid", _invoice("in_1", "cus_test_1", subscription["id"], PRICE_STARTER)
        )
        for _ in range(3):
            assert deliver(event).status_code == 200
        assert ledger_balance(account=account) == 1_000
        row = StripeEvent.objects.get(pk=event["id"])
        assert row.deliveries == 3
        assert row.outcome == "granted 1000"
        # A second invoice (the next period) grants again; the same invoice in another event does not.
        deliver(
            stripe_event("invoice.paid", _invoice("in_2", "cus_test_1", subscription["id"], PRICE_STARTER))
        )
        deliver(
            stripe_event("invoice.paid", _invoice("in_2", "cus_test_1", subscription["id"], PRICE_STARTER))
        )
        assert ledger_balance(account=account) == 2_000
        assert CreditEntry.objects.filter(account=account, kind=CreditEntry.Kind.GRANT).count() == 2

    def test_updated_before_created_ends_in_the_current_state(
        self, fake_stripe: FakeStripe, workspace: Workspace
    ) -> None:
        account = _customer(workspace)
        subscription = fake_stripe.subscription(customer="cus_test_1", price=PRICE_PRO, status="active")
        created_snapshot = {**subscription, "status": "incomplete"}  # what `created` carried when it happened
        assert deliver(stripe_event("customer.subscription.updated", subscription)).status_code == 200
        assert deliver(stripe_event("customer.subscription.created", created_snapshot)).status_code == 200
        account.refresh_from_db()
        assert (account.plan, account.subscription_status) == ("pro", "active")
        assert account.current_period_end is not None

    def test_deleted_ends_the_plan(self, fake_stripe: FakeStripe, workspace: Workspace) -> None:
        account = _customer(workspace)
        subscription = fake_stripe.subscription(customer="cus_test_1", price=PRICE_PRO)
        deliver(stripe_event("customer.subscription.created", subscription))
        fake_stripe.subscriptions[subscription["id"]]["status"] = "canceled"
        deliver(stripe_event("customer.subscription.deleted", fake_stripe.subscriptions[subscription["id"]]))
        account.refresh_from_db()
        assert account.subscription_status == "canceled"
        body = _api_for(workspace).get("/api/v1/billing/").json()
        assert body["plan"]["id"] == "free"

    def test_checkout_completed_links_the_workspace(
        self, fake_stripe: FakeStripe, workspace: Workspace
    ) -> None:
        subscription = fake_stripe.subscription(customer="cus_new", price=PRICE_STARTER)
        session = {
            "id": "cs_1",
            "object": "checkout.session",
            "customer": "cus_new",
            "subscription": subscription["id"],
            "client_reference_id": str(workspace.pk),
        }
        assert deliver(stripe_event("checkout.session.completed", session)).status_code == 200
        account = BillingAccount.objects.get(workspace=workspace)
        assert (account.stripe_customer_id, account.plan, account.subscription_status) == (
            "cus_new",
            "starter",
            "active",
        )

    def test_unknown_event_types_are_recorded_and_ignored(self, fake_stripe: FakeStripe) -> None:
        event = stripe_event("charge.refunded", {"id": "ch_1", "object": "charge"})
        assert deliver(event).status_code == 200
        assert StripeEvent.objects.get(pk=event["id"]).outcome == "ignored: unhandled type"


def _api_for(workspace: Workspace) -> APIClient:
    from tests.factories import api_key_for

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_for(workspace)}")
    return client


class TestDunning:
    def test_payment_failed_refuses_renders_after_the_grace_period(
        self, fake_stripe: FakeStripe, api: APIClient, settings: Any
    ) -> None:
        workspace = api.workspace  # type: ignore[attr-defined]
        _customer(workspace)
        grant(workspace, 50)
        subscription = fake_stripe.subscription(customer="cus_test_1", price=PRICE_PRO)
        deliver(stripe_event("customer.subscription.created", subscription))
        template, brand = make_template(api, one_credit_spec()), make_brand(api)

        fake_stripe.subscriptions[subscription["id"]]["status"] = "past_due"
        invoice = _invoice("in_9", "cus_test_1", subscription["id"], PRICE_PRO)
        assert deliver(stripe_event("invoice.payment_failed", invoice)).status_code == 200
        account = BillingAccount.objects.get(workspace=workspace)
        assert account.subscription_status == "past_due"
        assert account.past_due_since is not None

        # Within the grace period renders still go through.
        assert request_render(api, template, brand, {"first_name": "A"}).status_code == 202
        settings.REELSMITH_BILLING_GRACE_SECONDS = 0
        response = request_render(api, template, brand, {"first_name": "B"})
        assert response.status_code == 402
        assert response.json()["message"].startswith(PAST_DUE.split("{since}")[0])
        assert Render.objects.filter(workspace=workspace).count() == 1
        assert api.get("/api/v1/billing/").json()["renders_refused"] == response.json()["message"]

        # Paying the invoice brings the subscription back and renders with it.
        fake_stripe.subscriptions[subscription["id"]]["status"] = "active"
        deliver(stripe_event("invoice.paid", {**invoice, "status": "paid"}))
        assert request_render(api, template, brand, {"first_name": "C"}).status_code == 202
