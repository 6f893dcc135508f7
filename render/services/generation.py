"""The GPU side's database half: claim a batch of pending Generations of one shape, run it in one pipeline
call, record one result per Generation, and send on the renders whose pictures are all ready."""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count, F, Min, Q
from django.utils import timezone

from core.queue import enqueue
from core.storage import Storage, get_storage
from render.models import (
    Generation,
    GenerationBatch,
    GenerationStatus,
    Priority,
    Render,
    RenderGeneration,
    RenderStatus,
)
from render.services.lease import generations_lease_kept
from render.services.transitions import (
    TASK_COMPOSE,
    TASK_GENERATE,
    compose_queue,
    render_fail,
    render_transition,
)

logger = logging.getLogger(__name__)

GENERATION_GAVE_UP = "Generating the background failed {attempts} times: {reason}"


# Pending, and not a variant whose base picture is not made yet (that variant waits for its base).
_CLAIMABLE = Q(status=GenerationStatus.PENDING) & (
    Q(base__isnull=True) | Q(base__status=GenerationStatus.SUCCEEDED)
)


def generation_claim_batch(*, shape_key: str, max_batch: int) -> list[Generation]:
    """Claim up to `max_batch` pending Generations of one shape, most urgent first. Concurrent workers
    never claim the same row: locked rows are skipped (`FOR UPDATE SKIP LOCKED` on PostgreSQL)."""
    with transaction.atomic():
        keys = list(
            # of=self: lock the Generation rows only; the base's row is read through an outer join,
            # which PostgreSQL cannot lock ("FOR UPDATE cannot be applied to the nullable side").
            Generation.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(_CLAIMABLE, shape_key=shape_key)
            .order_by("priority", "created_at")
            .values_list("key", flat=True)[:max_batch]
        )
        if not keys:
            return []
        Generation.objects.filter(key__in=keys, status=GenerationStatus.PENDING).update(
            status=GenerationStatus.RUNNING,
            attempts=F("attempts") + 1,
            claimed_at=timezone.now(),
            updated_at=timezone.now(),
        )
        return list(Generation.objects.filter(key__in=keys).order_by("priority", "created_at"))


def generation_release(*, generations: Sequence[Generation]) -> None:
    """Hand claimed Generations back (the worker is about to exit); their attempts stay counted."""
    Generation.objects.filter(key__in=[g.key for g in generations], status=GenerationStatus.RUNNING).update(
        status=GenerationStatus.PENDING, claimed_at=None, updated_at=timezone.now()
    )


# How often a lingering generate task looks for more work of its shape (ms). Small next to the window
# (REELSMITH_MAX_WAIT_MS, 50 ms by default): one indexed COUNT per look.
LINGER_POLL_MS = 5


def generation_linger(*, shape_key: str, max_batch: int, max_wait_ms: int) -> int:
    """Wait for a batch of this shape to fill: until `max_batch` are pending, or `max_wait_ms` after the oldest
    pending one was created (work that already waited that long goes at once), or nothing is pending.
    Returns how many are pending. Dynamic batching as in Ray Serve's `@serve.batch` (batch_wait_timeout_s)."""
    window = timedelta(milliseconds=max_wait_ms)
    while True:
        pending = Generation.objects.filter(_CLAIMABLE, shape_key=shape_key).aggregate(
            n=Count("pk"), oldest=Min("created_at")
        )
        count: int = pending["n"]
        if count == 0 or count >= max_batch or max_wait_ms <= 0:
            return count
        remaining = (pending["oldest"] + window - timezone.now()).total_seconds()
        if remaining <= 0:
            return count
        time.sleep(min(remaining, LINGER_POLL_MS / 1000))


def generation_urgent_shapes(*, shape_key: str) -> list[str]:
    """Other shapes with interactive work waiting, when this shape's own next work is not interactive.

    A GPU worker draining a campaign's shape serves these first, between two batches (see generation_drain).
    """
    pending = Generation.objects.filter(_CLAIMABLE)
    own = pending.filter(shape_key=shape_key).aggregate(p=Min("priority"))["p"]
    if own is not None and own <= Priority.INTERACTIVE:
        return []
    return sorted(
        pending.filter(priority__lte=Priority.INTERACTIVE)
        .exclude(shape_key=shape_key)
        .values_list("shape_key", flat=True)
        .distinct()
    )


