"""Template spec v1 validation, with errors that name the path.

`spec_validate` returns the normalised spec (defaults filled in) or raises `ApplicationError` whose `fields`
maps paths such as `spec.scenes[1].duration` to messages. Every `{{name}}` used in a text or a prompt must be
declared in `variables`. The words and limits checked here are the spec's own (`adspec`), the ones the
compositor checks its plans against; filling in a recipient's values is `templates/merge.py`.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from collections.abc import Set as AbstractSet
from typing import Any, TypeGuard

from django.conf import settings

from adspec.catalog import CATALOG, WAN_FRAME_MULTIPLE, model_names, video_model_names
from adspec.limits import (
    BOX_SLACK,
    DEFAULT_FPS,
    DEFAULT_MAX_LENGTH,
    MAX_AUDIO_FADE_SECONDS,
    MAX_CLIP_LENGTH_FACTOR,
    MAX_DECORATION,
    MAX_FORMATS,
    MAX_FPS,
    MAX_FRAME_SIDE,
    MAX_GUIDANCE,
    MAX_LAYERS,
    MAX_MAX_LENGTH,
    MAX_PROMPT,
    MAX_RADIUS,
    MAX_SCENE_SECONDS,
    MAX_SCENES,
    MAX_SEED,
    MAX_STEPS,
    MAX_STRENGTH,
    MAX_TEXT,
    MAX_TOTAL_SECONDS,
    MAX_TRANSITION_SECONDS,
    MAX_VARIABLES,
    MAX_VOLUME,
    MIN_FRAME_SIDE,
    MIN_SCENE_SECONDS,
    MIN_STRENGTH,
)
from adspec.vocabulary import (
    ALIGNS,
    ANIMATIONS,
    BACKGROUND_KINDS,
    BRAND_COLORS,
    BRAND_IMAGES,
    FORMAT_NAME,
    GRADIENT_ANGLES,
    HEX_COLOR,
    LAYER_TYPES,
    MERGE_FIELD,
    MOTIONS,
    TEXT_STYLES,
    TRANSITIONS,
    VARIABLE_NAME,
)
from core.errors import ApplicationError

REQUIRED = "This field is required."
UNKNOWN_KEY = "Unknown key."
NO_SUCH_TRACK = "Must be the id of a music track uploaded to this template (POST templates/{id}/assets/)."
UNDECLARED = "Uses {{{{{name}}}}}, which is not declared in variables."
NOT_A_COLOR = f"Must be #RRGGBB or one of {', '.join(BRAND_COLORS)}."
SPEC_INVALID = "The template spec is invalid."
VIDEO_NEEDS_VIDEO_MODEL = "With video: true, the model must be a video model: {models}."
VIDEO_MODEL_NEEDS_VIDEO = '{model} makes clips: add "video": true, or name a picture model.'


class FieldErrors:
    """Messages per field path, as `ApplicationError(fields=...)` reports them."""

    def __init__(self) -> None:
        self.fields: dict[str, list[str]] = {}

    def add(self, path: str, message: str) -> None:
        self.fields.setdefault(path, []).append(message)


def _is_number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _one_of(words: tuple[str, ...]) -> str:
    """`a, b, c or d`: the words of a vocabulary as an error message lists them."""
    return f"{', '.join(words[:-1])} or {words[-1]}"


def _check_keys(obj: dict[str, Any], allowed: set[str], path: str, errors: FieldErrors) -> None:
    for key in obj:
        if key not in allowed:
            errors.add(f"{path}.{key}", UNKNOWN_KEY)


def _dict(value: Any, path: str, errors: FieldErrors) -> dict[str, Any] | None:
    if not isinstance(value, dict):
        errors.add(path, "Must be an object.")
        return None
    return value


def _number(
    obj: dict[str, Any], key: str, path: str, errors: FieldErrors, lo: float, hi: float
) -> float | None:
    value = obj.get(key)
    if not _is_number(value) or not lo <= value <= hi:
        errors.add(f"{path}.{key}", f"Must be a number from {lo:g} to {hi:g}.")
        return None
    return float(value)


def _color(value: Any, path: str, errors: FieldErrors) -> None:
    if not isinstance(value, str) or not (HEX_COLOR.fullmatch(value) or value in BRAND_COLORS):
        errors.add(path, NOT_A_COLOR)


def _box(value: Any, path: str, errors: FieldErrors) -> None:
    if (
        not isinstance(value, list)
        or len(value) != 4
        or not all(_is_number(v) and 0 <= v <= 1 for v in value)
        or value[2] <= 0
        or value[3] <= 0
        or value[0] + value[2] > 1 + BOX_SLACK
        or value[1] + value[3] > 1 + BOX_SLACK
    ):
        errors.add(
            path, "Must be [x, y, w, h], fractions of the frame, with w, h > 0 and the box inside the frame."
        )


def _text(
    obj: dict[str, Any], key: str, path: str, errors: FieldErrors, limit: int, used: dict[str, str]
) -> None:
    value = obj.get(key)
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        errors.add(f"{path}.{key}", f"Must be a non-empty string of at most {limit} characters.")
        return
    for name in MERGE_FIELD.findall(value):
        used.setdefault(name, f"{path}.{key}")


def _validate_frame(fmt: dict[str, Any], path: str, errors: FieldErrors, *, fps_required: bool) -> None:
    for side in ("width", "height"):
        value = fmt.get(side)
        # H.264 with yuv420p needs even dimensions.
        if not _is_int(value) or not MIN_FRAME_SIDE <= value <= MAX_FRAME_SIDE or value % 2:
            errors.add(
                f"{path}.{side}", f"Must be an even integer from {MIN_FRAME_SIDE} to {MAX_FRAME_SIDE}."
            )
    if fps_required or "fps" in fmt:
        fps = fmt.get("fps")
        if not _is_int(fps) or not 1 <= fps <= MAX_FPS:
            errors.add(f"{path}.fps", f"Must be an integer from 1 to {MAX_FPS}.")


def _validate_format(spec: dict[str, Any], errors: FieldErrors) -> set[str]:
    """`format` (v1, one output) and/or `formats` (one output each, the first is the render's main
    video); returns the names `boxes` may use."""
    if "format" not in spec and "formats" not in spec:
        errors.add("spec.format", REQUIRED)
    fmt = _dict(spec.get("format"), "spec.format", errors) if "format" in spec else None
    if fmt is not None:
        _check_keys(fmt, {"width", "height", "fps"}, "spec.format", errors)
        _validate_frame(fmt, "spec.format", errors, fps_required=True)
    if "formats" not in spec:
        return set()
    formats = spec["formats"]
    if not isinstance(formats, list) or not 1 <= len(formats) <= MAX_FORMATS:
        errors.add("spec.formats", f"Must be a list of 1 to {MAX_FORMATS} formats.")
        return set()
    names: set[str] = set()
    for index, raw in enumerate(formats):
        path = f"spec.formats[{index}]"
        entry = _dict(raw, path, errors)
        if entry is None:
            continue
        _check_keys(entry, {"name", "width", "height", "fps"}, path, errors)
        name = entry.get("name")
        if not isinstance(name, str) or not FORMAT_NAME.match(name):
            errors.add(f"{path}.name", "Must be 1 to 16 letters, digits or : . _ - (such as 9:16).")
        elif name in names:
            errors.add(f"{path}.name", "Another format has this name.")
        else:
            names.add(name)
        # fps: the format's own, else `format.fps`, else 30.
        _validate_frame(entry, path, errors, fps_required=False)
    return names


def spec_formats(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """The outputs a (valid) spec asks for: [{name, width, height, fps}], the main one first."""
    fmt = spec.get("format") or {}
    default_fps = int(fmt.get("fps", DEFAULT_FPS))
    if "formats" not in spec:
        width, height = int(fmt["width"]), int(fmt["height"])
        return [{"name": f"{width}x{height}", "width": width, "height": height, "fps": default_fps}]
    return [
        {
            "name": entry["name"],
            "width": int(entry["width"]),
            "height": int(entry["height"]),
            "fps": int(entry.get("fps", default_fps)),
        }
        for entry in spec["formats"]
    ]


def layer_box(layer: dict[str, Any], format_name: str) -> list[float]:
    """A layer's box in one format: its `boxes` entry for that format, else its `box`."""
    return list(layer.get("boxes", {}).get(format_name, layer["box"]))


