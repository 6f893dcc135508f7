"""Render and Generation state machines: request, plan, generate (claim, run, record), compose, cancel, reconcile.

Every transition is a conditional update on the expected status, so a task that runs twice, or a render
canceled mid-flight, changes nothing the second time (RELIABILITY R2). Tasks carry ids; these functions
re-read the database. A stage that starts more than REELSMITH_MAX_ATTEMPTS times is failed with a reason (R3).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import tempfile
import time
from collections.abc import Iterable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, F, Min, Q
from django.utils import timezone

from campaigns.models import Campaign, Recipient
from core.billing.services import billing_reserve
from core.errors import ConflictError
from core.models import Brand, Workspace
from core.storage import Storage, get_storage
from render.models import (
    ACTIVE_RENDER_STATUSES,
    FINAL_RENDER_STATUSES,
    Generation,
    GenerationBatch,
    GenerationKind,
    GenerationStatus,
    Priority,
    Render,
    RenderGeneration,
    RenderStatus,
)
from render.planning import BrandFiles, GeneratedClip, GenerationSpec, composition_plan, generation_specs
from render.queue import enqueue
from render.signals import render_finished
from templates.models import TemplateAsset, TemplateVersion
from templates.spec import spec_formats, variables_resolve

logger = logging.getLogger(__name__)

IDEMPOTENCY_CONFLICT = "This Idempotency-Key was already used with a different request body."
ALREADY_FINISHED = "The render has already finished."
GENERATION_GAVE_UP = "Generating the background failed {attempts} times: {reason}"
COMPOSE_GAVE_UP = "Composing the video failed {attempts} times: {reason}"
STUCK_GAVE_UP = "The render stopped making progress {attempts} times (worker lost); giving up."

TASK_PLAN = "render.plan"
TASK_GENERATE = "render.generate"
TASK_COMPOSE = "render.compose"


# --- transitions -----------------------------------------------------------------------------------------------


def _transition(render_id: Any, expected: Iterable[str], to: str, **fields: Any) -> bool:
    now = timezone.now()
    final = to in FINAL_RENDER_STATUSES
    if final:
        fields.setdefault("finished_at", now)
    with transaction.atomic():
        updated = Render.objects.filter(pk=render_id, status__in=list(expected)).update(
            status=to, updated_at=now, **fields
        )
        if updated == 1 and final:
            workspace_id = Render.objects.filter(pk=render_id).values_list("workspace_id", flat=True).get()
            render_finished.send(sender=Render, render_id=render_id, workspace_id=workspace_id, status=to)
    return updated == 1


def render_fail(*, render_id: Any, reason: str) -> bool:
    failed = _transition(render_id, ACTIVE_RENDER_STATUSES, RenderStatus.FAILED, error=reason[:2000])
    if failed:
        logger.warning("render %s failed: %s", render_id, reason)
    return failed


# --- request ---------------------------------------------------------------------------------------------------


def _request_hash(body: dict[str, Any]) -> str:
    return hashlib.sha256(
        json.dumps(body, sort_keys=True, ensure_ascii=False, default=str).encode()
    ).hexdigest()


def render_request(
    *,
    workspace: Workspace,
    template_version: TemplateVersion,
    brand: Brand,
    variables: Any,
    callback_url: str = "",
    external_id: str = "",
    idempotency_key: str | None = None,
    campaign: Campaign | None = None,
    recipient: Recipient | None = None,
    priority: int = Priority.INTERACTIVE,
) -> tuple[Render, bool]:
    """Accept a render: returns (render, created). The same Idempotency-Key and body give the same render."""
    body = {
        "template": str(template_version.template_id),
        "version": template_version.version,
        "brand": str(brand.pk),
        "variables": variables,
        "callback_url": callback_url,
        "external_id": external_id,
    }
    request_hash = _request_hash(body)
    if idempotency_key:
        existing = Render.objects.filter(workspace=workspace, idempotency_key=idempotency_key).first()
        if existing is not None:
            return _idempotent_replay(existing, request_hash), False
    values = variables_resolve(declared=template_version.variables, values=variables)
    try:
        with transaction.atomic():
            render = Render.objects.create(
                workspace=workspace,
                template_version=template_version,
                brand=brand,
                campaign=campaign,
                recipient=recipient,
                variables=values,
                priority=priority,
                callback_url=callback_url,
                external_id=external_id,
                idempotency_key=idempotency_key or None,
                request_hash=request_hash,
            )
            # Credits are taken in this transaction: 402 (cost and balance) rolls the render back, unqueued.
            billing_reserve(workspace=workspace, renders=[render])
            enqueue(TASK_PLAN, str(render.pk), priority=priority)
    except IntegrityError:
        # A concurrent request with the same key won the race: answer with its render.
        if not idempotency_key:
            raise
        existing = Render.objects.get(workspace=workspace, idempotency_key=idempotency_key)
        return _idempotent_replay(existing, request_hash), False
    return render, True


def _idempotent_replay(existing: Render, request_hash: str) -> Render:
    if existing.request_hash != request_hash:
        raise ConflictError(IDEMPOTENCY_CONFLICT, fields={"Idempotency-Key": IDEMPOTENCY_CONFLICT})
    return existing


def render_cancel(*, render: Render) -> Render:
    if not _transition(render.pk, ACTIVE_RENDER_STATUSES, RenderStatus.CANCELED):
        render.refresh_from_db()
        if render.status != RenderStatus.CANCELED:
            raise ConflictError(ALREADY_FINISHED)
    render.refresh_from_db()
    return render


# --- plan --------------------------------------------------------------------------------------------------------


def _generation_for(spec: GenerationSpec, priority: int) -> tuple[Generation, bool]:
    """The Generation for `spec`, created pending if new. A variant's base is got or created first: it is
    its own Generation, made once and shared by every variant (and every render) that needs it."""
    base = _generation_for(spec.base, priority)[0] if spec.base is not None else None
    generation, created = Generation.objects.get_or_create(
        key=spec.key,
        defaults={
            "base": base,
            "strength": spec.strength,
            "model": spec.model,
            "prompt": spec.prompt,
            "negative_prompt": spec.negative_prompt,
            "seed": spec.seed,
            "width": spec.width,
            "height": spec.height,
            "steps": spec.steps,
            "guidance": spec.guidance,
            "scheduler": spec.scheduler,
            "kind": GenerationKind.IMAGE if spec.num_frames is None else GenerationKind.VIDEO,
            "num_frames": spec.num_frames,
            "shape_key": spec.shape_key,
            "priority": priority,
        },
    )
    if not created:
        # A picture that failed for an earlier render gets a fresh set of attempts for this one.
        Generation.objects.filter(pk=generation.pk, status=GenerationStatus.FAILED).update(
            status=GenerationStatus.PENDING, attempts=0, error="", updated_at=timezone.now()
        )
        # An interactive render waiting on a campaign's picture pulls it forward.
        Generation.objects.filter(pk=generation.pk, priority__gt=priority).update(priority=priority)
        generation.refresh_from_db()
    return generation, created


def render_plan(*, render_id: Any) -> None:
    with transaction.atomic():
        render = (
            Render.objects.select_for_update()
            .select_related("template_version")
            .filter(pk=render_id, status=RenderStatus.QUEUED)
            .first()
        )
        if render is None:
            return  # canceled, or already planned by an earlier delivery of this task
        specs = [
            s for s in generation_specs(render.template_version.spec, render.variables, _default_model()) if s
        ]
        waiting_shapes: set[str] = set()
        for spec in {s.key: s for s in specs}.values():
            generation, created = _generation_for(spec, render.priority)
            # A variant's render waits on its base too: a base that fails fails the render with its reason.
            links = [(generation, created)]
            if generation.base_id is not None:
                links.append((Generation.objects.get(pk=generation.base_id), False))
            for linked, made in links:
                RenderGeneration.objects.get_or_create(
                    render=render, generation=linked, defaults={"cache_hit": not made}
                )
                if linked.status != GenerationStatus.SUCCEEDED:
                    waiting_shapes.add(linked.shape_key)
        if waiting_shapes:
            _transition(render.pk, [RenderStatus.QUEUED], RenderStatus.GENERATING, attempts=0)
            for shape_key in sorted(waiting_shapes):
                enqueue(TASK_GENERATE, shape_key, priority=render.priority)
        else:
            _transition(render.pk, [RenderStatus.QUEUED], RenderStatus.COMPOSING, attempts=0)
            enqueue(TASK_COMPOSE, str(render.pk), priority=render.priority)


def _default_model() -> str:
    return str(settings.REELSMITH_DEFAULT_MODEL)


# --- generate: claim, run, record ----------------------------------------------------------------------------


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
    from render.engine.errors import FatalEngineError
    from render.engine.pipeline import get_engine
    from render.engine.types import GenerationRequest, GenerationResult, ShapeKey

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
    return len(claimed)


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
        .values_list("pk", "priority")
        .distinct()
    )
    for render_id, priority in list(candidates):
        if _transition(render_id, [RenderStatus.GENERATING], RenderStatus.COMPOSING, attempts=0):
            enqueue(TASK_COMPOSE, str(render_id), priority=priority)


# --- compose -------------------------------------------------------------------------------------------------


def _default_font() -> Path:
    import fontpkg_noto_sans

    return Path(fontpkg_noto_sans.ROOT) / "files" / "NotoSans[wdth,wght].ttf"


def _brand_files(brand: Brand, workdir: Path) -> BrandFiles:
    storage = get_storage()
    fetched: dict[str, Path | None] = {}
    for kind in ("logo", "image", "font", "music"):
        asset = brand.current_asset(kind)
        fetched[kind] = (
            storage.fetch(asset.storage_key, workdir / f"brand-{kind}{Path(asset.storage_key).suffix}")
            if asset
            else None
        )
    return BrandFiles(
        colors=brand.colors,
        font=fetched["font"] or _default_font(),
        logo=fetched["logo"],
        music=fetched["music"],
        image=fetched["image"],
    )


def render_compose(*, render_id: Any) -> None:
    from render.compose.cache import StorageSegmentCache
    from render.compose.compose import make_thumbnail
    from render.compose.outputs import captions_vtt, make_gif
    from render.compose.provenance import c2pa_credentials, c2pa_sign
    from render.compose.segments import compose_segmented
    from render.engine.registry import model_spec

    # 1. Start an attempt; a render canceled or finished meanwhile is left alone. One found uploading was
    #    left there by a worker that died mid-upload (its task was redelivered): compose it again.
    if not Render.objects.filter(
        pk=render_id, status__in=[RenderStatus.COMPOSING, RenderStatus.UPLOADING]
    ).update(status=RenderStatus.COMPOSING, attempts=F("attempts") + 1, updated_at=timezone.now()):
        return
    render = Render.objects.select_related("template_version__template", "brand").get(pk=render_id)
    if render.attempts > settings.REELSMITH_MAX_ATTEMPTS:
        render_fail(
            render_id=render.pk,
            reason=COMPOSE_GAVE_UP.format(attempts=render.attempts - 1, reason=render.error or "worker lost"),
        )
        return
    storage = get_storage()
    try:
        with tempfile.TemporaryDirectory(prefix="reelsmith-compose-") as tmp:
            workdir = Path(tmp)
            # 2. Fetch inputs: generated pictures and clips, brand files.
            spec = render.template_version.spec
            specs = generation_specs(spec, render.variables, _default_model())
            media: list[Path | GeneratedClip | None] = []
            for index, gen_spec in enumerate(specs):
                if gen_spec is None:
                    media.append(None)
                    continue
                generation = Generation.objects.get(pk=gen_spec.key)
                suffix = Path(generation.output_key).suffix
                path = storage.fetch(generation.output_key, workdir / f"scene-{index}{suffix}")
                clip_fps = model_spec(gen_spec.model).fps if gen_spec.num_frames is not None else None
                media.append(GeneratedClip(path, clip_fps) if clip_fps is not None else path)
            brand_files = _brand_files(render.brand, workdir)
            track_id = (spec.get("audio") or {}).get("track")
            if track_id:  # `music: template`: the version names one of its template's tracks
                track = TemplateAsset.objects.get(
                    pk=track_id, template_id=render.template_version.template_id
                )
                music = storage.fetch(track.storage_key, workdir / f"track{Path(track.storage_key).suffix}")
                brand_files = dataclasses.replace(brand_files, music=music)
            # 3. Compose each output format: video, poster, GIF preview, captions.
            base = f"renders/{render.workspace_id}/{render.pk}"
            uploads: list[tuple[str, Path, str]] = []  # storage key, file, content type
            outputs: list[dict[str, Any]] = []
            for position, output in enumerate(spec_formats(spec)):
                plan = composition_plan(
                    spec=spec,
                    values=render.variables,
                    brand=brand_files,
                    scene_media=media,
                    metadata=_provenance(render, [s for s in specs if s]),
                    output=output,
                )
                folder = workdir / f"format{position}"
                folder.mkdir()
                video = folder / "video.mp4"
                # Shared scenes come from the segment cache (encoded once per content hash); only the
                # personal ones are encoded for this recipient, then all are joined by stream copy.
                info = compose_segmented(
                    plan,
                    video,
                    workdir=folder / "work",
                    cache=StorageSegmentCache(storage),
                    preset=settings.REELSMITH_X264_PRESET,
                ).info
                # C2PA manifest (when credentials are configured): after the join, before upload.
                credentials = c2pa_credentials()
                if credentials is not None:
                    c2pa_sign(
                        video,
                        credentials,
                        title=f"{render.pk}.mp4",
                        models=sorted({s.model for s in specs if s}),
                    )
                poster, gif, captions = (
                    folder / "thumbnail.jpg",
                    folder / "preview.gif",
                    folder / "captions.vtt",
                )
                make_thumbnail(video, poster, at_seconds=min(1.0, plan.duration / 2))
                make_gif(video, gif, duration=info.duration)
                captions.write_text(captions_vtt(plan), encoding="utf-8")
                # The first format keeps v1's keys; the others get a folder named after the format.
                prefix = base if position == 0 else f"{base}/{_format_slug(output['name'])}"
                keys = {
                    "video_key": f"{prefix}/video.mp4",
                    "poster_key": f"{prefix}/thumbnail.jpg",
                    "gif_key": f"{prefix}/preview.gif",
                    "captions_key": f"{prefix}/captions.vtt",
                }
                uploads += [
                    (keys["video_key"], video, "video/mp4"),
                    (keys["poster_key"], poster, "image/jpeg"),
                    (keys["gif_key"], gif, "image/gif"),
                    (keys["captions_key"], captions, "text/vtt"),
                ]
                outputs.append(
                    {
                        "format": output["name"],
                        "width": info.width,
                        "height": info.height,
                        **keys,
                        "duration": round(info.duration, 3),
                    }
                )
            # 4. Upload under deterministic keys, then succeed.
            if not _transition(render.pk, [RenderStatus.COMPOSING], RenderStatus.UPLOADING):
                return
            for key, path, content_type in uploads:
                storage.put_file(key, path, content_type=content_type)
            main = outputs[0]
            _transition(
                render.pk,
                [RenderStatus.UPLOADING],
                RenderStatus.SUCCEEDED,
                video_key=main["video_key"],
                thumbnail_key=main["poster_key"],
                outputs=outputs,
                duration=main["duration"],
                width=main["width"],
                height=main["height"],
                error="",
            )
    except Exception as exc:  # recorded on the render; retried until the attempt budget is spent
        reason = f"{type(exc).__name__}: {exc}"[:2000]
        logger.exception("composing render %s failed (attempt %s)", render.pk, render.attempts)
        if render.attempts >= settings.REELSMITH_MAX_ATTEMPTS:
            render_fail(
                render_id=render.pk, reason=COMPOSE_GAVE_UP.format(attempts=render.attempts, reason=reason)
            )
            return
        if _transition(
            render.pk, [RenderStatus.COMPOSING, RenderStatus.UPLOADING], RenderStatus.COMPOSING, error=reason
        ):
            # Back off 5 s, 10 s, ... before the next attempt.
            enqueue(
                TASK_COMPOSE,
                str(render.pk),
                priority=render.priority,
                countdown=5 * 2 ** (render.attempts - 1),
            )


def _format_slug(name: str) -> str:
    """A format's name as a storage folder: "9:16" -> "9x16" (spec names are [0-9A-Za-z:._-])."""
    return name.replace(":", "x")


