"""Template spec v1 validation, with errors that name the path.

`spec_validate` returns the normalised spec (defaults filled in) or raises `ApplicationError` whose `fields`
maps paths such as `spec.scenes[1].duration` to messages. Every `{{name}}` used in a text or a prompt must be
declared in `variables`. The words and limits checked here are the spec's own (`adspec`), the ones the
compositor checks its plans against; filling in a recipient's values is `templates/merge.py`.
"""

from __future__ import annotations

from collections.abc import Collection
from collections.abc import Set as AbstractSet
from typing import Any

from adspec.limits import (
    DEFAULT_FPS,
    DEFAULT_MAX_LENGTH,
    MAX_AUDIO_FADE_SECONDS,
    MAX_CTA_LABEL,
    MAX_DECORATION,
    MAX_FORMATS,
    MAX_FPS,
    MAX_FRAME_SIDE,
    MAX_LAYERS,
    MAX_MAX_LENGTH,
    MAX_RADIUS,
    MAX_SCENE_SECONDS,
    MAX_SCENES,
    MAX_TEXT,
    MAX_TOTAL_SECONDS,
    MAX_TRANSITION_SECONDS,
    MAX_URL,
    MAX_VARIABLES,
    MAX_VOLUME,
    MIN_FRAME_SIDE,
    MIN_SCENE_SECONDS,
)
from adspec.vocabulary import (
    ALIGNS,
    ANIMATIONS,
    BRAND_VOICE,
    FORMAT_NAME,
    IMAGE_FITS,
    LAYER_TYPES,
    TEXT_STYLES,
    TRANSITIONS,
    VARIABLE_NAME,
)
from core.errors import ApplicationError
from templates.spec_checks import (
    NO_SUCH_TRACK,
    REQUIRED,
    SPEC_INVALID,
    UNDECLARED,
    FieldErrors,
    check_box,
    check_color,
    check_dict,
    check_http_url_template,
    check_keys,
    check_number,
    check_text,
    is_int,
    is_number,
    one_of,
)
from templates.spec_media import (
    check_image_variables,
    image_source_check,
    image_variable_check,
    note_spoken_variables,
    validate_background,
    validate_voice,
)


def _validate_frame(fmt: dict[str, Any], path: str, errors: FieldErrors, *, fps_required: bool) -> None:
    for side in ("width", "height"):
        value = fmt.get(side)
        # H.264 with yuv420p needs even dimensions.
        if not is_int(value) or not MIN_FRAME_SIDE <= value <= MAX_FRAME_SIDE or value % 2:
            errors.add(
                f"{path}.{side}", f"Must be an even integer from {MIN_FRAME_SIDE} to {MAX_FRAME_SIDE}."
            )
    if fps_required or "fps" in fmt:
        fps = fmt.get("fps")
        if not is_int(fps) or not 1 <= fps <= MAX_FPS:
            errors.add(f"{path}.fps", f"Must be an integer from 1 to {MAX_FPS}.")


def _validate_format(spec: dict[str, Any], errors: FieldErrors) -> set[str]:
    """`format` (v1, one output) and/or `formats` (one output each, the first is the render's main
    video); returns the names `boxes` may use."""
    if "format" not in spec and "formats" not in spec:
        errors.add("spec.format", REQUIRED)
    fmt = check_dict(spec.get("format"), "spec.format", errors) if "format" in spec else None
    if fmt is not None:
        check_keys(fmt, {"width", "height", "fps"}, "spec.format", errors)
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
        entry = check_dict(raw, path, errors)
        if entry is None:
            continue
        check_keys(entry, {"name", "width", "height", "fps"}, path, errors)
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
        decl = check_dict(decl, path, errors)
        if decl is None:
            continue
        kind = decl.get("type", "text")
        check_keys(
            decl,
            {"type", "required", "max_length", "default", "description"}
            | ({"fallback"} if kind == "image" else set()),
            path,
            errors,
        )
        if kind not in ("text", "image"):
            errors.add(f"{path}.type", "Must be text or image.")
        if kind == "image":
            declared_image = image_variable_check(decl, path, errors)
            if declared_image is not None:
                declared[name] = declared_image
            continue
        required = decl.get("required", False)
        if not isinstance(required, bool):
            errors.add(f"{path}.required", "Must be true or false.")
        max_length = decl.get("max_length", DEFAULT_MAX_LENGTH)
        if not is_int(max_length) or not 1 <= max_length <= MAX_MAX_LENGTH:
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