def _validate_variables(spec: dict[str, Any], errors: FieldErrors) -> dict[str, dict[str, Any]]:
    raw = spec.get("variables", {})
    declared: dict[str, dict[str, Any]] = {}
    if not isinstance(raw, dict):
        errors.add("spec.variables", "Must be an object mapping names to declarations.")
        return declared
    if len(raw) > MAX_VARIABLES:
        errors.add("spec.variables", f"At most {MAX_VARIABLES} variables.")
    for name, decl in raw.items():
        path = f"spec.variables.{name}"
        if not VARIABLE_NAME.match(name):
            errors.add(
                path, "Names are letters, digits and underscores, starting with a letter or underscore."
            )
            continue
        decl = _dict(decl, path, errors)
        if decl is None:
            continue
        _check_keys(decl, {"type", "required", "max_length", "default", "description"}, path, errors)
        if decl.get("type", "text") != "text":
            errors.add(f"{path}.type", "Must be text.")
        required = decl.get("required", False)
        if not isinstance(required, bool):
            errors.add(f"{path}.required", "Must be true or false.")
        max_length = decl.get("max_length", DEFAULT_MAX_LENGTH)
        if not _is_int(max_length) or not 1 <= max_length <= MAX_MAX_LENGTH:
            errors.add(f"{path}.max_length", f"Must be an integer from 1 to {MAX_MAX_LENGTH}.")
            max_length = DEFAULT_MAX_LENGTH
        default = decl.get("default", "")
        if not isinstance(default, str) or len(default) > max_length:
            errors.add(f"{path}.default", f"Must be a string of at most {max_length} characters.")
            default = ""
        declared[name] = {
            "type": "text",
            "required": bool(required),
            "max_length": max_length,
            "default": default,
        }
        if decl.get("description"):
            declared[name]["description"] = str(decl["description"])[:200]
    return declared


