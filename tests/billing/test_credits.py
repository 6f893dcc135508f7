"""Credits: cost, reserve at request time, capture on success, release on failure and cancel, 402, the ledger."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from core.billing.ledger import INSUFFICIENT_CREDITS
from core.billing.models import BillingAccount, CreditEntry, Reservation
from core.billing.plans import TOO_MANY_IN_FLIGHT
from core.billing.selectors import ledger_balance
from core.models import Workspace
from render.engine.pipeline import Engine
from render.engine.types import GenerationResult
from render.models import Render
from render.pricing import render_cost
from render.services import requests as render_requests
from tests.billing.conftest import grant, one_credit_spec, subscribe
from tests.billing.fake_stripe import FakeStripe
from tests.factories import small_spec
from tests.render.test_api_renders import make_brand, make_template, request_render


def _balance(workspace: Workspace) -> int:
    return ledger_balance(account=BillingAccount.objects.get(workspace=workspace))


class TestCost:
    def test_started_seconds_per_format_plus_generations(self) -> None:
        spec = small_spec()  # 2 scenes of 1 s at 180x320
        assert render_cost(spec=spec, generation_credits=0) == 2
        assert render_cost(spec=spec, generation_credits=1) == 3
        spec["scenes"][0]["duration"] = 1.2  # 2.2 s: 3 started seconds
        assert render_cost(spec=spec, generation_credits=0) == 3

    def test_above_full_hd_costs_double_and_each_format_counts(self) -> None:
        spec = small_spec(format={"width": 2160, "height": 3840, "fps": 10})
        assert render_cost(spec=spec, generation_credits=0) == 4
        spec = small_spec(formats=[{"width": 1080, "height": 1920}, {"width": 1920, "height": 1080}])
        assert render_cost(spec=spec, generation_credits=0) == 4

    def test_float_durations_do_not_round_up_a_whole_second(self) -> None:
        spec = small_spec()
        spec["scenes"] = [{**spec["scenes"][1], "duration": d} for d in (0.1, 0.2, 0.7)]
        assert render_cost(spec=spec, generation_credits=0) == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("run_tasks_inline")
class TestReserveCaptureRelease:
    def test_overdraw_answers_402_with_cost_and_balance_and_queues_nothing(
        self, api: APIClient, fake_stripe: FakeStripe
    ) -> None:
        workspace = api.workspace  # type: ignore[attr-defined]
        grant(workspace, 2)
        template, brand = make_template(api), make_brand(api)  # small_spec: 2 s + 1 generation = 3
        response = request_render(api, template, brand, {"first_name": "Zoë"})
        assert response.status_code == 402
        assert response.json() == {"message": INSUFFICIENT_CREDITS.format(cost=3, balance=2)}
        assert not Render.objects.exists()
        assert not Reservation.objects.exists()
        assert _balance(workspace) == 2

    def test_success_captures_the_actual_cost_and_cache_hits_are_free(
        self, api: APIClient, fake_stripe: FakeStripe
    ) -> None:
        workspace = api.workspace  # type: ignore[attr-defined]
        subscribe(workspace, plan="pro")
        grant(workspace, 10)
        template, brand = make_template(api), make_brand(api)
        first = request_render(api, template, brand, {"first_name": "Ada"}).json()["id"]
        # The same picture (the prompt does not use first_name): a cache hit, so 1 credit is given back.
        second = request_render(api, template, brand, {"first_name": "Bo"}).json()["id"]
        assert Render.objects.get(pk=first).status == "succeeded"
        assert Render.objects.get(pk=second).status == "succeeded"
        assert Reservation.objects.get(render_id=first).cost == 3
        assert Reservation.objects.get(render_id=second).cost == 2
        assert _balance(workspace) == 10 - 3 - 2
        kinds = list(CreditEntry.objects.order_by("id").values_list("kind", "delta"))
        assert kinds == [("adjustment", 10), ("reserve", -3), ("reserve", -3), ("release", 1)]
        body = api.get("/api/v1/billing/").json()
        assert body["credits"] == {"balance": 5, "reserved": 0, "used_this_period": 5}
        assert body["plan"]["id"] == "pro"

    def test_a_failed_render_gives_its_credits_back(
        self, api: APIClient, fake_stripe: FakeStripe, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        def broken(self: Engine, requests: Any) -> list[GenerationResult]:
            return [GenerationResult(key=r.key, error="RuntimeError: NaN latents") for r in requests]

        monkeypatch.setattr(Engine, "run_batch", broken)
        workspace = api.workspace  # type: ignore[attr-defined]
        grant(workspace, 5)
        render_id = request_render(api, make_template(api), make_brand(api), {"first_name": "A"}).json()["id"]
        assert Render.objects.get(pk=render_id).status == "failed"
        reservation = Reservation.objects.get(render_id=render_id)
        assert (reservation.status, reservation.cost) == ("released", None)
        assert _balance(workspace) == 5

    def test_a_canceled_render_gives_its_credits_back(
        self, api: APIClient, fake_stripe: FakeStripe, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(render_requests, "enqueue", lambda *args, **kwargs: None)  # it stays queued
        workspace = api.workspace  # type: ignore[attr-defined]
        grant(workspace, 5)
        render_id = request_render(api, make_template(api), make_brand(api), {"first_name": "A"}).json()["id"]
        assert _balance(workspace) == 2
        assert api.get("/api/v1/billing/").json()["credits"]["reserved"] == 3
        assert api.post(f"/api/v1/renders/{render_id}/cancel/").status_code == 202
        assert Reservation.objects.get(render_id=render_id).status == "released"
        assert _balance(workspace) == 5
        # Canceling again changes nothing.
        api.post(f"/api/v1/renders/{render_id}/cancel/")
        assert _balance(workspace) == 5

    def test_in_flight_limit_of_the_plan(
        self, api: APIClient, fake_stripe: FakeStripe, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(render_requests, "enqueue", lambda *args, **kwargs: None)
        workspace = api.workspace  # type: ignore[attr-defined]
        grant(workspace, 100)  # the free plan: 2 renders in flight
        template, brand = make_template(api, one_credit_spec()), make_brand(api)
        assert request_render(api, template, brand, {"first_name": "A"}).status_code == 202
        assert request_render(api, template, brand, {"first_name": "B"}).status_code == 202
        response = request_render(api, template, brand, {"first_name": "C"})
        assert response.status_code == 429
        assert response.json()["message"] == TOO_MANY_IN_FLIGHT.format(plan="Free", limit=2)

    def test_billing_off_renders_are_not_limited_but_the_ledger_records_usage(self, api: APIClient) -> None:
        workspace = api.workspace  # type: ignore[attr-defined]
        template, brand = make_template(api, one_credit_spec()), make_brand(api)
        render_id = request_render(api, template, brand, {"first_name": "A"}).json()["id"]
        assert Render.objects.get(pk=render_id).status == "succeeded"
        assert Reservation.objects.get(render_id=render_id).cost == 1
        assert _balance(workspace) == -1
        body = api.get("/api/v1/billing/").json()
        assert body["billing_enabled"] is False
        assert body["credits"]["used_this_period"] == 1


@pytest.mark.django_db
class TestGrantAndRead:
    def test_grant_credits_writes_an_audit_entry(self, workspace: Workspace) -> None:
        out = io.StringIO()
        call_command(
            "grant_credits",
            workspace.name,
            "25",
            "--reason",
            "goodwill, ticket 12",
            "--by",
            "sam",
            stdout=out,
        )
        call_command("grant_credits", str(workspace.pk), "-5", "--by", "sam", stdout=io.StringIO())
        assert "balance 25" in out.getvalue()
        entries = list(CreditEntry.objects.order_by("id").values_list("kind", "delta", "note"))
        assert entries == [
            ("adjustment", 25, "grant_credits by sam: goodwill, ticket 12"),
            ("adjustment", -5, "grant_credits by sam"),
        ]
        assert _balance(workspace) == 20

    def test_grant_credits_refuses_unknown_workspaces_and_zero(self, workspace: Workspace) -> None:
        with pytest.raises(CommandError):
            call_command("grant_credits", "nope", "5")
        with pytest.raises(CommandError):
            call_command("grant_credits", workspace.name, "0")

    def test_each_workspace_reads_only_its_own_billing(self, api: APIClient, other_api: APIClient) -> None:
        grant(api.workspace, 7)  # type: ignore[attr-defined]
        assert api.get("/api/v1/billing/").json()["credits"]["balance"] == 7
        body = other_api.get("/api/v1/billing/").json()
        assert body["credits"] == {"balance": 0, "reserved": 0, "used_this_period": 0}
        assert APIClient().get("/api/v1/billing/").status_code in (401, 403)
