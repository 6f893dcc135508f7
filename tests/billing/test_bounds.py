"""Billing never answers 500 for what it is sent (docs/reliability.md R17): signed but malformed Stripe
events are 400 and change nothing; support's adjustments are bounded, so no balance overflows."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from core.billing.ledger import (
    ADJUSTMENT_TOO_LARGE,
    BALANCE_TOO_LARGE,
    MAX_ADJUSTMENT,
    billing_account_get_or_create,
)
from core.billing.models import CreditEntry, StripeEvent
from core.billing.webhooks import BAD_PAYLOAD
from core.models import Workspace
from tests.billing.conftest import deliver, stripe_event
from tests.billing.fake_stripe import FakeStripe
from tests.factories import api_key_for

pytestmark = pytest.mark.django_db

SUBSCRIPTION = {"id": "sub_1", "object": "subscription"}


@pytest.mark.parametrize(
    "payload",
    [
        b"[1]",
        b"{}",
        b'"evt"',
        b"null",
        json.dumps(stripe_event("customer.subscription.updated", {"object": "subscription"})).encode(),
        json.dumps(
            stripe_event("customer.subscription.updated", SUBSCRIPTION, event_id="evt_" + "x" * 300)
        ).encode(),
        json.dumps(stripe_event("x" * 101, SUBSCRIPTION)).encode(),
        json.dumps({**stripe_event("invoice.paid", SUBSCRIPTION), "data": [1]}).encode(),
        json.dumps(stripe_event("invoice.paid", {"id": 7})).encode(),
        json.dumps(stripe_event("invoice.paid", {"id": "in_" + "x" * 300})).encode(),
        b"[" * 1000 + b"]" * 1000,
        b'{"id": "evt_1\\u0000", "type": "invoice.paid", "data": {"object": {"id": "in_1"}}}',
        b'{"id": "evt_1", "type": "invoice.paid", "data": {"object": {"id": "in_1"}}, "n": 1e999}',
        b"\xff\xfe",
    ],
)
def test_signed_but_malformed_events_are_400_and_change_nothing(
    fake_stripe: FakeStripe, payload: bytes
) -> None:
    response = deliver(payload)
    assert response.status_code == 400
    assert response.json() == {"message": BAD_PAYLOAD}
    assert not StripeEvent.objects.exists()
    assert fake_stripe.requests == []  # nothing was fetched on the event's word either


class TestGrantBounds:
    def test_2_63_credits_is_refused_with_a_clear_error(self, workspace: Workspace) -> None:
        for amount in (2**63 - 1, -(2**63), MAX_ADJUSTMENT + 1):
            with pytest.raises(CommandError, match="at most 1,000,000,000 credits"):
                call_command("grant_credits", str(workspace.pk), str(amount), stdout=io.StringIO())
        assert ADJUSTMENT_TOO_LARGE.startswith("An adjustment moves at most")
        assert not CreditEntry.objects.exists()

    def test_a_balance_cannot_be_pushed_past_its_bound(self, workspace: Workspace) -> None:
        for _ in range(1000):
            CreditEntry.objects.create(
                account_id=_account(workspace),
                kind=CreditEntry.Kind.ADJUSTMENT,
                delta=MAX_ADJUSTMENT,
                note="t",
            )
        with pytest.raises(CommandError, match=BALANCE_TOO_LARGE.split(" either")[0]):
            call_command("grant_credits", str(workspace.pk), "1", stdout=io.StringIO())

    def test_the_largest_grant_leaves_billing_answering(self, workspace: Workspace) -> None:
        call_command("grant_credits", str(workspace.pk), str(MAX_ADJUSTMENT), stdout=io.StringIO())
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_for(workspace)}")
        response = client.get("/api/v1/billing/")
        assert response.status_code == 200
        assert response.json()["credits"]["balance"] == MAX_ADJUSTMENT


def _account(workspace: Workspace) -> Any:
    return billing_account_get_or_create(workspace=workspace).pk
