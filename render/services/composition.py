"""Composing a render: fetch its pictures, clips and brand files, compose every output format with
ffmpeg, upload under deterministic keys, succeed. Failures are retried with back-off until the attempt
budget is spent (docs/reliability.md R3).

Each composed render logs one line, "render composed" with `compose` = CPU-seconds (this process and its
ffmpeg children) and wall seconds per stage, and the objects and bytes read from storage
(docs/benchmarks.md, "Campaign").
"""

from __future__ import annotations

import dataclasses
import logging
import resource
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from core.audit import audit_record
from core.consent import asset_consent_problem
from core.models import Brand
from core.queue import enqueue
from core.storage import get_local_cache, get_storage, storage_fetch_shared, storage_work_dir
from render.compose.encode import EncodeSettings, encoder_check
from render.likeness import render_likeness_assets, render_likeness_claim
from render.models import Generation, Render, RenderStatus
from render.planning import (
    BrandFiles,
    GeneratedClip,
    GenerationSpec,
    SceneSpeech,
    composition_plan,
    generation_specs,
)
from render.services.brand_video import brand_video_clip
from render.services.images import RemoteImageError, recipient_images_fetch
from render.services.lease import render_lease_free, render_lease_kept
from render.services.plan import default_model
from render.services.speech import render_speech_make
from render.services.transitions import TASK_COMPOSE, compose_queue, render_fail, render_transition
from render.speech import UnknownVoiceError, UnsayableTextError, VoiceNotInstalledError
from templates.models import TemplateAsset
from templates.spec import spec_formats

logger = logging.getLogger(__name__)

COMPOSE_GAVE_UP = "Composing the video failed {attempts} times: {reason}"
# A line the voice cannot say, a voice this machine lacks, a recipient's picture that cannot be had (the
# render fails with the reason; the next render of that recipient tries the URL again): no retry.
PERMANENT_INPUT_ERRORS = (UnsayableTextError, UnknownVoiceError, VoiceNotInstalledError, RemoteImageError)


def _default_font() -> Path:
    import fontpkg_noto_sans

    return Path(fontpkg_noto_sans.ROOT) / "files" / "NotoSans[wdth,wght].ttf"


def brand_files_fetch(brand: Brand, workdir: Path, spec: dict[str, Any] | None = None) -> BrandFiles:
    """The brand's current logo, picture, font and music fetched into `workdir` (a render's, or a preview's),
    and the likenesses `spec` names (portrait, voice, footage of a person) while their consent holds
    (render.likeness; the caller refused or canceled the render when it does not)."""
    likeness = {
        asset.kind: asset
        for _path, asset in render_likeness_assets(spec=spec or {}, brand=brand)
        if asset_consent_problem(asset) is None
    }
    fetched: dict[str, Path | None] = {}
    for kind in ("logo", "image", "font", "music", "portrait", "voice"):
        asset = brand.current_asset(kind) if kind not in ("portrait", "voice") else likeness.get(kind)
        fetched[kind] = (
            # Brand files are stored by their SHA-256: they never change, so the machine's cache serves them.
            storage_fetch_shared(
                key=asset.storage_key, dest=workdir / f"brand-{kind}{Path(asset.storage_key).suffix}"
            )
            if asset
            else None
        )
    video = brand.current_asset("video")
    if video is not None and video.likeness_use is not None:
        video = likeness.get("video")
    return BrandFiles(
        colors=brand.colors,
        font=fetched["font"] or _default_font(),
        logo=fetched["logo"],
        music=fetched["music"],
        image=fetched["image"],
        portrait=fetched["portrait"],
        voice=fetched["voice"],
        video=brand_video_clip(asset=video, workdir=workdir) if video else None,
    )