def _when(obj: dict[str, Any], path: str, errors: FieldErrors, used: dict[str, str]) -> None:
    """`"when": "company"`: the scene or layer is shown only when that variable is not empty."""
    if "when" not in obj:
        return
    if not isinstance(obj["when"], str) or not VARIABLE_NAME.match(obj["when"]):
        errors.add(f"{path}.when", "Must be the name of a declared variable.")
        return
    used.setdefault(obj["when"], f"{path}.when")


def _transition(value: Any, path: str, errors: FieldErrors, min_scene: float) -> None:
    transition = check_dict(value, path, errors)
    if transition is None:
        return
    check_keys(transition, {"type", "duration"}, path, errors)
    if transition.get("type", "none") not in TRANSITIONS:
        errors.add(f"{path}.type", f"Must be one of {', '.join(TRANSITIONS)}.")
    if transition.get("type", "none") != "none":
        # A transition longer than half the shortest scene would overlap the next one's.
        limit = min(MAX_TRANSITION_SECONDS, min_scene / 2)
        check_number(transition, "duration", path, errors, 0.0, limit)


def _validate_boxes(layer: dict[str, Any], path: str, errors: FieldErrors, formats: AbstractSet[str]) -> None:
    """`"boxes": {"1:1": [x, y, w, h]}`: the layer's box in a named format (others use `box`)."""
    if "boxes" not in layer:
        return
    boxes = check_dict(layer["boxes"], f"{path}.boxes", errors)
    if boxes is None:
        return
    for name, box in boxes.items():
        if name not in formats:
            errors.add(f"{path}.boxes.{name}", "Not the name of one of spec.formats.")
        else:
            check_box(box, f"{path}.boxes.{name}", errors)


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
        decoration = check_dict(layer[name], at, errors)
        if decoration is None:
            continue
        check_keys(decoration, {"color", *numbers, *(("offset",) if name == "shadow" else ())}, at, errors)
        if "color" in decoration:
            check_color(decoration["color"], f"{at}.color", errors)
        for key in numbers:
            if key in decoration:
                check_number(decoration, key, at, errors, 0.0, MAX_DECORATION)
        offset = decoration.get("offset", [0.003, 0.003])
        if name == "shadow" and (
            not isinstance(offset, list)
            or len(offset) != 2
            or not all(is_number(v) and abs(v) <= MAX_DECORATION for v in offset)
        ):
            errors.add(
                f"{at}.offset", f"Must be [x, y], fractions of the frame height up to {MAX_DECORATION:g}."
            )


def _validate_layer(
    value: Any, path: str, errors: FieldErrors, used: dict[str, str], formats: AbstractSet[str] = frozenset()
) -> None:
    layer = check_dict(value, path, errors)
    if layer is None:
        return
    _validate_boxes(layer, path, errors, formats)
    kind = layer.get("type")
    _when(layer, path, errors, used)
    if kind == "text":
        check_keys(
            layer,
            {"type", "text", "box", "boxes", "color", "align", "when"}
            | {"style", "outline", "shadow", "pill", "animation"},
            path,
            errors,
        )
        check_text(layer, "text", path, errors, MAX_TEXT, used)
        check_color(layer.get("color", "brand.text"), f"{path}.color", errors)
        if layer.get("align", "center") not in ALIGNS:
            errors.add(f"{path}.align", f"Must be one of {', '.join(ALIGNS)}.")
        _text_decorations(layer, path, errors)
    elif kind == "logo":
        check_keys(layer, {"type", "box", "boxes", "when"}, path, errors)
    elif kind == "image":
        check_keys(layer, {"type", "box", "boxes", "source", "when", "fit"}, path, errors)
        image_source_check(layer.get("source"), f"{path}.source", errors, used)
        if layer.get("fit", "contain") not in IMAGE_FITS:
            errors.add(f"{path}.fit", "Must be contain or cover.")
    elif kind == "rectangle":
        check_keys(layer, {"type", "box", "boxes", "color", "radius", "when"}, path, errors)
        check_color(layer.get("color", "brand.primary"), f"{path}.color", errors)
        if "radius" in layer:
            # A fraction of the box's shorter side: 0.5 makes the short ends round.
            check_number(layer, "radius", path, errors, 0.0, MAX_RADIUS)
    else:
        errors.add(f"{path}.type", f"Must be {one_of(LAYER_TYPES)}.")
        return
    if "box" not in layer:
        errors.add(f"{path}.box", REQUIRED)
    else:
        check_box(layer["box"], f"{path}.box", errors)