def generation_drain(*, shape_key: str, max_batch: int, max_wait_ms: int) -> int:
    """The generate task's body: run batches of `shape_key` while it has pending work. Between batches,
    interactive work of any other shape goes first (a single API render does not wait behind a 10,000
    recipient campaign). Returns how many Generations were claimed in all."""
    total = 0
    while True:
        for urgent in generation_urgent_shapes(shape_key=shape_key):
            total += generation_run_batch(shape_key=urgent, max_batch=max_batch, max_wait_ms=0)
        claimed = generation_run_batch(shape_key=shape_key, max_batch=max_batch, max_wait_ms=max_wait_ms)
        if not claimed:
            return total
        total += claimed


def generation_run_batch(*, shape_key: str, max_batch: int, max_wait_ms: int = 0) -> int:
    """Linger, claim, run, record. Returns how many Generations were claimed (0: nothing to do)."""
    # 1. Let the batch fill (up to max_wait_ms), then claim. Poison pictures (tried too often) are failed
    #    without running them again.
    generation_linger(shape_key=shape_key, max_batch=max_batch, max_wait_ms=max_wait_ms)
    claimed = generation_claim_batch(shape_key=shape_key, max_batch=max_batch)
    if not claimed:
        return 0
    runnable = [g for g in claimed if g.attempts <= settings.REELSMITH_MAX_ATTEMPTS]
    for generation in claimed:
        if generation.attempts > settings.REELSMITH_MAX_ATTEMPTS:
            _generation_give_up(generation, generation.error or "the worker running it was lost")
    if not runnable:
        return len(claimed)
    # 2-3. A batch can run for minutes: its lease is renewed while it runs and records (lease.py).
    with generations_lease_kept(keys=[g.key for g in runnable]):
        _generation_run_claimed(runnable)
    return len(claimed)


def _generation_run_claimed(runnable: list[Generation]) -> None:
    """Run claimed Generations of one shape in one pipeline call and record one result each."""
    from render.engine.errors import FatalEngineError
    from render.engine.pipeline import get_engine
    from render.engine.types import GenerationRequest, GenerationResult, ShapeKey

    # 2. Run one batched pipeline call.
    first = runnable[0]
    shape = ShapeKey(
        first.model,
        first.width,
        first.height,
        first.steps,
        first.guidance,
        first.scheduler,
        first.strength,
        first.num_frames,
    )
    started = time.monotonic()
    peak_memory: int | None = None
    try:
        bases = _generation_base_images(runnable)
        requests = [
            GenerationRequest(
                key=g.key,
                shape=shape,
                prompt=g.prompt,
                seed=g.seed,
                negative_prompt=g.negative_prompt,
                init_image=bases.get(g.base_id) if g.base_id else None,
            )
            for g in runnable
        ]
        engine = get_engine(first.model)
        results: list[GenerationResult] = engine.run_batch(requests)
        peak_memory = engine.last_peak_memory_bytes
    except FatalEngineError:
        # The device is in a state no retry in this process fixes: give the work back and let a fresh
        # process take over (the GPU worker's pool replaces this child).
        generation_release(generations=runnable)
        logger.critical("fatal engine error; exiting so a fresh worker process takes over", exc_info=True)
        os._exit(70)  # EX_SOFTWARE; a clean sys.exit would be caught by Celery's task machinery
    except Exception as exc:  # any other failure fails every member of this batch with the reason
        logger.exception("generation batch failed")
        results = [GenerationResult(key=g.key, error=f"{type(exc).__name__}: {exc}") for g in runnable]
    seconds = time.monotonic() - started
    GenerationBatch.objects.create(
        model=first.model, size=len(runnable), seconds=seconds, peak_memory_bytes=peak_memory
    )

    # 3. Record: one result per Generation.
    generation_record_results(generations=runnable, results=results)


def _generation_base_images(generations: Sequence[Generation]) -> dict[str, Any]:
    """The base pictures of the variants among `generations`, decoded, by base key."""
    from PIL import Image

    keys = {g.base_id for g in generations if g.base_id}
    if not keys:
        return {}
    storage = get_storage()
    images: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="reelsmith-base-") as tmp:
        for key, output_key in Generation.objects.filter(pk__in=keys).values_list("key", "output_key"):
            path = storage.fetch(output_key, Path(tmp) / f"{key}.png")
            with Image.open(path) as image:
                images[key] = image.convert("RGB")
    return images


