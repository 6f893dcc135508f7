"""The render state machines: poison work stops, lost work is reconciled, cancel wins races, OOM splits."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.utils import timezone
from rest_framework.test import APIClient

from render import services
from render.engine.pipeline import Engine
from render.engine.types import GenerationResult
from render.models import Generation, GenerationStatus, Render, RenderStatus
from render.services import requests as render_requests
from tests.render.test_api_renders import make_brand, make_template, request_render

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("run_tasks_inline")]


def test_a_picture_that_always_fails_stops_after_three_attempts(
    api: APIClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []

    def broken(self: Engine, requests: Any) -> list[GenerationResult]:
        calls.append(len(requests))
        return [GenerationResult(key=r.key, error="RuntimeError: NaN latents") for r in requests]

    monkeypatch.setattr(Engine, "run_batch", broken)
    template, brand = make_template(api), make_brand(api)
    first = request_render(api, template, brand, {"first_name": "A"}).json()["id"]
    second = request_render(api, template, brand, {"first_name": "B"}).json()["id"]
    for render_id in (first, second):
        body = api.get(f"/api/v1/renders/{render_id}/").json()
        assert body["status"] == "failed"
        assert body["error"] == services.GENERATION_GAVE_UP.format(
            attempts=3, reason="RuntimeError: NaN latents"
        )
    assert len(calls) == 3 + 3  # each render's request gives the shared picture a fresh budget of three
    assert Generation.objects.get().status == GenerationStatus.FAILED


def test_an_exception_in_the_pipeline_fails_every_member_with_the_reason(
    api: APIClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(self: Engine, requests: Any) -> list[GenerationResult]:
        raise ValueError("scheduler exploded")

    monkeypatch.setattr(Engine, "run_batch", explode)
    render_id = request_render(api, make_template(api), make_brand(api), {"first_name": "A"}).json()["id"]
    body = api.get(f"/api/v1/renders/{render_id}/").json()
    assert body["status"] == "failed"
    assert "ValueError: scheduler exploded" in body["error"]


def test_a_composition_that_keeps_failing_ends_failed_with_the_reason(
    api: APIClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    import render.compose.compose as compose_module

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise OSError("disk full")

    monkeypatch.setattr(compose_module, "compose_video", broken)
    render_id = request_render(api, make_template(api), make_brand(api), {"first_name": "A"}).json()["id"]
    render = Render.objects.get(pk=render_id)
    assert render.status == RenderStatus.FAILED
    assert render.error == services.COMPOSE_GAVE_UP.format(attempts=3, reason="OSError: disk full")
    assert render.finished_at is not None


def test_reconciler_requeues_a_render_whose_task_was_lost(
    api: APIClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        render_requests, "enqueue", lambda *args, **kwargs: None
    )  # the broker "drops" every message
    render_id = request_render(api, make_template(api), make_brand(api), {"first_name": "A"}).json()["id"]
    assert Render.objects.get(pk=render_id).status == RenderStatus.QUEUED
    monkeypatch.undo()

    assert services.render_reconcile() == {"plan": 0, "generate": 0, "compose": 0, "released": 0, "failed": 0}
    later = timezone.now() + timedelta(seconds=settings.REELSMITH_RENDER_LEASE_SECONDS + 1)
    counts = services.render_reconcile(now=later)
    assert counts["plan"] == 1
    assert Render.objects.get(pk=render_id).status == RenderStatus.SUCCEEDED


def test_reconciler_releases_generations_of_a_dead_worker(api: APIClient) -> None:
    render_id = request_render(api, make_template(api), make_brand(api), {"first_name": "A"}).json()["id"]
    generation = Generation.objects.get()
    # As if a worker claimed it and was SIGKILLed: running, claimed long ago, render waiting.
    Generation.objects.filter(pk=generation.pk).update(
        status=GenerationStatus.RUNNING, claimed_at=timezone.now()
    )
    Render.objects.filter(pk=render_id).update(status=RenderStatus.GENERATING, video_key="")
    later = timezone.now() + timedelta(seconds=settings.REELSMITH_RENDER_LEASE_SECONDS + 1)
    counts = services.render_reconcile(now=later)
    assert counts["released"] == 1
    assert Generation.objects.get().status == GenerationStatus.SUCCEEDED
    assert Render.objects.get(pk=render_id).status == RenderStatus.SUCCEEDED


def test_cancel_while_composing_is_final(api: APIClient, monkeypatch: pytest.MonkeyPatch) -> None:
    import render.compose.compose as compose_module

    original = compose_module.compose_video

    def cancel_midway(plan: Any, out: Any, **kwargs: Any) -> Any:
        render = Render.objects.get()
        assert api.post(f"/api/v1/renders/{render.pk}/cancel/").status_code == 202
        return original(plan, out, **kwargs)

    monkeypatch.setattr(compose_module, "compose_video", cancel_midway)
    render_id = request_render(api, make_template(api), make_brand(api), {"first_name": "A"}).json()["id"]
    body = api.get(f"/api/v1/renders/{render_id}/").json()
    assert body["status"] == "canceled"
    assert body["video_url"] is None
    assert api.post(f"/api/v1/renders/{render_id}/cancel/").status_code == 202


def test_a_finished_render_cannot_be_canceled(api: APIClient) -> None:
    render_id = request_render(api, make_template(api), make_brand(api), {"first_name": "A"}).json()["id"]
    assert api.get(f"/api/v1/renders/{render_id}/").json()["status"] == "succeeded"
    response = api.post(f"/api/v1/renders/{render_id}/cancel/")
    assert response.status_code == 409
    assert response.json()["message"] == services.ALREADY_FINISHED


def test_running_a_task_twice_changes_nothing(api: APIClient) -> None:
    render_id = request_render(api, make_template(api), make_brand(api), {"first_name": "A"}).json()["id"]
    before = Render.objects.get(pk=render_id)
    services.render_plan(render_id=render_id)
    services.render_compose(render_id=render_id)
    after = Render.objects.get(pk=render_id)
    assert (after.status, after.video_key, after.finished_at) == (
        before.status,
        before.video_key,
        before.finished_at,
    )
    assert Generation.objects.get().runs == 1
