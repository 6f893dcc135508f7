"""The render farm's Django side: batches across renders and campaigns, priorities, dedupe, lingering, OOM,
fatal errors, poison pictures, and concurrent claims on real PostgreSQL.

The stages are driven by hand: in a `django_db` (non-transactional) test the enqueued tasks never run (their
on-commit callbacks wait for a commit that never comes), so the test plans renders, then drains a shape itself,
with the real tiny-sd engine on CPU.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import torch
from django.db import connections
from django.utils import timezone
from rest_framework.test import APIClient

from campaigns.models import Campaign, CampaignRender
from core.errors import ApplicationError
from core.models import Brand, Workspace
from render import services
from render.engine.pipeline import Engine, get_engine
from render.engine.types import GenerationRequest, GenerationResult
from render.metrics import RenderCollector
from render.models import (
    Generation,
    GenerationBatch,
    GenerationStatus,
    Priority,
    Render,
    RenderGeneration,
    RenderStatus,
)
from render.planning import GenerationSpec
from render.services import generation as generation_services
from render.services import plan as plan_services
from templates.services import template_create
from templates.spec import spec_validate
from tests.e2e.test_renders import wait_final
from tests.factories import BrandFactory, WorkspaceFactory, small_spec
from tests.render.test_api_renders import make_brand, make_template, request_render

MAX_BATCH = 16  # the engine's default REELSMITH_MAX_BATCH


class WorkerExit(Exception):
    """Stands in for os._exit in the fatal-error test."""


def _variant_spec() -> dict[str, Any]:
    """The small template with its generated background made a personal variant of one shared picture."""
    spec = small_spec()
    spec["scenes"][0]["background"]["generate"] = {
        "prompt": "a sunlit storefront with {{first_name}}'s name over the door",
        "base": {"prompt": "a sunlit storefront, cinematic", "seed": 7},
        "strength": 0.35,
    }
    return spec


def _render(
    workspace: Workspace,
    industry: str,
    *,
    priority: int = Priority.INTERACTIVE,
    campaign: bool = False,
    spec: dict[str, Any] | None = None,
    first_name: str = "Ann",
) -> Render:
    """A queued render of the small template for one recipient (billing and the API are not under test)."""
    version = template_create(workspace=workspace, name="t", spec=spec or small_spec())
    brand: Brand = BrandFactory.create(workspace=workspace)
    owner = (
        Campaign.objects.create(workspace=workspace, name="c", template_version=version, brand=brand)
        if campaign
        else None
    )
    render: Render = Render.objects.create(
        workspace=workspace,
        template_version=version,
        brand=brand,
        variables={"first_name": first_name, "company": "Acme", "industry": industry},
        priority=priority,
        batch=owner is not None,
    )
    if owner is not None:
        CampaignRender.objects.create(render=render, campaign=owner)
    return render


def _planned(*renders: Render) -> list[Render]:
    for render in renders:
        services.render_plan(render_id=render.pk)
    return [Render.objects.get(pk=r.pk) for r in renders]


def _shape_keys() -> list[str]:
    return sorted(set(Generation.objects.values_list("shape_key", flat=True)))


def _drain(shape_key: str, max_batch: int = MAX_BATCH) -> int:
    return services.generation_drain(shape_key=shape_key, max_batch=max_batch, max_wait_ms=0)


@pytest.fixture
def engine_calls(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Record the prompts of every engine call (the real tiny-sd engine still runs)."""
    engine = get_engine("tiny-sd")
    real = engine.run_batch
    calls: list[list[str]] = []

    def spy(requests: list[GenerationRequest]) -> list[GenerationResult]:
        calls.append([r.prompt for r in requests])
        return real(requests)

    monkeypatch.setattr(engine, "run_batch", spy)
    return calls


@pytest.fixture
def failing_engine(monkeypatch: pytest.MonkeyPatch) -> Callable[[Callable[[int], None]], list[int]]:
    """Install `fail(batch_size)` in front of the engine's batched denoising call; returns the sizes seen."""
    engine: Engine = get_engine("tiny-sd")
    real = engine._denoise

    def install(fail: Callable[[int], None]) -> list[int]:
        sizes: list[int] = []

        def wrapper(padded: Any, shape: Any, embeds: Any, generators: Any) -> Any:
            sizes.append(len(generators))
            fail(len(generators))
            return real(padded, shape, embeds, generators)

        monkeypatch.setattr(engine, "_denoise", wrapper)
        return sizes

    return install