@dataclasses.dataclass(frozen=True)
class _Inputs:
    """What composing a render reads: its generated media (one entry per scene) and the brand's files."""

    specs: list[GenerationSpec | None]
    media: list[Path | GeneratedClip | None]
    brand: BrandFiles
    speech: list[SceneSpeech | None] = dataclasses.field(default_factory=list)  # per scene, its line said


@dataclasses.dataclass(frozen=True)
class _Output:
    """One composed format: its files and content types by storage key, and its entry in `Render.outputs`."""

    uploads: list[tuple[str, Path, str]]
    entry: dict[str, Any]


class _Stages:
    """CPU-seconds (this process, threads included, plus the ffmpeg children it waited for) and wall
    seconds per stage of one compose, and the bytes it read from storage. Exact in a worker process, which
    runs one task at a time; in embedded mode's single worker thread, the web threads' CPU is counted too."""

    def __init__(self) -> None:
        self.cpu_s: dict[str, float] = {}
        self.wall_s: dict[str, float] = {}
        self.stage, self.began = "bookkeeping", self._now()
        storage, cache = get_storage(), get_local_cache()
        self.read_before = (storage.counters.reads, storage.counters.bytes_read)
        self.cache_before = dataclasses.astuple(cache.counters) if cache else (0, 0, 0)

    @staticmethod
    def _now() -> tuple[float, float]:
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        return time.process_time() + children.ru_utime + children.ru_stime, time.perf_counter()

    def enter(self, stage: str) -> None:
        (cpu, wall), (cpu0, wall0) = self._now(), self.began
        self.cpu_s[self.stage] = self.cpu_s.get(self.stage, 0.0) + cpu - cpu0
        self.wall_s[self.stage] = self.wall_s.get(self.stage, 0.0) + wall - wall0
        self.stage, self.began = stage, (cpu, wall)

    def log(self, render_id: Any, **extra: Any) -> None:
        self.enter("bookkeeping")
        storage, cache = get_storage(), get_local_cache()
        cache_now = dataclasses.astuple(cache.counters) if cache else (0, 0, 0)
        line = {
            "cpu_s": {stage: round(value, 3) for stage, value in self.cpu_s.items()},
            "wall_s": {stage: round(value, 3) for stage, value in self.wall_s.items()},
            "storage_reads": storage.counters.reads - self.read_before[0],
            "storage_bytes_read": storage.counters.bytes_read - self.read_before[1],
            "cache_hits": cache_now[0] - self.cache_before[0],
            "cache_misses": cache_now[1] - self.cache_before[1],
            **extra,
        }
        logger.info("render composed", extra={"render_id": str(render_id), "compose": line})