def _validate_background(value: Any, path: str, errors: FieldErrors, used: dict[str, str]) -> None:
    background = _dict(value, path, errors)
    if background is None:
        return
    _check_keys(background, {"generate", "color", "gradient", "image", "motion"}, path, errors)
    kinds = [k for k in BACKGROUND_KINDS if k in background]
    if len(kinds) != 1:
        errors.add(path, f"Must have exactly one of {_one_of(BACKGROUND_KINDS)}.")
        return
    if "color" in background:
        _color(background["color"], f"{path}.color", errors)
    elif "gradient" in background:
        gradient = _dict(background["gradient"], f"{path}.gradient", errors)
        if gradient is not None:
            _check_keys(gradient, {"from", "to", "angle"}, f"{path}.gradient", errors)
            for end in ("from", "to"):
                _color(gradient.get(end), f"{path}.gradient.{end}", errors)
            if gradient.get("angle", 180) not in GRADIENT_ANGLES or isinstance(gradient.get("angle"), bool):
                errors.add(f"{path}.gradient.angle", "Must be 0, 90, 180 or 270.")
    elif "image" in background:
        if background["image"] not in BRAND_IMAGES:
            errors.add(f"{path}.image", f"Must be one of {', '.join(BRAND_IMAGES)}.")
    else:
        _validate_generate(background["generate"], f"{path}.generate", errors, used)
    motion = background.get("motion", "none")
    if motion not in MOTIONS:
        errors.add(f"{path}.motion", f"Must be one of {', '.join(MOTIONS)}.")