def generation_record_results(*, generations: Sequence[Generation], results: Sequence[Any]) -> None:
    from render.compose.ffmpeg import ComposeError

    by_key = {g.key: g for g in generations}
    if [r.key for r in results] != list(by_key):
        raise RuntimeError("engine returned results that do not match its requests one to one")
    storage = get_storage()
    succeeded: list[str] = []
    retry_shapes: set[str] = set()
    for result in results:
        generation = by_key[result.key]
        output_key, error = None, result.error
        if result.ok:
            try:
                output_key = _generation_store(generation, result, storage)
            except (ComposeError, ValueError) as exc:  # a clip ffmpeg could not encode: a failed attempt
                logger.exception("storing generation %s failed", generation.key)
                error = f"{type(exc).__name__}: {exc}"
        if output_key is not None:
            Generation.objects.filter(pk=generation.pk, status=GenerationStatus.RUNNING).update(
                status=GenerationStatus.SUCCEEDED,
                output_key=output_key,
                runs=F("runs") + 1,
                error="",
                updated_at=timezone.now(),
            )
            succeeded.append(generation.pk)
        elif generation.attempts >= settings.REELSMITH_MAX_ATTEMPTS:
            _generation_give_up(generation, error or "unknown error")
        else:
            Generation.objects.filter(pk=generation.pk, status=GenerationStatus.RUNNING).update(
                status=GenerationStatus.PENDING, error=(error or "")[:2000], updated_at=timezone.now()
            )
            retry_shapes.add(generation.shape_key)
    # Variants that were waiting for a picture made now can run.
    retry_shapes.update(
        Generation.objects.filter(base_id__in=succeeded, status=GenerationStatus.PENDING)
        .values_list("shape_key", flat=True)
        .distinct()
    )
    for shape_key in sorted(retry_shapes):
        enqueue(TASK_GENERATE, shape_key)
    renders_advance(generation_keys=succeeded)


def _generation_store(generation: Generation, result: Any, storage: Storage) -> str:
    """Put one result in storage under its content key; return the key. A picture is a PNG; a clip an
    H.264 MP4 at the model's frame rate, one frame per generated frame (`render.compose.clips`)."""
    from render.compose.clips import encode_clip
    from render.engine.registry import model_spec

    prefix = f"generations/{generation.key[:2]}/{generation.key}"
    with tempfile.TemporaryDirectory(prefix="reelsmith-gen-") as tmp:
        if generation.num_frames is None:
            if result.image is None:
                raise ValueError(f"{generation.model} returned no picture")
            path = Path(tmp) / "image.png"
            result.image.save(path, format="PNG")
            storage_key, content_type = f"{prefix}.png", "image/png"
        else:
            if result.frames is None or len(result.frames) != generation.num_frames:
                got = "no clip" if result.frames is None else f"{len(result.frames)} frames"
                raise ValueError(f"{generation.model} returned {got}, not {generation.num_frames} frames")
            fps = model_spec(generation.model).fps
            if fps is None:
                raise ValueError(f"{generation.model} is not a video model")
            path = Path(tmp) / "clip.mp4"
            encode_clip(result.frames, fps=fps, out_path=path, workdir=Path(tmp) / "frames")
            storage_key, content_type = f"{prefix}.mp4", "video/mp4"
        storage.put_file(storage_key, path, content_type=content_type)
    return storage_key


def _generation_give_up(generation: Generation, reason: str) -> None:
    Generation.objects.filter(pk=generation.pk).exclude(status=GenerationStatus.SUCCEEDED).update(
        status=GenerationStatus.FAILED, error=reason[:2000], updated_at=timezone.now()
    )
    message = GENERATION_GAVE_UP.format(attempts=generation.attempts, reason=reason)
    for render_id in RenderGeneration.objects.filter(generation=generation).values_list(
        "render_id", flat=True
    ):
        render_fail(render_id=render_id, reason=message)
    # Variants of a picture that will not be made cannot be made either.
    for variant in Generation.objects.filter(base=generation).exclude(status=GenerationStatus.SUCCEEDED):
        _generation_give_up(variant, f"its base picture failed: {reason}")


def renders_advance(*, generation_keys: Sequence[str]) -> None:
    """Send on to compose every waiting render whose pictures are now all ready (fan-in is a count)."""
    if not generation_keys:
        return
    candidates = (
        Render.objects.filter(
            status=RenderStatus.GENERATING, generation_links__generation_id__in=generation_keys
        )
        .annotate(
            missing=Count(
                "generation_links",
                filter=~Q(generation_links__generation__status=GenerationStatus.SUCCEEDED),
            )
        )
        .filter(missing=0)
        .values_list("pk", "priority", "batch", "template_version_id", "brand_id")
        .distinct()
    )
    for render_id, priority, batch, template_version_id, brand_id in list(candidates):
        if render_transition(
            render_id, [RenderStatus.GENERATING], RenderStatus.COMPOSING, attempts=0, lease_owner=""
        ):
            queue = compose_queue(batch=batch, template_version_id=template_version_id, brand_id=brand_id)
            enqueue(TASK_COMPOSE, str(render_id), priority=priority, queue=queue)
