"""Checkout, portal and metered usage, through the real SDK against the local fake Stripe."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from core.billing.metering import billing_report_usage
from core.billing.models import BillingAccount, MeterReport
from core.billing.stripe_api import STRIPE_API_VERSION
from core.billing.stripe_sync import BILLING_OFF, NO_CUSTOMER
from core.billing.tasks import report_usage
from tests.billing.conftest import PRICE_PRO, PRICE_PRO_METERED, grant, one_credit_spec, subscribe
from tests.billing.fake_stripe import FakeStripe
from tests.render.test_api_renders import make_brand, make_template, request_render


@pytest.mark.django_db
class TestCheckoutAndPortal:
    def test_checkout_answers_a_session_url_and_creates_one_customer(
        self, api: APIClient, fake_stripe: FakeStripe
    ) -> None:
        first = api.post("/api/v1/billing/checkout/", {"plan": "pro"}, format="json")
        assert first.status_code == 200, first.json()
        assert first.json()["url"].startswith("https://checkout.stripe.test/c/pay/cs_test_")
        second = api.post("/api/v1/billing/checkout/", {"plan": "pro"}, format="json")
        assert second.json()["url"] != first.json()["url"]
        paths = [r["path"] for r in fake_stripe.requests]
        assert paths == ["/v1/customers", "/v1/checkout/sessions", "/v1/checkout/sessions"]
        session = fake_stripe.requests[1]
        workspace_id = str(api.workspace.pk)  # type: ignore[attr-defined]
        assert session["params"]["mode"] == "subscription"
        assert session["params"]["client_reference_id"] == workspace_id
        assert session["params"]["line_items"] == [
            {"price": PRICE_PRO, "quantity": "1"},
            {"price": PRICE_PRO_METERED},
        ]
        assert session["headers"]["stripe-version"] == STRIPE_API_VERSION
        assert fake_stripe.requests[0]["headers"]["idempotency-key"] == f"reelsmith-customer-{workspace_id}"
        account = BillingAccount.objects.get(workspace=api.workspace)  # type: ignore[attr-defined]
        assert account.stripe_customer_id == fake_stripe.requests[1]["params"]["customer"]

    def test_the_same_idempotency_key_gives_the_same_session(
        self, api: APIClient, fake_stripe: FakeStripe
    ) -> None:
        urls = {
            api.post(
                "/api/v1/billing/checkout/", {"plan": "pro"}, format="json", HTTP_IDEMPOTENCY_KEY="k1"
            ).json()["url"]
            for _ in range(2)
        }
        assert len(urls) == 1

    def test_unknown_or_unbuyable_plan_names_the_field(self, api: APIClient, fake_stripe: FakeStripe) -> None:
        for plan in ("gold", "free"):
            response = api.post("/api/v1/billing/checkout/", {"plan": plan}, format="json")
            assert response.status_code == 400
            assert "plan" in response.json()["fields"]
        assert fake_stripe.requests == []

    def test_portal_needs_a_customer_then_answers_a_url(
        self, api: APIClient, fake_stripe: FakeStripe
    ) -> None:
        response = api.post("/api/v1/billing/portal/")
        assert response.status_code == 400
        assert response.json()["message"] == NO_CUSTOMER
        api.post("/api/v1/billing/checkout/", {"plan": "starter"}, format="json")
        response = api.post("/api/v1/billing/portal/")
        assert response.status_code == 200
        assert response.json()["url"].startswith("https://billing.stripe.test/p/session/")

    def test_billing_off_refuses_checkout(self, api: APIClient) -> None:
        response = api.post("/api/v1/billing/checkout/", {"plan": "pro"}, format="json")
        assert response.status_code == 400
        assert response.json()["message"] == BILLING_OFF


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("run_tasks_inline")
class TestMeteredUsage:
    def test_n_renders_give_n_distinct_identifiers_even_when_the_task_runs_twice(
        self, api: APIClient, fake_stripe: FakeStripe
    ) -> None:
        workspace = api.workspace  # type: ignore[attr-defined]
        subscribe(workspace, plan="pro", customer="cus_metered")
        grant(workspace, 10)
        template, brand = make_template(api, one_credit_spec()), make_brand(api)
        render_ids = {
            request_render(api, template, brand, {"first_name": f"R{i}"}).json()["id"] for i in range(4)
        }
        # Each capture enqueued the task on commit; it ran and sent that render's event.
        assert set(fake_stripe.meter_events) == render_ids
        assert fake_stripe.meter_event_posts == 4
        # A second run finds nothing pending ...
        assert report_usage.apply().get() == 0
        # ... and a run that re-sends everything (killed after Stripe answered, before recording it) bills once.
        MeterReport.objects.update(sent_at=None)
        assert billing_report_usage(batch_size=3) == (4, 0)
        posts = [r for r in fake_stripe.requests if r["path"] == "/v1/billing/meter_events"]
        assert (
            len(posts) == 8
        )  # sent twice; Stripe keeps one per identifier (and replays the idempotency key)
        assert set(fake_stripe.meter_events) == render_ids
        event = fake_stripe.meter_events[next(iter(render_ids))]
        assert event["payload"] == {"stripe_customer_id": "cus_metered", "value": "1"}
        assert event["event_name"] == "reelsmith_credits"

    def test_a_failing_stripe_leaves_reports_pending_for_the_retry(
        self, api: APIClient, fake_stripe: FakeStripe
    ) -> None:
        workspace = api.workspace  # type: ignore[attr-defined]
        subscribe(workspace, plan="pro", customer="cus_metered")
        grant(workspace, 10)
        fake_stripe.fail_meter_events = True
        template, brand = make_template(api, one_credit_spec()), make_brand(api)
        render_id = request_render(api, template, brand, {"first_name": "A"}).json()["id"]
        report = MeterReport.objects.get(render_id=render_id)
        assert report.sent_at is None
        assert report.attempts == 1
        assert "failing" in report.error
        fake_stripe.fail_meter_events = False
        assert billing_report_usage(batch_size=100) == (1, 0)
        assert set(fake_stripe.meter_events) == {render_id}

    def test_no_customer_no_meter_reports(self, api: APIClient, fake_stripe: FakeStripe) -> None:
        grant(api.workspace, 10)  # type: ignore[attr-defined]
        template, brand = make_template(api, one_credit_spec()), make_brand(api)
        request_render(api, template, brand, {"first_name": "A"})
        assert not MeterReport.objects.exists()
        assert fake_stripe.meter_event_posts == 0