def _validate_generate(value: Any, gpath: str, errors: FieldErrors, used: dict[str, str]) -> None:
    """`generate`: a picture from an image model, an img2img variant (`base`, `strength`), or with
    `"video": true` a short clip from a video model (`frames`)."""
    gen = _dict(value, gpath, errors)
    if gen is None:
        return
    _check_keys(
        gen,
        {"prompt", "negative_prompt", "seed", "model", "steps", "guidance", "base", "strength"}
        | {"video", "frames"},
        gpath,
        errors,
    )
    _text(gen, "prompt", gpath, errors, MAX_PROMPT, used)
    if "negative_prompt" in gen:
        if isinstance(gen["negative_prompt"], str) and len(gen["negative_prompt"]) <= MAX_PROMPT:
            for name in MERGE_FIELD.findall(gen["negative_prompt"]):
                used.setdefault(name, f"{gpath}.negative_prompt")
        else:
            errors.add(f"{gpath}.negative_prompt", f"Must be a string of at most {MAX_PROMPT} characters.")
    seed = gen.get("seed", 0)
    if not _is_int(seed) or not 0 <= seed <= MAX_SEED:
        errors.add(f"{gpath}.seed", f"Must be an integer from 0 to {MAX_SEED}.")
    if "model" in gen and gen["model"] not in model_names():
        errors.add(f"{gpath}.model", f"Must be one of {', '.join(model_names())}.")
    if "steps" in gen and (not _is_int(gen["steps"]) or not 1 <= gen["steps"] <= MAX_STEPS):
        errors.add(f"{gpath}.steps", f"Must be an integer from 1 to {MAX_STEPS}.")
    if "guidance" in gen:
        _number(gen, "guidance", gpath, errors, 0.0, MAX_GUIDANCE)
    video = gen.get("video", False)
    if not isinstance(video, bool):
        errors.add(f"{gpath}.video", "Must be true or false.")
        return
    if video:
        _validate_clip(gen, gpath, errors)
        return
    if gen.get("model") in CATALOG and CATALOG[gen["model"]].kind == "video":
        errors.add(f"{gpath}.model", VIDEO_MODEL_NEEDS_VIDEO.format(model=gen["model"]))
    if "frames" in gen:
        errors.add(f"{gpath}.frames", "Only allowed with video: true.")
    # `"base": {"prompt", "seed", "negative_prompt"}` + `"strength"`: an img2img variant of a shared
    # picture. Strength 0.05-1.0: below 0.05 a variant barely differs from its base (and needs a 20+
    # step schedule to run one step); 1.0 repaints it entirely.
    if "base" in gen:
        base = _dict(gen["base"], f"{gpath}.base", errors)
        if base is not None:
            bpath = f"{gpath}.base"
            _check_keys(base, {"prompt", "negative_prompt", "seed"}, bpath, errors)
            _text(base, "prompt", bpath, errors, MAX_PROMPT, used)
            if "negative_prompt" in base:
                _text(base, "negative_prompt", bpath, errors, MAX_PROMPT, used)
            base_seed = base.get("seed", 0)
            if not _is_int(base_seed) or not 0 <= base_seed <= MAX_SEED:
                errors.add(f"{bpath}.seed", f"Must be an integer from 0 to {MAX_SEED}.")
        if "strength" in gen:
            _number(gen, "strength", gpath, errors, MIN_STRENGTH, MAX_STRENGTH)
    elif "strength" in gen:
        errors.add(f"{gpath}.strength", "Only allowed with base.")


def _validate_clip(gen: dict[str, Any], gpath: str, errors: FieldErrors) -> None:
    """`"video": true`: a clip from a video model (the named one, else REELSMITH_DEFAULT_VIDEO_MODEL), of
    `frames` frames (default: the model's own length). No img2img: video models take no init picture."""
    for key in ("base", "strength"):
        if key in gen:
            errors.add(f"{gpath}.{key}", "Not allowed with video: true (a clip is never a variant).")
    name = gen.get("model") or settings.REELSMITH_DEFAULT_VIDEO_MODEL
    model = CATALOG.get(name)
    if model is None:
        return  # a bad `model` is reported above; a bad default is the server's (the settings check)
    if model.kind != "video" or model.num_frames is None:
        where = f"{gpath}.model" if "model" in gen else gpath
        errors.add(where, VIDEO_NEEDS_VIDEO_MODEL.format(models=", ".join(video_model_names())))
        return
    if "frames" not in gen:
        return
    # At most MAX_CLIP_LENGTH_FACTOR times the model's own length (a design bound, adspec/limits.py). The
    # count is 1 + 4k: Wan's VAE packs 4 frames per latent frame after the first.
    most = model.num_frames * MAX_CLIP_LENGTH_FACTOR
    most -= (most - 1) % WAN_FRAME_MULTIPLE
    frames = gen["frames"]
    if (
        not _is_int(frames)
        or not 1 + WAN_FRAME_MULTIPLE <= frames <= most
        or (frames - 1) % WAN_FRAME_MULTIPLE
    ):
        errors.add(
            f"{gpath}.frames",
            f"Must be 1 + {WAN_FRAME_MULTIPLE}k frames, from {1 + WAN_FRAME_MULTIPLE} to {most} for {name}.",
        )


def _when(obj: dict[str, Any], path: str, errors: FieldErrors, used: dict[str, str]) -> None:
    """`"when": "company"`: the scene or layer is shown only when that variable is not empty."""
    if "when" not in obj:
        return
    if not isinstance(obj["when"], str) or not VARIABLE_NAME.match(obj["when"]):
        errors.add(f"{path}.when", "Must be the name of a declared variable.")
        return
    used.setdefault(obj["when"], f"{path}.when")