@pytest.mark.django_db
def test_one_batch_across_renders_workspaces_and_campaigns(engine_calls: list[list[str]]) -> None:
    a, b = WorkspaceFactory.create(), WorkspaceFactory.create()
    renders = _planned(
        _render(a, "bakery"),
        _render(a, "florist", priority=Priority.BATCH, campaign=True),
        _render(b, "garage", priority=Priority.BATCH, campaign=True),
        _render(b, "gym"),
    )
    assert {r.status for r in renders} == {RenderStatus.GENERATING}
    [shape_key] = _shape_keys()

    assert _drain(shape_key) == 4

    assert [len(call) for call in engine_calls] == [4]  # one pipeline call for all four
    assert list(GenerationBatch.objects.values_list("size", flat=True)) == [4]
    assert set(Generation.objects.values_list("status", "runs")) == {(GenerationStatus.SUCCEEDED, 1)}
    assert {r.status for r in Render.objects.all()} == {RenderStatus.COMPOSING}


@pytest.mark.django_db
def test_identical_pictures_are_made_once_across_renders_and_campaigns(engine_calls: list[list[str]]) -> None:
    a, b = WorkspaceFactory.create(), WorkspaceFactory.create()
    renders = [
        _render(workspace, industry, priority=priority, campaign=priority == Priority.BATCH)
        for workspace in (a, b)
        for industry in ("bakery", "florist")
        for priority in (Priority.INTERACTIVE, Priority.BATCH)
    ]
    _planned(*renders)
    assert Generation.objects.count() == 2
    # The first render of each picture created it; the other seven links reused it.
    assert RenderGeneration.objects.filter(cache_hit=True).count() == 6
    [shape_key] = _shape_keys()

    _drain(shape_key)

    assert engine_calls == [[g.prompt for g in Generation.objects.order_by("priority", "created_at")]]
    assert sum(Generation.objects.values_list("runs", flat=True)) == 2
    assert Render.objects.filter(status=RenderStatus.COMPOSING).count() == 8
    # A later render of a picture that exists goes straight to compose.
    [late] = _planned(_render(a, "bakery"))
    assert late.status == RenderStatus.COMPOSING


@pytest.mark.django_db
def test_interactive_pictures_are_claimed_before_campaign_ones(workspace: Workspace) -> None:
    campaign = [_render(workspace, f"shop {i}", priority=Priority.BATCH, campaign=True) for i in range(3)]
    _planned(*campaign)
    [interactive] = _planned(_render(workspace, "late but urgent"))
    [shape_key] = _shape_keys()

    claimed = services.generation_claim_batch(shape_key=shape_key, max_batch=2)

    assert claimed[0].prompt == "a sunlit late but urgent storefront, cinematic"
    assert [g.priority for g in claimed] == [Priority.INTERACTIVE, Priority.BATCH]
    assert interactive.priority == Priority.INTERACTIVE


@pytest.mark.django_db
def test_an_interactive_render_pulls_a_shared_campaign_picture_forward(workspace: Workspace) -> None:
    _planned(_render(workspace, "bakery", priority=Priority.BATCH, campaign=True))
    assert Generation.objects.get().priority == Priority.BATCH
    _planned(_render(workspace, "bakery"))
    assert Generation.objects.get().priority == Priority.INTERACTIVE


@pytest.mark.django_db
def test_draining_a_campaign_shape_serves_interactive_work_of_other_shapes_first(
    workspace: Workspace, engine_calls: list[list[str]]
) -> None:
    campaign_specs = [
        GenerationSpec("tiny-sd", f"campaign picture {i}", "", i, 64, 64, 2, 0.0) for i in range(3)
    ]
    urgent_spec = GenerationSpec("tiny-sd", "interactive picture", "", 1, 64, 64, 3, 0.0)  # another shape
    for spec in campaign_specs:
        plan_services._generation_for(spec, Priority.BATCH)
    plan_services._generation_for(urgent_spec, Priority.INTERACTIVE)
    assert campaign_specs[0].shape_key != urgent_spec.shape_key

    assert _drain(campaign_specs[0].shape_key, max_batch=2) == 4

    assert engine_calls == [
        ["interactive picture"],
        ["campaign picture 0", "campaign picture 1"],
        ["campaign picture 2"],
    ]


