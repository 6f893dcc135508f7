"""Checking a plan before anything reaches ffmpeg: every field against the spec's limits (`adspec`), every
input file against the allowlists (`probe.py`).

The limits are the validator's (`templates/spec.py`), so a plan built from a valid spec always passes;
a plan that does not is a bug upstream, reported as `PlanError` naming the field and its value.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import NoReturn

from adspec.limits import BOX_SLACK, MAX_DECORATION, MAX_FPS, MAX_FRAME_SIDE, MAX_RADIUS, MAX_VOLUME
from adspec.vocabulary import (
    ALIGNS,
    ANIMATIONS,
    GRADIENT_ANGLES,
    HEX_COLOR,
    MOTIONS,
    TEXT_STYLES,
    TRANSITIONS,
)
from render.compose.ffmpeg import ComposeError
from render.compose.plan import (
    ColorBackground,
    CompositionPlan,
    GradientBackground,
    ImageBackground,
    ImageLayer,
    RectangleLayer,
    Scene,
    TextLayer,
    VideoBackground,
)
from render.compose.probe import AUDIO_INPUTS, CLIP_INPUTS, IMAGE_INPUTS, MediaInput, check_media_input
from render.compose.timing import plan_cuts, scene_frames

# Metadata keys end up as `-metadata key=value`: no `=`, nothing a player would choke on.
METADATA_KEY = re.compile(r"[A-Za-z][A-Za-z0-9_.\-]{0,63}")


class PlanError(ComposeError):
    """The plan asks for something the compositor cannot draw; the message names the field."""


def check_plan(plan: CompositionPlan) -> None:
    """Raise PlanError naming the first field the compositor cannot honour, with its value."""
    if not (0 < plan.width <= MAX_FRAME_SIDE and plan.width % 2 == 0):
        _fail("width", f"must be even and in 2..{MAX_FRAME_SIDE}", plan.width)
    if not (0 < plan.height <= MAX_FRAME_SIDE and plan.height % 2 == 0):
        _fail("height", f"must be even and in 2..{MAX_FRAME_SIDE}", plan.height)
    if not (isinstance(plan.fps, int) and 0 < plan.fps <= MAX_FPS):
        _fail("fps", f"must be a whole number in 1..{MAX_FPS}", plan.fps)
    if not plan.scenes:
        _fail("scenes", "must not be empty", plan.scenes)
    for index, scene in enumerate(plan.scenes):
        if not (math.isfinite(scene.duration) and scene.duration > 0):
            _fail(f"scenes[{index}].duration", "must be a positive number of seconds", scene.duration)
    for where, transition in [("transition", plan.transition)] + [
        (f"scenes[{index}].transition_out", scene.transition_out)
        for index, scene in enumerate(plan.scenes)
        if scene.transition_out is not None
    ]:
        if transition is None:
            continue
        if transition.type not in TRANSITIONS:
            _fail(f"{where}.type", f"must be one of {sorted(TRANSITIONS)}", transition.type)
        if not (math.isfinite(transition.duration) and transition.duration >= 0):
            _fail(f"{where}.duration", "must be zero or a positive number of seconds", transition.duration)
    frames = scene_frames(plan)
    cuts = [0, *(frames for _, frames in plan_cuts(plan)), 0]
    for index, (scene, count) in enumerate(zip(plan.scenes, frames, strict=True)):
        if count < 1:
            _fail(f"scenes[{index}].duration", f"is shorter than one frame at {plan.fps} fps", scene.duration)
        # The fades at both ends of a scene may not overlap each other (each is centred on its cut).
        fade_in, fade_out = cuts[index], cuts[index + 1]
        if count < max(fade_in, fade_out) or count < fade_in // 2 + (fade_out - fade_out // 2):
            transition = scene.transition_out or plan.transition
            _fail(
                "transition.duration",
                f"is longer than scene {index} ({scene.duration} s)",
                transition.duration,
            )
        _check_scene(scene, index)
    if plan.audio is not None and not (0 <= plan.audio.volume <= MAX_VOLUME):
        _fail("audio.volume", f"must be in 0..{MAX_VOLUME}", plan.audio.volume)
    if plan.audio is not None:
        for name in ("fade_in", "fade_out"):
            value = getattr(plan.audio, name)
            if not (math.isfinite(value) and value >= 0):
                _fail(f"audio.{name}", "must be zero or a positive number of seconds", value)
    for key, value in plan.metadata:
        if not METADATA_KEY.fullmatch(key):
            _fail("metadata", "keys are a letter then up to 63 letters, digits, '_', '.', '-'", key)
        if "\x00" in value:
            _fail(f"metadata.{key}", "must not contain NUL", value)


def _check_scene(scene: Scene, index: int) -> None:
    where = f"scenes[{index}]"
    background = scene.background
    if isinstance(background, ColorBackground) and not HEX_COLOR.fullmatch(background.color):
        _fail(f"{where}.background.color", "must be #RRGGBB", background.color)
    if isinstance(background, ImageBackground | VideoBackground) and background.motion not in MOTIONS:
        _fail(f"{where}.background.motion", f"must be one of {sorted(MOTIONS)}", background.motion)
    if isinstance(background, VideoBackground) and not (
        isinstance(background.fps, int) and 0 < background.fps <= MAX_FPS
    ):
        _fail(f"{where}.background.fps", f"must be a whole number in 1..{MAX_FPS}", background.fps)
    if isinstance(background, GradientBackground):
        for name, color in (("start", background.start), ("end", background.end)):
            if not HEX_COLOR.fullmatch(color):
                _fail(f"{where}.background.{name}", "must be #RRGGBB", color)
        if background.angle not in GRADIENT_ANGLES:
            _fail(f"{where}.background.angle", "must be 0, 90, 180 or 270", background.angle)
    for layer_index, layer in enumerate(scene.layers):
        at = f"{where}.layers[{layer_index}]"
        x, y, w, h = layer.box
        if not (
            all(math.isfinite(v) for v in layer.box)
            and x >= 0
            and y >= 0
            and w > 0
            and h > 0
            and x + w <= 1 + BOX_SLACK
            and y + h <= 1 + BOX_SLACK
        ):
            _fail(f"{at}.box", "must be [x, y, w, h] fractions with the box inside the frame", layer.box)
        if isinstance(layer, TextLayer):
            if not HEX_COLOR.fullmatch(layer.color):
                _fail(f"{at}.color", "must be #RRGGBB", layer.color)
            if layer.align not in ALIGNS:
                _fail(f"{at}.align", f"must be one of {sorted(ALIGNS)}", layer.align)
            if not layer.font_path.is_file():
                _fail(f"{at}.font_path", "is not a file", str(layer.font_path))
            if layer.style is not None and layer.style not in TEXT_STYLES:
                _fail(f"{at}.style", f"must be one of {sorted(TEXT_STYLES)}", layer.style)
            if layer.animation not in ANIMATIONS:
                _fail(f"{at}.animation", f"must be one of {sorted(ANIMATIONS)}", layer.animation)
            decorations = [
                ("outline", layer.outline, layer.outline and layer.outline.width),
                ("shadow", layer.shadow, layer.shadow and max(map(abs, layer.shadow.offset))),
                ("pill", layer.pill, layer.pill and layer.pill.padding),
            ]
            for name, decoration, size in decorations:
                if decoration is None:
                    continue
                if not HEX_COLOR.fullmatch(decoration.color):
                    _fail(f"{at}.{name}.color", "must be #RRGGBB", decoration.color)
                if not (isinstance(size, int | float) and 0 <= size <= MAX_DECORATION):
                    _fail(f"{at}.{name}", f"sizes must be 0..{MAX_DECORATION} of the frame", size)
        if isinstance(layer, RectangleLayer):
            if not HEX_COLOR.fullmatch(layer.color):
                _fail(f"{at}.color", "must be #RRGGBB", layer.color)
            if not (math.isfinite(layer.radius) and 0 <= layer.radius <= MAX_RADIUS):
                _fail(f"{at}.radius", f"must be 0..{MAX_RADIUS} of the box's shorter side", layer.radius)


def check_plan_inputs(plan: CompositionPlan) -> dict[Path, MediaInput]:
    """Probe every image, clip and the music against the allowlists; ffmpeg reads each as probed."""
    images = [scene.background.path for scene in plan.scenes if isinstance(scene.background, ImageBackground)]
    images += [layer.path for scene in plan.scenes for layer in scene.layers if isinstance(layer, ImageLayer)]
    inputs = {path: check_media_input(path, allowed_formats=IMAGE_INPUTS) for path in dict.fromkeys(images)}
    clips = [scene.background.path for scene in plan.scenes if isinstance(scene.background, VideoBackground)]
    for path in dict.fromkeys(clips):
        inputs[path] = check_media_input(path, allowed_formats=CLIP_INPUTS)
    if plan.audio is not None:
        inputs[plan.audio.path] = check_media_input(plan.audio.path, allowed_formats=AUDIO_INPUTS)
    for voice in plan.voices:
        inputs[voice.path] = check_media_input(voice.path, allowed_formats=AUDIO_INPUTS)
    return inputs


def _fail(field_path: str, problem: str, value: object) -> NoReturn:
    raise PlanError(f"{field_path}: {problem}, got {value!r}")