def _transition(value: Any, path: str, errors: FieldErrors, min_scene: float) -> None:
    transition = _dict(value, path, errors)
    if transition is None:
        return
    _check_keys(transition, {"type", "duration"}, path, errors)
    if transition.get("type", "none") not in TRANSITIONS:
        errors.add(f"{path}.type", f"Must be one of {', '.join(TRANSITIONS)}.")
    if transition.get("type", "none") != "none":
        # A transition longer than half the shortest scene would overlap the next one's.
        limit = min(MAX_TRANSITION_SECONDS, min_scene / 2)
        _number(transition, "duration", path, errors, 0.0, limit)


def _validate_boxes(layer: dict[str, Any], path: str, errors: FieldErrors, formats: AbstractSet[str]) -> None:
    """`"boxes": {"1:1": [x, y, w, h]}`: the layer's box in a named format (others use `box`)."""
    if "boxes" not in layer:
        return
    boxes = _dict(layer["boxes"], f"{path}.boxes", errors)
    if boxes is None:
        return
    for name, box in boxes.items():
        if name not in formats:
            errors.add(f"{path}.boxes.{name}", "Not the name of one of spec.formats.")
        else:
            _box(box, f"{path}.boxes.{name}", errors)


def _text_decorations(layer: dict[str, Any], path: str, errors: FieldErrors) -> None:
    """`style`, `outline`, `shadow`, `pill` (null: none, also for `cta`), `animation` of a text layer."""
    if layer.get("style", "headline") not in TEXT_STYLES:
        errors.add(f"{path}.style", f"Must be one of {', '.join(TEXT_STYLES)}.")
    if layer.get("animation", "none") not in ANIMATIONS:
        errors.add(f"{path}.animation", f"Must be one of {', '.join(ANIMATIONS)}.")
    sizes = {"outline": ("width",), "shadow": (), "pill": ("padding",)}
    for name, numbers in sizes.items():
        if name not in layer or (name == "pill" and layer[name] is None):
            continue
        at = f"{path}.{name}"
        decoration = _dict(layer[name], at, errors)
        if decoration is None:
            continue
        _check_keys(decoration, {"color", *numbers, *(("offset",) if name == "shadow" else ())}, at, errors)
        if "color" in decoration:
            _color(decoration["color"], f"{at}.color", errors)
        for key in numbers:
            if key in decoration:
                _number(decoration, key, at, errors, 0.0, MAX_DECORATION)
        offset = decoration.get("offset", [0.003, 0.003])
        if name == "shadow" and (
            not isinstance(offset, list)
            or len(offset) != 2
            or not all(_is_number(v) and abs(v) <= MAX_DECORATION for v in offset)
        ):
            errors.add(
                f"{at}.offset", f"Must be [x, y], fractions of the frame height up to {MAX_DECORATION:g}."
            )


def _validate_layer(
    value: Any, path: str, errors: FieldErrors, used: dict[str, str], formats: AbstractSet[str] = frozenset()
) -> None:
    layer = _dict(value, path, errors)
    if layer is None:
        return
    _validate_boxes(layer, path, errors, formats)
    kind = layer.get("type")
    _when(layer, path, errors, used)
    if kind == "text":
        _check_keys(
            layer,
            {"type", "text", "box", "boxes", "color", "align", "when"}
            | {"style", "outline", "shadow", "pill", "animation"},
            path,
            errors,
        )
        _text(layer, "text", path, errors, MAX_TEXT, used)
        _color(layer.get("color", "brand.text"), f"{path}.color", errors)
        if layer.get("align", "center") not in ALIGNS:
            errors.add(f"{path}.align", f"Must be one of {', '.join(ALIGNS)}.")
        _text_decorations(layer, path, errors)
    elif kind == "logo":
        _check_keys(layer, {"type", "box", "boxes", "when"}, path, errors)
    elif kind == "image":
        _check_keys(layer, {"type", "box", "boxes", "source", "when"}, path, errors)
        if layer.get("source") not in BRAND_IMAGES:
            errors.add(f"{path}.source", f"Must be one of {', '.join(BRAND_IMAGES)}.")
    elif kind == "rectangle":
        _check_keys(layer, {"type", "box", "boxes", "color", "radius", "when"}, path, errors)
        _color(layer.get("color", "brand.primary"), f"{path}.color", errors)
        if "radius" in layer:
            # A fraction of the box's shorter side: 0.5 makes the short ends round.
            _number(layer, "radius", path, errors, 0.0, MAX_RADIUS)
    else:
        errors.add(f"{path}.type", f"Must be {_one_of(LAYER_TYPES)}.")
        return
    if "box" not in layer:
        errors.add(f"{path}.box", REQUIRED)
    else:
        _box(layer["box"], f"{path}.box", errors)