def _provenance(render: Render, specs: Sequence[GenerationSpec]) -> dict[str, str]:
    models = sorted({s.model for s in specs})
    return {
        "comment": "Made with Reelsmith."
        + (f" Imagery is AI-generated ({', '.join(models)})." if models else " No AI-generated imagery."),
        "reelsmith_render": str(render.pk),
        "reelsmith_template_version": f"{render.template_version.template_id}:v{render.template_version.version}",
        "reelsmith_ai_generated": "true" if models else "false",
        "reelsmith_models": ",".join(models),
    }


# --- reconcile ----------------------------------------------------------------------------------------------------


def render_reconcile(*, now: Any = None) -> dict[str, int]:
    """Re-queue work whose task was lost (worker SIGKILLed, message dropped): RELIABILITY R1 and R4."""
    now = now or timezone.now()
    stale = now - timedelta(seconds=settings.REELSMITH_RENDER_LEASE_SECONDS)
    counts = {"plan": 0, "generate": 0, "compose": 0, "released": 0, "failed": 0}
    # Generations claimed by a worker that died: back to pending (their attempts stay counted).
    counts["released"] = Generation.objects.filter(
        status=GenerationStatus.RUNNING, claimed_at__lt=stale
    ).update(status=GenerationStatus.PENDING, claimed_at=None, updated_at=now)
    for render in Render.objects.filter(status__in=ACTIVE_RENDER_STATUSES, updated_at__lt=stale).iterator():
        if render.status == RenderStatus.QUEUED:
            if Render.objects.filter(pk=render.pk, status=RenderStatus.QUEUED).update(updated_at=now):
                enqueue(TASK_PLAN, str(render.pk), priority=render.priority)
                counts["plan"] += 1
        elif render.status == RenderStatus.GENERATING:
            Render.objects.filter(pk=render.pk, status=RenderStatus.GENERATING).update(updated_at=now)
            keys = list(render.generation_links.values_list("generation_id", flat=True))
            renders_advance(generation_keys=keys)
            for shape_key in (
                Generation.objects.filter(key__in=keys, status=GenerationStatus.PENDING)
                .values_list("shape_key", flat=True)
                .distinct()
            ):
                enqueue(TASK_GENERATE, shape_key, priority=render.priority)
                counts["generate"] += 1
        elif render.attempts >= settings.REELSMITH_MAX_ATTEMPTS:
            counts["failed"] += render_fail(
                render_id=render.pk, reason=STUCK_GAVE_UP.format(attempts=render.attempts)
            )
        elif _transition(render.pk, [RenderStatus.COMPOSING, RenderStatus.UPLOADING], RenderStatus.COMPOSING):
            enqueue(TASK_COMPOSE, str(render.pk), priority=render.priority)
            counts["compose"] += 1
    return counts
