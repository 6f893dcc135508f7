"""Credits stay exact under concurrency, on real PostgreSQL: the account's row lock serializes reservations."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import pytest
from django.db import connections
from rest_framework.test import APIClient

from core.billing.ledger import INSUFFICIENT_CREDITS
from core.billing.models import BillingAccount, Reservation
from core.billing.selectors import ledger_balance
from render.models import Render
from tests.billing.conftest import grant, one_credit_spec, subscribe
from tests.billing.fake_stripe import FakeStripe
from tests.factories import api_key_for
from tests.render.test_api_renders import make_brand, make_template, request_render

REQUESTS = 50
CREDITS = 10


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_fifty_simultaneous_requests_against_ten_credits_accept_exactly_ten(
    api: APIClient, fake_stripe: FakeStripe
) -> None:
    workspace = api.workspace  # type: ignore[attr-defined]
    subscribe(workspace, plan="pro")  # 50 renders in flight: only credits can refuse
    grant(workspace, CREDITS)
    template, brand = make_template(api, one_credit_spec()), make_brand(api)
    keys = [api_key_for(workspace) for _ in range(REQUESTS)]
    start = threading.Barrier(REQUESTS)
    answers: list[tuple[int, Any]] = []
    lock = threading.Lock()

    def one_request(index: int) -> None:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {keys[index]}")
        try:
            start.wait()
            response = request_render(client, template, brand, {"first_name": f"R{index}"})
            with lock:
                answers.append((response.status_code, response.json()))
        finally:
            connections.close_all()  # this thread's own connection

    threads = [threading.Thread(target=one_request, args=(i,)) for i in range(REQUESTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert Counter(status for status, _ in answers) == {202: CREDITS, 402: REQUESTS - CREDITS}
    refused = {body["message"] for status, body in answers if status == 402}
    assert refused == {INSUFFICIENT_CREDITS.format(cost=1, balance=0)}
    assert Render.objects.filter(workspace=workspace).count() == CREDITS
    assert Reservation.objects.filter(account__workspace=workspace).count() == CREDITS
    assert ledger_balance(account=BillingAccount.objects.get(workspace=workspace)) == 0