def spec_validate(
    spec: Any, *, template_tracks: Collection[str] = ()
) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """Check a spec; return it normalised and its declared variables. `template_tracks`: the ids of the music
    tracks uploaded to this template, which `audio.track` may name."""
    errors = FieldErrors()
    if not isinstance(spec, dict):
        raise ApplicationError(SPEC_INVALID, fields={"spec": "Must be an object."})
    _check_keys(
        spec,
        {"format", "formats", "variables", "scenes", "transition", "audio", "name", "description"},
        "spec",
        errors,
    )
    format_names = _validate_format(spec, errors)
    declared = _validate_variables(spec, errors)
    used: dict[str, str] = {}

    scenes = spec.get("scenes")
    min_scene = MAX_SCENE_SECONDS
    if not isinstance(scenes, list) or not scenes:
        errors.add("spec.scenes", "Must be a non-empty list of scenes.")
        scenes = []
    elif len(scenes) > MAX_SCENES:
        errors.add("spec.scenes", f"At most {MAX_SCENES} scenes.")
    total = 0.0
    for index, raw_scene in enumerate(scenes):
        path = f"spec.scenes[{index}]"
        scene = _dict(raw_scene, path, errors)
        if scene is None:
            continue
        _check_keys(scene, {"duration", "background", "layers", "when", "transition"}, path, errors)
        _when(scene, path, errors, used)
        duration = _number(scene, "duration", path, errors, MIN_SCENE_SECONDS, MAX_SCENE_SECONDS)
        if duration is not None:
            total += duration
            min_scene = min(min_scene, duration)
        if "background" not in scene:
            errors.add(f"{path}.background", REQUIRED)
        else:
            _validate_background(scene["background"], f"{path}.background", errors, used)
        layers = scene.get("layers", [])
        if not isinstance(layers, list) or len(layers) > MAX_LAYERS:
            errors.add(f"{path}.layers", f"Must be a list of at most {MAX_LAYERS} layers.")
            layers = []
        for layer_index, layer in enumerate(layers):
            _validate_layer(layer, f"{path}.layers[{layer_index}]", errors, used, format_names)
    if total > MAX_TOTAL_SECONDS:
        errors.add("spec.scenes", f"The scenes last {total:g} s; an ad is at most {MAX_TOTAL_SECONDS:g} s.")

    _transition(
        spec.get("transition", {"type": "none", "duration": 0.0}), "spec.transition", errors, min_scene
    )
    # Per boundary: a scene's `transition` leads into the next scene and overrides the spec's.
    for index, scene in enumerate(scenes):
        if isinstance(scene, dict) and "transition" in scene:
            _transition(scene["transition"], f"spec.scenes[{index}].transition", errors, min_scene)

    audio = spec.get("audio")
    if audio is not None and _dict(audio, "spec.audio", errors) is not None:
        _check_keys(audio, {"music", "track", "volume", "fade_in", "fade_out"}, "spec.audio", errors)
        for key in ("fade_in", "fade_out"):
            if key in audio:
                _number(audio, key, "spec.audio", errors, 0.0, MAX_AUDIO_FADE_SECONDS)
        music = audio.get("music", "brand")
        if music not in ("brand", "template", None):
            errors.add("spec.audio.music", "Must be brand, template or null.")
        if music == "template" and audio.get("track") not in template_tracks:
            errors.add("spec.audio.track", NO_SUCH_TRACK)
        elif music != "template" and "track" in audio:
            errors.add("spec.audio.track", "Only with music: template.")
        if "volume" in audio:
            _number(audio, "volume", "spec.audio", errors, 0.0, MAX_VOLUME)

    for name, path in used.items():
        if name not in declared:
            errors.add(path, UNDECLARED.format(name=name))
    if errors.fields:
        raise ApplicationError(SPEC_INVALID, fields=errors.fields)
    return spec, declared
