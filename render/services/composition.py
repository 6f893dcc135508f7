"""Composing a render: fetch its pictures, clips and brand files, compose every output format with
ffmpeg, upload under deterministic keys, succeed. Failures are retried with back-off until the attempt
budget is spent (docs/reliability.md R3)."""

from __future__ import annotations

import dataclasses
import logging
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from core.models import Brand
from core.queue import enqueue
from core.storage import get_storage
from render.models import Generation, Render, RenderStatus
from render.planning import BrandFiles, GeneratedClip, GenerationSpec, composition_plan, generation_specs
from render.services.plan import default_model
from render.services.transitions import TASK_COMPOSE, render_fail, render_transition
from templates.models import TemplateAsset
from templates.spec import spec_formats

logger = logging.getLogger(__name__)

COMPOSE_GAVE_UP = "Composing the video failed {attempts} times: {reason}"


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


@dataclasses.dataclass(frozen=True)
class _Inputs:
    """What composing a render reads: its generated media (one entry per scene) and the brand's files."""

    specs: list[GenerationSpec | None]
    media: list[Path | GeneratedClip | None]
    brand: BrandFiles


@dataclasses.dataclass(frozen=True)
class _Output:
    """One composed format: its files and content types by storage key, and its entry in `Render.outputs`."""

    uploads: list[tuple[str, Path, str]]
    entry: dict[str, Any]


def render_compose(*, render_id: Any) -> None:
    """Compose a render that is `composing` (or `uploading`, left there by a lost worker), upload, succeed."""
    # 1. Start an attempt; a render canceled or finished meanwhile is left alone.
    render = _compose_attempt_start(render_id)
    if render is None:
        return
    storage = get_storage()
    try:
        with tempfile.TemporaryDirectory(prefix="reelsmith-compose-") as tmp:
            workdir = Path(tmp)
            # 2. Fetch inputs: generated pictures and clips, brand files, the template's music track.
            inputs = _compose_inputs_fetch(render, workdir)
            # 3. Compose each output format: video, poster, GIF preview, captions.
            outputs = [
                _compose_format(render, inputs, output, position, workdir)
                for position, output in enumerate(spec_formats(render.template_version.spec))
            ]
            # 4. Upload under deterministic keys, then succeed.
            if not render_transition(render.pk, [RenderStatus.COMPOSING], RenderStatus.UPLOADING):
                return
            for output in outputs:
                for key, path, content_type in output.uploads:
                    storage.put_file(key, path, content_type=content_type)
            _compose_succeed(render, [output.entry for output in outputs])
    except Exception as exc:  # recorded on the render; retried until the attempt budget is spent
        _compose_attempt_failed(render, exc)


def _compose_attempt_start(render_id: Any) -> Render | None:
    """Count an attempt and load the render, or None when there is nothing to compose. A render found
    `uploading` was left there by a worker that died mid-upload (its task was redelivered): it is composed
    again. The attempt after the last allowed one fails the render."""
    if not Render.objects.filter(
        pk=render_id, status__in=[RenderStatus.COMPOSING, RenderStatus.UPLOADING]
    ).update(status=RenderStatus.COMPOSING, attempts=F("attempts") + 1, updated_at=timezone.now()):
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

    storage = get_storage()
    spec = render.template_version.spec
    specs = generation_specs(spec, render.variables, default_model())
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
        track = TemplateAsset.objects.get(pk=track_id, template_id=render.template_version.template_id)
        music = storage.fetch(track.storage_key, workdir / f"track{Path(track.storage_key).suffix}")
        brand_files = dataclasses.replace(brand_files, music=music)
    return _Inputs(specs=specs, media=media, brand=brand_files)


def _compose_format(
    render: Render, inputs: _Inputs, output: dict[str, Any], position: int, workdir: Path
) -> _Output:
    """One format's video (shared segments from the cache, personal ones encoded for this recipient, joined
    by stream copy), C2PA-signed when credentials are configured, with its poster, GIF and captions."""
    from render.compose.compose import make_thumbnail
    from render.compose.outputs import captions_vtt, make_gif
    from render.compose.provenance import c2pa_credentials, c2pa_sign
    from render.compose.segments import compose_segmented
    from render.segment_cache import StorageSegmentCache

    generated = [s for s in inputs.specs if s]
    plan = composition_plan(
        spec=render.template_version.spec,
        values=render.variables,
        brand=inputs.brand,
        scene_media=inputs.media,
        metadata=_provenance(render, generated),
        output=output,
    )
    folder = workdir / f"format{position}"
    folder.mkdir()
    video = folder / "video.mp4"
    info = compose_segmented(
        plan,
        video,
        workdir=folder / "work",
        cache=StorageSegmentCache(get_storage()),
        preset=settings.REELSMITH_X264_PRESET,
    ).info
    credentials = c2pa_credentials()
    if credentials is not None:  # after the join, before upload
        c2pa_sign(video, credentials, title=f"{render.pk}.mp4", models=sorted({s.model for s in generated}))
    poster, gif, captions = folder / "thumbnail.jpg", folder / "preview.gif", folder / "captions.vtt"
    make_thumbnail(video, poster, at_seconds=min(1.0, plan.duration / 2))
    make_gif(video, gif, duration=info.duration)
    captions.write_text(captions_vtt(plan), encoding="utf-8")
    # The first format keeps v1's keys; the others get a folder named after the format.
    base = f"renders/{render.workspace_id}/{render.pk}"
    prefix = base if position == 0 else f"{base}/{_format_slug(output['name'])}"
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
        },
    )


def _compose_succeed(render: Render, outputs: list[dict[str, Any]]) -> None:
    main = outputs[0]
    render_transition(
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


def _compose_attempt_failed(render: Render, exc: Exception) -> None:
    """Record the reason; fail the render once its attempts are spent, else try again after 5 s, 10 s, ..."""
    reason = f"{type(exc).__name__}: {exc}"[:2000]
    logger.exception("composing render %s failed (attempt %s)", render.pk, render.attempts)
    if render.attempts >= settings.REELSMITH_MAX_ATTEMPTS:
        render_fail(
            render_id=render.pk, reason=COMPOSE_GAVE_UP.format(attempts=render.attempts, reason=reason)
        )
        return
    if render_transition(
        render.pk, [RenderStatus.COMPOSING, RenderStatus.UPLOADING], RenderStatus.COMPOSING, error=reason
    ):
        enqueue(
            TASK_COMPOSE, str(render.pk), priority=render.priority, countdown=5 * 2 ** (render.attempts - 1)
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