def _validate_cta(value: Any, errors: FieldErrors, used: dict[str, str]) -> None:
    """`"cta": {"label", "url"}`: the watch page's button (docs/watch-pages.md), both with merge fields."""
    cta = check_dict(value, "spec.cta", errors)
    if cta is None:
        return
    check_keys(cta, {"label", "url"}, "spec.cta", errors)
    for key in ("label", "url"):
        if key not in cta:
            errors.add(f"spec.cta.{key}", REQUIRED)
    if "label" in cta:
        check_text(cta, "label", "spec.cta", errors, MAX_CTA_LABEL, used)
    if "url" in cta:
        check_http_url_template(cta["url"], "spec.cta.url", errors, MAX_URL, used)


def _scene_duration(
    scene: dict[str, Any], path: str, errors: FieldErrors, used: dict[str, str]
) -> float | None:
    """Seconds the scene lasts at least: its `duration`, or with `duration: "voice"` its `min_duration`
    (the speech decides the rest per recipient, capped at MAX_SCENE_SECONDS by the planner)."""
    if "voice" in scene:
        validate_voice(scene["voice"], f"{path}.voice", errors, used)
    if scene.get("duration") != "voice":
        if "min_duration" in scene:
            errors.add(f"{path}.min_duration", 'Only with duration: "voice".')
        return check_number(scene, "duration", path, errors, MIN_SCENE_SECONDS, MAX_SCENE_SECONDS)
    if "voice" not in scene:
        errors.add(f"{path}.duration", 'duration: "voice" needs the scene\'s voice.')
        return None
    if "min_duration" not in scene:
        return MIN_SCENE_SECONDS
    return check_number(scene, "min_duration", path, errors, MIN_SCENE_SECONDS, MAX_SCENE_SECONDS)


def spec_validate(
    spec: Any, *, template_tracks: Collection[str] = ()
) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """Check a spec; return it normalised and its declared variables. `template_tracks`: the ids of the music
    tracks uploaded to this template, which `audio.track` may name."""
    errors = FieldErrors()
    if not isinstance(spec, dict):
        raise ApplicationError(SPEC_INVALID, fields={"spec": "Must be an object."})
    check_keys(
        spec,
        {
            "format",
            "formats",
            "variables",
            "scenes",
            "transition",
            "audio",
            "subtitles",
            "name",
            "description",
            "cta",
        },
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
        scene = check_dict(raw_scene, path, errors)
        if scene is None:
            continue
        check_keys(
            scene,
            {"duration", "min_duration", "background", "layers", "when", "transition", "voice"},
            path,
            errors,
        )
        _when(scene, path, errors, used)
        duration = _scene_duration(scene, path, errors, used)
        if duration is not None:
            total += duration
            min_scene = min(min_scene, duration)
        if "background" not in scene:
            errors.add(f"{path}.background", REQUIRED)
        else:
            validate_background(scene["background"], f"{path}.background", errors, used)
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
    if audio is not None and check_dict(audio, "spec.audio", errors) is not None:
        check_keys(audio, {"music", "track", "volume", "fade_in", "fade_out"}, "spec.audio", errors)
        for key in ("fade_in", "fade_out"):
            if key in audio:
                check_number(audio, key, "spec.audio", errors, 0.0, MAX_AUDIO_FADE_SECONDS)
        music = audio.get("music", "brand")
        if music not in ("brand", "template", BRAND_VOICE, None):
            errors.add("spec.audio.music", f"Must be brand, template, {BRAND_VOICE} or null.")
        if music == "template" and audio.get("track") not in template_tracks:
            errors.add("spec.audio.track", NO_SUCH_TRACK)
        elif music != "template" and "track" in audio:
            errors.add("spec.audio.track", "Only with music: template.")
        if "volume" in audio:
            check_number(audio, "volume", "spec.audio", errors, 0.0, MAX_VOLUME)

    if "cta" in spec:
        _validate_cta(spec["cta"], errors, used)
    if not isinstance(spec.get("subtitles", False), bool):
        errors.add("spec.subtitles", "Must be true or false.")
    note_spoken_variables(scenes, declared)
    check_image_variables(scenes, declared, errors)

    for name, path in used.items():
        if name not in declared:
            errors.add(path, UNDECLARED.format(name=name))
    if errors.fields:
        raise ApplicationError(SPEC_INVALID, fields=errors.fields)
    return spec, declared