@pytest.mark.django_db
def test_linger_waits_for_the_batch_to_fill(monkeypatch: pytest.MonkeyPatch) -> None:
    specs = [GenerationSpec("tiny-sd", f"arrives {i}", "", i, 64, 64, 2, 0.0) for i in range(2)]
    plan_services._generation_for(specs[0], Priority.INTERACTIVE)
    waits: list[float] = []

    def sleep(seconds: float) -> None:  # the second request arrives while the first lingers
        waits.append(seconds)
        plan_services._generation_for(specs[1], Priority.INTERACTIVE)

    monkeypatch.setattr(generation_services.time, "sleep", sleep)
    pending = services.generation_linger(shape_key=specs[0].shape_key, max_batch=2, max_wait_ms=10_000)

    assert pending == 2
    assert len(waits) == 1
    assert 0 < waits[0] <= services.LINGER_POLL_MS / 1000


@pytest.mark.django_db
def test_linger_does_not_wait_for_work_that_already_waited(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = GenerationSpec("tiny-sd", "old request", "", 0, 64, 64, 2, 0.0)
    generation, _ = plan_services._generation_for(spec, Priority.INTERACTIVE)
    Generation.objects.filter(pk=generation.pk).update(created_at=timezone.now() - timedelta(seconds=5))
    monkeypatch.setattr(generation_services.time, "sleep", lambda seconds: pytest.fail("lingered"))

    assert services.generation_linger(shape_key=spec.shape_key, max_batch=16, max_wait_ms=50) == 1
    assert services.generation_linger(shape_key="nothing|here", max_batch=16, max_wait_ms=50) == 0


@pytest.mark.django_db
def test_out_of_memory_splits_inside_one_claimed_batch(
    workspace: Workspace, failing_engine: Callable[[Callable[[int], None]], list[int]]
) -> None:
    def oom_above_two(size: int) -> None:
        if size > 2:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    sizes = failing_engine(oom_above_two)
    _planned(*(_render(workspace, f"shop {i}") for i in range(3)))
    [shape_key] = _shape_keys()

    _drain(shape_key)

    assert sizes == [4, 2, 1]  # 3 padded to 4 fails; halves of 2 and 1 succeed
    assert set(Generation.objects.values_list("status", "attempts", "runs")) == {
        (GenerationStatus.SUCCEEDED, 1, 1)
    }
    assert Render.objects.filter(status=RenderStatus.COMPOSING).count() == 3


@pytest.mark.django_db
def test_poison_picture_stops_after_three_attempts_failing_every_waiting_render(
    failing_engine: Callable[[Callable[[int], None]], list[int]],
) -> None:
    def always(size: int) -> None:
        raise ValueError("the scheduler diverged")

    sizes = failing_engine(always)
    a, b = WorkspaceFactory.create(), WorkspaceFactory.create()
    renders = _planned(_render(a, "cursed"), _render(b, "cursed", priority=Priority.BATCH, campaign=True))
    [shape_key] = _shape_keys()

    _drain(shape_key)

    assert sizes == [1, 1, 1]  # three attempts, then no more
    generation = Generation.objects.get()
    assert (generation.status, generation.attempts, generation.runs) == (GenerationStatus.FAILED, 3, 0)
    assert generation.error == "ValueError: the scheduler diverged"
    expected = services.GENERATION_GAVE_UP.format(attempts=3, reason="ValueError: the scheduler diverged")
    for render in renders:
        render.refresh_from_db()
        assert (render.status, render.error) == (RenderStatus.FAILED, expected)
    assert _drain(shape_key) == 0  # nothing left to claim


@pytest.mark.django_db
def test_a_picture_claimed_too_often_by_lost_workers_is_given_up_without_running(
    workspace: Workspace, engine_calls: list[list[str]]
) -> None:
    [render] = _planned(_render(workspace, "haunted"))
    Generation.objects.update(attempts=3)  # three workers died holding it (the reconciler released it)

    _drain(Generation.objects.get().shape_key)

    assert engine_calls == []
    render.refresh_from_db()
    assert render.status == RenderStatus.FAILED
    assert "the worker running it was lost" in render.error


@pytest.mark.django_db
def test_fatal_device_error_releases_the_batch_and_exits_the_process(
    workspace: Workspace,
    failing_engine: Callable[[Callable[[int], None]], list[int]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def illegal(size: int) -> None:
        raise RuntimeError("CUDA error: an illegal memory access was encountered")

    def exit_(code: int) -> None:
        raise WorkerExit(code)

    failing_engine(illegal)
    monkeypatch.setattr(generation_services.os, "_exit", exit_)
    _planned(*(_render(workspace, f"shop {i}") for i in range(2)))
    [shape_key] = _shape_keys()

    with pytest.raises(WorkerExit) as exited:
        _drain(shape_key)

    assert exited.value.args == (70,)
    # Back to pending for a fresh process, the attempt counted, nothing recorded as run.
    assert set(Generation.objects.values_list("status", "attempts", "runs", "claimed_at")) == {
        (GenerationStatus.PENDING, 1, 0, None)
    }
    assert not GenerationBatch.objects.exists()
    assert Render.objects.filter(status=RenderStatus.GENERATING).count() == 2


@pytest.mark.django_db
def test_metrics_count_runs_batches_and_gpu_memory(workspace: Workspace) -> None:
    _planned(*(_render(workspace, f"shop {i}") for i in range(3)))
    _drain(_shape_keys()[0])
    GenerationBatch.objects.create(model="sd-turbo", size=16, seconds=0.2, peak_memory_bytes=1 << 30)
    GenerationBatch.objects.create(model="sd-turbo", size=8, seconds=0.1, peak_memory_bytes=3 << 29)

    families = {family.name: family for family in RenderCollector().collect()}

    runs = {s.labels["model"]: s.value for s in families["reelsmith_generations"].samples}
    assert runs == {"tiny-sd": 3}
    buckets = {
        s.labels["le"]: s.value
        for s in families["reelsmith_generation_batch_size"].samples
        if s.name.endswith("_bucket")
    }
    assert (buckets["2"], buckets["4"], buckets["8"], buckets["16"], buckets["+Inf"]) == (0, 1, 2, 3, 3)
    memory = {
        s.labels["model"]: s.value for s in families["reelsmith_generation_gpu_memory_peak_bytes"].samples
    }
    assert memory == {"sd-turbo": float(3 << 29)}  # the latest batch's peak; CPU batches record none


@pytest.mark.django_db
def test_img2img_variants_share_one_base_made_first(
    workspace: Workspace, engine_calls: list[list[str]]
) -> None:
    names = ["Ann", "Bo", "Cy"]
    renders = _planned(*(_render(workspace, "x", spec=_variant_spec(), first_name=name) for name in names))
    base = Generation.objects.get(base__isnull=True)
    variants = Generation.objects.filter(base=base)
    assert variants.count() == 3
    assert {v.strength for v in variants} == {0.35}
    # tiny-sd's 2-step schedule at 0.35 runs no step; the variant's schedule is stretched to 3 (1 step run).
    assert {v.steps for v in variants} == {3}
    variant_shape = variants[0].shape_key
    assert variant_shape != base.shape_key
    # Every render waits on its variant and on the shared base.
    assert RenderGeneration.objects.filter(generation=base).count() == 3

    assert services.generation_claim_batch(shape_key=variant_shape, max_batch=MAX_BATCH) == []  # base first
    # Draining the variants' shape serves the (interactive) base first, then the variants in one batch.
    assert _drain(variant_shape) == 4

    assert engine_calls == [
        ["a sunlit storefront, cinematic"],
        [f"a sunlit storefront with {name}'s name over the door" for name in names],
    ]
    assert set(Generation.objects.values_list("status", "runs")) == {(GenerationStatus.SUCCEEDED, 1)}
    for render in renders:
        render.refresh_from_db()
        assert render.status == RenderStatus.COMPOSING


@pytest.mark.django_db
def test_a_failed_base_fails_its_variants_and_their_renders(
    workspace: Workspace, failing_engine: Callable[[Callable[[int], None]], list[int]]
) -> None:
    def broken(size: int) -> None:
        raise ValueError("no picture today")

    failing_engine(broken)
    renders = _planned(*(_render(workspace, "x", spec=_variant_spec(), first_name=n) for n in ("Ann", "Bo")))
    base = Generation.objects.get(base__isnull=True)

    _drain(base.shape_key)

    assert set(Generation.objects.values_list("status", flat=True)) == {GenerationStatus.FAILED}
    assert set(Generation.objects.filter(base=base).values_list("error", flat=True)) == {
        "its base picture failed: ValueError: no picture today"
    }
    for render in renders:
        render.refresh_from_db()
        assert render.status == RenderStatus.FAILED
        assert "no picture today" in render.error


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_concurrent_workers_never_claim_the_same_generation() -> None:
    """Two threads, two PostgreSQL connections, claiming from one shape at once (FOR UPDATE SKIP LOCKED)."""
    total = 60
    specs = [GenerationSpec("tiny-sd", f"race {i}", "", i, 64, 64, 2, 0.0) for i in range(total)]
    for spec in specs:
        plan_services._generation_for(spec, Priority.BATCH)
    shape_key = specs[0].shape_key
    start = threading.Barrier(2)
    claims: dict[str, list[str]] = {"a": [], "b": []}
    errors: list[BaseException] = []

    def worker(name: str) -> None:
        try:
            start.wait()
            while batch := services.generation_claim_batch(shape_key=shape_key, max_batch=4):
                claims[name].extend(g.key for g in batch)
        except BaseException as exc:  # reported in the main thread
            errors.append(exc)
        finally:
            connections.close_all()  # this thread's connection

    threads = [threading.Thread(target=worker, args=(name,)) for name in claims]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert connections["default"].vendor == "postgresql"
    both = claims["a"] + claims["b"]
    assert len(both) == len(set(both)) == total  # every row claimed, none twice
    assert set(Generation.objects.values_list("status", "attempts")) == {(GenerationStatus.RUNNING, 1)}


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("run_tasks_inline")
def test_variant_renders_end_to_end_through_the_api(api: APIClient) -> None:
    template, brand = make_template(api, _variant_spec()), make_brand(api)
    ids = [request_render(api, template, brand, {"first_name": name}).json()["id"] for name in ("Ann", "Bo")]
    for render_id in ids:
        body = wait_final(api, render_id)
        assert body["status"] == "succeeded", body
    assert Generation.objects.filter(base__isnull=True).count() == 1  # one shared base
    assert Generation.objects.filter(base__isnull=False).count() == 2
    assert sum(Generation.objects.values_list("runs", flat=True)) == 3


@pytest.mark.parametrize(
    ("generate", "field"),
    [
        ({"prompt": "p", "strength": 0.5}, "spec.scenes[0].background.generate.strength"),
        (
            {"prompt": "p", "base": {"prompt": "b"}, "strength": 2},
            "spec.scenes[0].background.generate.strength",
        ),
        ({"prompt": "p", "base": {"seed": 1}}, "spec.scenes[0].background.generate.base.prompt"),
        (
            {"prompt": "p", "base": {"prompt": "b", "seed": -1}},
            "spec.scenes[0].background.generate.base.seed",
        ),
        (
            {"prompt": "p", "base": {"prompt": "b", "steps": 3}},
            "spec.scenes[0].background.generate.base.steps",
        ),
        ({"prompt": "p", "base": "b"}, "spec.scenes[0].background.generate.base"),
    ],
)
def test_variant_specs_are_validated(generate: dict[str, Any], field: str) -> None:
    spec = small_spec()
    spec["scenes"][0]["background"]["generate"] = generate
    with pytest.raises(ApplicationError) as raised:
        spec_validate(spec)
    assert field in (raised.value.fields or {}), raised.value.fields


def test_a_valid_variant_spec_passes() -> None:
    spec_validate(_variant_spec())