def render_compose(*, render_id: Any, lease_owner: str = "") -> None:
    """Compose a render that is `composing` (or `uploading`, left there by a lost worker), upload, succeed.

    `lease_owner` is the calling task's id: the render is leased to it while it works, and a redelivery of
    the same task (its worker died) may take the lease back at once (render/services/lease.py)."""
    owner = lease_owner or uuid.uuid4().hex
    stages = _Stages()
    # 1. Start an attempt; a render canceled, finished, or held by another live task meanwhile is left alone.
    render = _compose_attempt_start(render_id, owner)
    if render is None:
        return
    # 1a. A likeness whose consent was withdrawn since the render was accepted ends it, with the reason; else
    # its use is recorded first, so a later withdrawal finds (and erases) what this attempt uploads.
    _likeness, withdrawn = render_likeness_claim(
        render_id=render.pk, template_version=render.template_version, brand=render.brand
    )
    if withdrawn is not None:
        if render_transition(
            render.pk, [RenderStatus.COMPOSING], RenderStatus.CANCELED, error=withdrawn[:2000]
        ):
            audit_record(
                "render.canceled",
                workspace=render.workspace_id,
                object_type="render",
                object_id=render.pk,
                after={"status": RenderStatus.CANCELED, "reason": withdrawn[:200]},
            )
        return
    storage = get_storage()
    try:
        # The lease is renewed by a heartbeat while this attempt fetches, composes and uploads. The work
        # folder sits beside the machine's cache, so what the cache holds is linked into it, not copied.
        with (
            render_lease_kept(render_id=render.pk, owner=owner),
            tempfile.TemporaryDirectory(prefix="reelsmith-compose-", dir=storage_work_dir()) as tmp,
        ):
            workdir = Path(tmp)
            # 2. Fetch inputs: generated pictures and clips, brand files, the template's music track.
            stages.enter("fetch")
            inputs = _compose_inputs_fetch(render, workdir)
            # 2a. This recipient's pictures: image variables' URLs, fetched once per URL (services/images.py).
            brand = dataclasses.replace(
                inputs.brand,
                recipient_images=recipient_images_fetch(
                    declared=render.template_version.variables,
                    values=render.variables,
                    brand=inputs.brand,
                    dest_dir=workdir / "images",
                    workspace_id=render.workspace_id,
                ),
            )
            inputs = dataclasses.replace(inputs, brand=brand)
            # 2b. Speak: each scene's line said for this recipient (render/services/speech.py).
            stages.enter("speak")
            inputs = dataclasses.replace(
                inputs,
                speech=render_speech_make(
                    spec=render.template_version.spec, values=render.variables, workdir=workdir
                ),
            )
            # 3. Compose each output format: video, poster, GIF preview, captions.
            outputs = [
                _compose_format(render, inputs, output, position, workdir, stages)
                for position, output in enumerate(spec_formats(render.template_version.spec))
            ]
            # 4. Upload under deterministic keys, then succeed.
            stages.enter("bookkeeping")
            if not render_transition(render.pk, [RenderStatus.COMPOSING], RenderStatus.UPLOADING):
                return
            stages.enter("upload")
            for output in outputs:
                for key, path, content_type in output.uploads:
                    storage.put_file(key, path, content_type=content_type)
            stages.enter("bookkeeping")
            if not _compose_succeed(render, [output.entry for output in outputs]):
                # Canceled while uploading (a withdrawn consent, an erasure): nothing it uploaded may stay.
                for output in outputs:
                    for key, _path, _type in output.uploads:
                        storage.delete(key)
        stages.log(render.pk, formats=len(outputs))
    except Exception as exc:  # recorded on the render; retried until the attempt budget is spent
        _compose_attempt_failed(render, exc, owner)


def _compose_attempt_start(render_id: Any, owner: str) -> Render | None:
    """Take the lease, count an attempt and load the render, or None when there is nothing to compose. A
    render found `uploading` was left there by a worker that died mid-upload (its task was redelivered): it
    is composed again. A render leased to another task that still renews it is being composed: this
    delivery (a duplicate the reconciler sent while the render waited in the queue) does nothing, so
    duplicates never count attempts (docs/reliability.md R2, R3). The attempt after the last allowed one
    fails the render."""
    now = timezone.now()
    if not Render.objects.filter(
        render_lease_free(owner=owner, now=now),
        pk=render_id,
        status__in=[RenderStatus.COMPOSING, RenderStatus.UPLOADING],
    ).update(status=RenderStatus.COMPOSING, attempts=F("attempts") + 1, updated_at=now, lease_owner=owner):
        return None
    render = Render.objects.select_related("template_version__template", "brand").get(pk=render_id)
    if render.attempts > settings.REELSMITH_MAX_ATTEMPTS:
        render_fail(
            render_id=render.pk,
            reason=COMPOSE_GAVE_UP.format(attempts=render.attempts - 1, reason=render.error or "worker lost"),
        )
        return None
    return render


