"""Leases (render/services/lease.py, docs/reliability.md R1, R2): a worker keeps what it works on by renewing
a lease; what nobody renews goes back within one lease; a duplicate delivery never takes work from a live
worker, nor counts an attempt."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from render import services
from render.models import Generation, GenerationStatus, Render, RenderStatus
from render.services.lease import (
    generations_lease_renew,
    lease_kept,
    render_lease_renew,
)
from tests.render.test_api_renders import make_brand, make_template, request_render

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("run_tasks_inline")]


def test_a_heartbeat_renews_while_the_block_runs_and_stops_after() -> None:
    beats: list[float] = []
    with lease_kept(lambda: beats.append(time.monotonic()), name="test", every=0.05):
        time.sleep(0.4)
    during = len(beats)
    time.sleep(0.2)
    assert during >= 3  # ~8 intervals; a loaded machine still fits a few
    assert len(beats) == during  # stopped with the block


def test_a_failing_renewal_is_retried_at_the_next_beat() -> None:
    calls: list[int] = []

    def flaky() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionError("database blinked")

    with lease_kept(flaky, name="test", every=0.05):
        deadline = time.monotonic() + 5
        while len(calls) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
    assert len(calls) >= 3


def _composing(render_id: str, *, owner: str, renewed_ago: float = 0.0, attempts: int = 1) -> None:
    """Put a finished render back to `composing`, held by `owner`, last renewed `renewed_ago` seconds ago."""
    Render.objects.filter(pk=render_id).update(
        status=RenderStatus.COMPOSING,
        lease_owner=owner,
        attempts=attempts,
        updated_at=timezone.now() - timedelta(seconds=renewed_ago),
        video_key="",
        finished_at=None,
    )


def test_a_duplicate_delivery_leaves_a_leased_render_to_its_worker(api: APIClient) -> None:
    render_id = request_render(api, make_template(api), make_brand(api), {"first_name": "A"}).json()["id"]
    _composing(render_id, owner="task-a")

    services.render_compose(render_id=render_id, lease_owner="task-b")  # the reconciler's duplicate

    render = Render.objects.get(pk=render_id)
    assert (render.status, render.attempts, render.lease_owner) == (RenderStatus.COMPOSING, 1, "task-a")


def test_a_redelivery_of_the_same_task_takes_its_lease_back_at_once(api: APIClient) -> None:
    render_id = request_render(api, make_template(api), make_brand(api), {"first_name": "A"}).json()["id"]
    _composing(render_id, owner="task-a")

    services.render_compose(render_id=render_id, lease_owner="task-a")  # its worker died; same message again

    render = Render.objects.get(pk=render_id)
    assert (render.status, render.attempts) == (RenderStatus.SUCCEEDED, 2)
    assert render.lease_owner == ""  # out of the leased stage


def test_a_lease_nobody_renewed_can_be_taken(api: APIClient, settings: Any) -> None:
    render_id = request_render(api, make_template(api), make_brand(api), {"first_name": "A"}).json()["id"]
    _composing(render_id, owner="task-a", renewed_ago=settings.REELSMITH_RENDER_LEASE_SECONDS + 1)

    services.render_compose(render_id=render_id, lease_owner="task-b")

    assert Render.objects.get(pk=render_id).status == RenderStatus.SUCCEEDED


def test_the_reconciler_requeues_only_renders_whose_heartbeat_stopped(api: APIClient, settings: Any) -> None:
    template, brand = make_template(api), make_brand(api)
    alive = request_render(api, template, brand, {"first_name": "A"}).json()["id"]
    dead = request_render(api, template, brand, {"first_name": "B"}).json()["id"]
    lease = settings.REELSMITH_RENDER_LEASE_SECONDS
    _composing(alive, owner="task-alive", renewed_ago=lease - 5)  # its heartbeat is due any second
    _composing(dead, owner="task-dead", renewed_ago=lease + 1)

    counts = services.render_reconcile()

    assert counts["compose"] == 1
    assert Render.objects.get(pk=dead).status == RenderStatus.SUCCEEDED  # composed again (tasks run inline)
    assert Render.objects.get(pk=dead).attempts == 2
    assert Render.objects.get(pk=alive).status == RenderStatus.COMPOSING
    assert Render.objects.get(pk=alive).lease_owner == "task-alive"


def test_a_renewal_counts_only_for_the_holder_and_the_leased_stage(api: APIClient) -> None:
    render_id = request_render(api, make_template(api), make_brand(api), {"first_name": "A"}).json()["id"]
    _composing(render_id, owner="task-a", renewed_ago=30)
    before = Render.objects.get(pk=render_id).updated_at

    assert render_lease_renew(render_id=render_id, owner="task-b") == 0
    assert render_lease_renew(render_id=render_id, owner="task-a") == 1
    assert Render.objects.get(pk=render_id).updated_at > before
    Render.objects.filter(pk=render_id).update(status=RenderStatus.CANCELED)
    assert render_lease_renew(render_id=render_id, owner="task-a") == 0


def test_a_running_batch_keeps_its_generations_claimed(api: APIClient, settings: Any) -> None:
    request_render(api, make_template(api), make_brand(api), {"first_name": "A"})
    generation = Generation.objects.get()
    long_ago = timezone.now() - timedelta(seconds=settings.REELSMITH_RENDER_LEASE_SECONDS + 1)
    Generation.objects.filter(pk=generation.pk).update(status=GenerationStatus.RUNNING, claimed_at=long_ago)

    assert generations_lease_renew(keys=[generation.pk]) == 1  # the worker's heartbeat came in

    assert services.render_reconcile()["released"] == 0
    assert Generation.objects.get().status == GenerationStatus.RUNNING


def test_compose_renews_the_render_lease_while_it_runs(
    api: APIClient, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A compose that outlasts several heartbeats keeps its render: the reconciler finds nothing to take."""
    import render.services.lease as lease_module

    settings.REELSMITH_HEARTBEAT_SECONDS = 0.1
    renewals: list[int] = []
    renew = lease_module.render_lease_renew

    def counted(**kwargs: Any) -> int:
        renewed = renew(**kwargs)
        renewals.append(renewed)
        return renewed

    monkeypatch.setattr(lease_module, "render_lease_renew", counted)
    import render.compose.compose as compose_module

    original = compose_module.compose_video
    seen: dict[str, Any] = {}

    def slow(plan: Any, out: Any, **kwargs: Any) -> Any:
        time.sleep(0.6)  # six beats
        render = Render.objects.get()
        seen["updated_ago"] = (timezone.now() - render.updated_at).total_seconds()
        seen["reconciled"] = services.render_reconcile(
            now=render.updated_at + timedelta(seconds=settings.REELSMITH_RENDER_LEASE_SECONDS - 1)
        )
        return original(plan, out, **kwargs)

    monkeypatch.setattr(compose_module, "compose_video", slow)
    render_id = request_render(api, make_template(api), make_brand(api), {"first_name": "A"}).json()["id"]

    assert Render.objects.get(pk=render_id).status == RenderStatus.SUCCEEDED
    assert sum(renewals) >= 2, renewals
    assert seen["updated_ago"] < 0.5  # renewed during the compose, not only when it started
    assert seen["reconciled"]["compose"] == 0
    assert threading.active_count() < 50  # heartbeat threads end with their block


def test_the_reconciler_nudges_each_waiting_shape_once(
    api: APIClient, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Renders waiting on pictures of one shape need one generate task between them (it drains the shape)."""
    import render.services.reconcile as reconcile_module

    template, brand = make_template(api), make_brand(api)
    render_ids = [request_render(api, template, brand, {"first_name": n}).json()["id"] for n in "ABC"]
    Generation.objects.update(status=GenerationStatus.PENDING, output_key="")
    long_ago = timezone.now() - timedelta(seconds=settings.REELSMITH_RENDER_LEASE_SECONDS + 1)
    Render.objects.filter(pk__in=render_ids).update(status=RenderStatus.GENERATING, updated_at=long_ago)
    sent: list[tuple[Any, ...]] = []
    monkeypatch.setattr(reconcile_module, "enqueue", lambda *args, **kwargs: sent.append(args))

    assert services.render_reconcile()["generate"] == 1
    assert [args[0] for args in sent] == [services.TASK_GENERATE]
