"""What a render costs, in credits (docs/billing.md "What a render costs").

`1 credit x started output second x formats` (a format above Full HD counts twice) `+ the credits of the
generations the render causes to run` (`generation_cost`). At request time that is the worst case, every
picture and clip counted as generated (`render_cost_estimate`, reserved as the render's charge); once the
render succeeded it is what actually ran, cache hits free (`render_cost_actual`, captured by
`render/receivers.py`). The ledger that holds the credits is `core/billing/ledger.py`.

A cache hit is free only when this workspace's own earlier render asked for the picture: what a render costs
never depends on another workspace's activity, or the price would tell one customer what another has
generated (a guessed prompt charged 1 credit instead of 2; docs/reliability.md R20). The GPU work itself is
still shared across workspaces: the picture is made once.
"""

from __future__ import annotations

import math
from typing import Any

from django.conf import settings
from django.db.models import Exists, OuterRef

from adspec.voices import scene_seconds_max
from core.billing.ledger import Charge
from render.engine.registry import model_spec
from render.models import Render, RenderGeneration
from render.planning import generation_specs, scene_merge_fields

# Above this many pixels per frame a format costs double (1920x1080, "Full HD", as JSON2Video prices it).
FULL_HD_PIXELS = 1920 * 1080


def _format_sizes(spec: dict[str, Any]) -> list[tuple[int, int]]:
    """Every output format of a spec: `formats` (a list of {width, height}) when given, else `format`."""
    formats = spec.get("formats")
    candidates = formats if isinstance(formats, list) and formats else [spec["format"]]
    sizes = [(int(f["width"]), int(f["height"])) for f in candidates if isinstance(f, dict) and "width" in f]
    return sizes or [(int(spec["format"]["width"]), int(spec["format"]["height"]))]


def _started_seconds(seconds: float) -> int:
    # Rounded to the millisecond first, so 0.1 + 0.2 + 0.7 seconds is 1 started second, not 2.
    return math.ceil(round(seconds, 3))


def render_cost(*, spec: dict[str, Any], generation_credits: int) -> int:
    """1 credit per started output second per format up to Full HD (2 above), plus the credits of the
    generations the render runs (`generation_cost`)."""
    # A `duration: "voice"` scene counts at the longest its line can take (adspec.voices.scene_seconds_max).
    variables = spec.get("variables") or {}
    seconds = _started_seconds(sum(scene_seconds_max(scene, variables) for scene in spec["scenes"]))
    per_second = sum(1 if width * height <= FULL_HD_PIXELS else 2 for width, height in _format_sizes(spec))
    return seconds * per_second + generation_credits


def generation_cost(*, model: str, num_frames: int | None) -> int:
    """Credits for running one generation: 1 for a picture; for a clip, 1 per started second of it, its
    frames at the model's frame rate (the length of the stored MP4): tiny-wan's 9 frames at 8 fps
    (1.125 s) cost 2, Wan 2.1's 81 at 16 fps (5.06 s) 6. A clip is charged like output video."""
    if num_frames is None:
        return 1
    fps = model_spec(model).fps or 1
    return max(1, _started_seconds(num_frames / fps))


def render_cost_estimate(*, spec: dict[str, Any], variables: dict[str, str]) -> int:
    """The worst case, reserved at request time: every distinct picture or clip counted as generated (no
    cache hit)."""
    costs: dict[str, int] = {}
    for picture in generation_specs(spec, variables, settings.REELSMITH_DEFAULT_MODEL):
        # An img2img variant may also cause its base picture to be generated: count both.
        while picture is not None:
            costs[picture.key] = generation_cost(model=picture.model, num_frames=picture.num_frames)
            picture = picture.base
    return render_cost(spec=spec, generation_credits=sum(costs.values()))


def render_cost_actual(*, render_id: Any, spec: dict[str, Any]) -> int:
    """Known once planned: the render's generations its own workspace had not asked for before (an earlier
    link from a render of the same workspace makes one free), whoever generated them. A variant's base
    picture is not charged on its own (it never was: the variant is the generation the render asked for)."""
    links = RenderGeneration.objects.filter(render_id=render_id)
    asked_before = RenderGeneration.objects.filter(
        generation_id=OuterRef("generation_id"),
        render__workspace_id=OuterRef("render__workspace_id"),
        pk__lt=OuterRef("pk"),
    )
    base_of_a_variant = RenderGeneration.objects.filter(
        render_id=OuterRef("render_id"), generation__base_id=OuterRef("generation_id")
    )
    charged = (
        links.exclude(Exists(asked_before))
        .exclude(Exists(base_of_a_variant))
        .values_list("generation__model", "generation__num_frames")
    )
    credits = sum(generation_cost(model=model, num_frames=frames) for model, frames in charged)
    return render_cost(spec=spec, generation_credits=credits)


# A personal scene over a moving background (a zoom or pan, a clip) costs a recipient about twice the same scene
# over a still one: x264 is most of a cached recipient's CPU and codes unchanging frames almost for free
# (measured: docs/benchmarks.md, "What a personal second costs").
MOVING_COST_FACTOR = 2.0


def template_cost(*, spec: dict[str, Any]) -> dict[str, Any]:
    """What each recipient costs beyond what recipients share, for template authors: which scenes are personal
    (a merge field reaches them: `render.planning.scene_merge_fields`, what the compositor encodes per
    recipient), how many seconds they are, over a still or a moving background, and `relative_cost`: personal
    seconds per recipient, all formats, with a moving second counted MOVING_COST_FACTOR times (so "Hi Zoë"
    over a still picture is half of "Hi Zoë" over a zoom). Shared scenes are encoded once for everyone. Fades
    into and out of a personal scene are encoded with it and not counted here."""
    variables = spec.get("variables") or {}
    scenes: list[dict[str, Any]] = []
    for index, scene in enumerate(spec["scenes"]):
        background = scene["background"]
        pictured = "image" in background or "generate" in background
        moving = (pictured and background.get("motion", "none") != "none") or bool(
            (background.get("generate") or {}).get("video")
        )
        fields = sorted(scene_merge_fields(scene))
        scenes.append({
            "scene": index,
            "seconds": round(scene_seconds_max(scene, variables), 3),
            "personal": bool(fields),
            "merge_fields": fields,
            "background": "moving" if moving else "still",
        })  # fmt: skip
    personal = [scene for scene in scenes if scene["personal"]]
    still = sum(scene["seconds"] for scene in personal if scene["background"] == "still")
    moving = sum(scene["seconds"] for scene in personal if scene["background"] == "moving")
    formats = len(_format_sizes(spec))
    return {
        "scenes": scenes,
        "personal_seconds": round(still + moving, 3),
        "personal_seconds_still": round(still, 3),
        "personal_seconds_moving": round(moving, 3),
        "shared_seconds": round(sum(scene["seconds"] for scene in scenes) - still - moving, 3),
        "formats": formats,
        "relative_cost": round((still + MOVING_COST_FACTOR * moving) * formats, 3),
    }


def render_charge(*, render: Render) -> Charge:
    """The charge a render is reserved as: its worst-case cost under its own id, with each output format's
    pixels per frame (what a plan's `max_format_pixels` limits)."""
    spec = render.template_version.spec
    return Charge(
        reference=str(render.pk),
        credits=render_cost_estimate(spec=spec, variables=render.variables),
        frame_pixels=tuple(width * height for width, height in _format_sizes(spec)),
    )