def _compose_inputs_fetch(render: Render, workdir: Path) -> _Inputs:
    from render.engine.registry import model_spec

    spec = render.template_version.spec
    specs = generation_specs(spec, render.variables, default_model())
    media: list[Path | GeneratedClip | None] = []
    for index, gen_spec in enumerate(specs):
        if gen_spec is None:
            media.append(None)
            continue
        generation = Generation.objects.get(pk=gen_spec.key)
        suffix = Path(generation.output_key).suffix
        # A generation's file is stored under its content key (planning.GenerationSpec.key) and never
        # changes: the machine's cache serves it to every render that shows it.
        path = storage_fetch_shared(key=generation.output_key, dest=workdir / f"scene-{index}{suffix}")
        clip_fps = model_spec(gen_spec.model).fps if gen_spec.num_frames is not None else None
        media.append(GeneratedClip(path, clip_fps) if clip_fps is not None else path)
    brand_files = brand_files_fetch(render.brand, workdir, spec)
    track_id = (spec.get("audio") or {}).get("track")
    if track_id:  # `music: template`: the version names one of its template's tracks
        track = TemplateAsset.objects.get(pk=track_id, template_id=render.template_version.template_id)
        music = storage_fetch_shared(  # stored by its SHA-256, like brand files
            key=track.storage_key, dest=workdir / f"track{Path(track.storage_key).suffix}"
        )
        brand_files = dataclasses.replace(brand_files, music=music)
    return _Inputs(specs=specs, media=media, brand=brand_files)


def _compose_format(
    render: Render, inputs: _Inputs, output: dict[str, Any], position: int, workdir: Path, stages: _Stages
) -> _Output:
    """One format's video (shared segments from the cache, personal ones encoded for this recipient, joined
    by stream copy), C2PA-signed when credentials are configured, with its poster and GIF (from the frames
    the segments' runs render, or cached with the shared segments) and captions."""
    from render.compose.outputs import captions_vtt
    from render.compose.provenance import Credit, c2pa_credentials, c2pa_sign
    from render.compose.segments import compose_segmented, plan_previews
    from render.segment_cache import StorageSegmentCache

    generated = [s for s in inputs.specs if s]
    plan = composition_plan(
        spec=render.template_version.spec,
        values=render.variables,
        brand=inputs.brand,
        scene_media=inputs.media,
        metadata=_provenance(render, generated),
        output=output,
        speech=inputs.speech,
    )
    folder = workdir / f"format{position}"
    folder.mkdir()
    video = folder / "video.mp4"
    poster, gif, captions = folder / "thumbnail.jpg", folder / "preview.gif", folder / "captions.vtt"
    stages.enter("compose")
    result = compose_segmented(
        plan,
        video,
        workdir=folder / "work",
        cache=StorageSegmentCache(),
        settings=_encode_settings(),
        previews=plan_previews(plan, poster=poster, gif=gif),
    )
    info = result.info
    credentials = c2pa_credentials()
    if credentials is not None:  # after the join, before upload
        c2pa_sign(
            video,
            credentials,
            title=f"{render.pk}.mp4",
            models=sorted({s.model for s in generated}),
            # The template version's credits, as its creative work's authors.
            authors=[Credit(a["name"], a["role"]) for a in render.template_version.authors],
            composite=_has_parts_not_generated(render.template_version.spec, inputs),
        )
    stages.enter("outputs")
    captions.write_text(captions_vtt(plan), encoding="utf-8")
    # The poster's and GIF's ffmpeg work apart from the segments' own runs (the GIF's run; a cached
    # segment's poster or GIF frames made once) is counted as outputs, not compose.
    stages.cpu_s["compose"] -= result.previews_cpu_s
    stages.cpu_s["outputs"] = stages.cpu_s.get("outputs", 0.0) + result.previews_cpu_s
    prefix = output_prefix(render, position=position, name=output["name"])
    keys = {
        "video_key": f"{prefix}/video.mp4",
        "poster_key": f"{prefix}/thumbnail.jpg",
        "gif_key": f"{prefix}/preview.gif",
        "captions_key": f"{prefix}/captions.vtt",
    }
    return _Output(
        uploads=[
            (keys["video_key"], video, "video/mp4"),
            (keys["poster_key"], poster, "image/jpeg"),
            (keys["gif_key"], gif, "image/gif"),
            (keys["captions_key"], captions, "text/vtt"),
        ],
        entry={
            "format": output["name"],
            "width": info.width,
            "height": info.height,
            **keys,
            "duration": round(info.duration, 3),
            "c2pa": credentials is not None,  # signed (the render page's provenance says so)
        },
    )


def _encode_settings() -> EncodeSettings:
    """The one EncodeSettings of every segment (REELSMITH_X264_PRESET, REELSMITH_VIDEO_ENCODER); an encoder
    this node's ffmpeg cannot run is refused here, before anything is encoded (once per process)."""
    encoder_check(settings.REELSMITH_VIDEO_ENCODER)
    return EncodeSettings(preset=settings.REELSMITH_X264_PRESET, encoder=settings.REELSMITH_VIDEO_ENCODER)


def _compose_succeed(render: Render, outputs: list[dict[str, Any]]) -> bool:
    main = outputs[0]
    return render_transition(
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


def _compose_attempt_failed(render: Render, exc: Exception, owner: str) -> None:
    """Record the reason; fail the render once its attempts are spent, else try again after 5 s, 10 s, ...
    An attempt whose lease was taken over meanwhile (its heartbeat stalled) leaves the render to the new
    holder."""
    reason = f"{type(exc).__name__}: {exc}"[:2000]
    logger.exception("composing render %s failed (attempt %s)", render.pk, render.attempts)
    if not Render.objects.filter(pk=render.pk, lease_owner=owner).exists():
        return
    if isinstance(exc, PERMANENT_INPUT_ERRORS):  # the same text and voices fail every attempt: stop now
        render_fail(render_id=render.pk, reason=reason)
        return
    if render.attempts >= settings.REELSMITH_MAX_ATTEMPTS:
        render_fail(
            render_id=render.pk, reason=COMPOSE_GAVE_UP.format(attempts=render.attempts, reason=reason)
        )
        return
    if render_transition(
        render.pk,
        [RenderStatus.COMPOSING, RenderStatus.UPLOADING],
        RenderStatus.COMPOSING,
        error=reason,
        lease_owner="",  # the retry is a new task: it takes the lease afresh
    ):
        enqueue(
            TASK_COMPOSE,
            str(render.pk),
            priority=render.priority,
            countdown=5 * 2 ** (render.attempts - 1),
            queue=compose_queue(
                batch=render.batch, template_version_id=render.template_version_id, brand_id=render.brand_id
            ),
        )


# The files of each output format, under its prefix (render.services.erasure deletes exactly these).
OUTPUT_FILES = ("video.mp4", "thumbnail.jpg", "preview.gif", "captions.vtt")


def output_prefix(render: Render, *, position: int, name: str) -> str:
    """Where a format's files go: the first format keeps v1's keys; the others get a folder named after it."""
    base = f"renders/{render.workspace_id}/{render.pk}"
    return base if position == 0 else f"{base}/{_format_slug(name)}"


def _format_slug(name: str) -> str:
    """A format's name as a storage folder: "9:16" -> "9x16" (spec names are [0-9A-Za-z:._-])."""
    return name.replace(":", "x")


def _has_parts_not_generated(spec: dict[str, Any], inputs: _Inputs) -> bool:
    """Whether the video shows or plays something no model drew: a layer (text, logo, picture, shape), a
    background that is not generated, a spoken line, or music (C2PA's composite digital source type)."""
    scenes = spec.get("scenes", [])
    music = (spec.get("audio") or {}).get("music", "brand") is not None and (
        inputs.brand.music is not None or inputs.brand.voice is not None  # a brand's recorded voice too
    )
    return music or any(
        scene.get("layers") or "generate" not in scene.get("background", {}) or "voice" in scene
        for scene in scenes
    )


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
