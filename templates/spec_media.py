"""Validating what a spec puts on screen or in the ear beyond text: backgrounds (colour, gradient, image,
brand footage, generated pictures and clips with their model and sizes), per-recipient image variables, and
voice-overs. Errors name the path, like the rest of `templates/spec.py`."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from adspec.catalog import CATALOG, WAN_FRAME_MULTIPLE, model_names, video_model_names
from adspec.limits import (
    MAX_CLIP_LENGTH_FACTOR,
    MAX_GUIDANCE,
    MAX_PROMPT,
    MAX_SEED,
    MAX_STEPS,
    MAX_STRENGTH,
    MAX_URL,
    MIN_STRENGTH,
)
from adspec.vocabulary import (
    BACKGROUND_KINDS,
    BRAND_IMAGES,
    BRAND_VIDEOS,
    GRADIENT_ANGLES,
    IMAGE_URL,
    MERGE_FIELD,
    MOTIONS,
)
from adspec.voices import SPEED_MAX, SPEED_MIN, VOICE_NAMES, VOICE_TEXT_MAX, VOICES, text_unsayable
from templates.spec_checks import (
    VIDEO_MODEL_NEEDS_VIDEO,
    VIDEO_NEEDS_VIDEO_MODEL,
    FieldErrors,
    check_color,
    check_dict,
    check_keys,
    check_number,
    check_text,
    is_int,
    one_of,
)


def image_variable_check(decl: dict[str, Any], path: str, errors: FieldErrors) -> dict[str, Any] | None:
    """An `image` variable: its value is an http(s) URL fetched per recipient (render/services/images.py);
    `fallback` (brand.image or brand.logo) is shown when the URL cannot be had, else the render fails."""
    required = decl.get("required", False)
    if not isinstance(required, bool):
        errors.add(f"{path}.required", "Must be true or false.")
        return None
    default = decl.get("default", "")
    if not isinstance(default, str) or (default and not IMAGE_URL.fullmatch(default)):
        errors.add(f"{path}.default", "Must be an http or https URL.")
        return None
    out: dict[str, Any] = {"type": "image", "required": required, "max_length": MAX_URL, "default": default}
    if "fallback" in decl:
        if decl["fallback"] not in BRAND_IMAGES:
            errors.add(f"{path}.fallback", f"Must be one of {', '.join(BRAND_IMAGES)}.")
            return None
        out["fallback"] = decl["fallback"]
    if decl.get("description"):
        out["description"] = str(decl["description"])[:200]
    return out


def image_field(value: Any) -> str | None:
    """The variable an image source names (`"{{company_logo}}"`, the whole value), or None."""
    match = MERGE_FIELD.fullmatch(value) if isinstance(value, str) else None
    return match.group(1) if match else None


def image_source_check(value: Any, path: str, errors: FieldErrors, used: dict[str, str]) -> None:
    """A picture: a brand picture, or one `{{variable}}` of type image (checked once all are declared)."""
    name = image_field(value)
    if name is not None:
        used.setdefault(name, path)
    elif value not in BRAND_IMAGES:
        errors.add(path, f"Must be one of {', '.join(BRAND_IMAGES)} or an image variable ({{{{name}}}}).")


def check_image_variables(
    scenes: list[Any], declared: dict[str, dict[str, Any]], errors: FieldErrors
) -> None:
    """Every `{{name}}` used as a picture names an image variable."""
    for index, scene in enumerate(scenes):
        if not isinstance(scene, dict):
            continue
        sources = [("background.image", (scene.get("background") or {}).get("image"))]
        sources += [
            (f"layers[{i}].source", layer.get("source"))
            for i, layer in enumerate(scene.get("layers") or [])
            if isinstance(layer, dict) and layer.get("type") == "image"
        ]
        for where, value in sources:
            name = image_field(value)
            if name is not None and name in declared and declared[name]["type"] != "image":
                errors.add(
                    f"spec.scenes[{index}].{where}", f"{{{{{name}}}}} must be a variable of type image."
                )


def validate_background(value: Any, path: str, errors: FieldErrors, used: dict[str, str]) -> None:
    background = check_dict(value, path, errors)
    if background is None:
        return
    check_keys(background, {"generate", "color", "gradient", "image", "video", "motion"}, path, errors)
    kinds = [k for k in BACKGROUND_KINDS if k in background]
    if len(kinds) != 1:
        errors.add(path, f"Must have exactly one of {one_of(BACKGROUND_KINDS)}.")
        return
    if "color" in background:
        check_color(background["color"], f"{path}.color", errors)
    elif "gradient" in background:
        gradient = check_dict(background["gradient"], f"{path}.gradient", errors)
        if gradient is not None:
            check_keys(gradient, {"from", "to", "angle"}, f"{path}.gradient", errors)
            for end in ("from", "to"):
                check_color(gradient.get(end), f"{path}.gradient.{end}", errors)
            if gradient.get("angle", 180) not in GRADIENT_ANGLES or isinstance(gradient.get("angle"), bool):
                errors.add(f"{path}.gradient.angle", "Must be 0, 90, 180 or 270.")
    elif "image" in background:
        image_source_check(background["image"], f"{path}.image", errors, used)
    elif "video" in background:
        if background["video"] not in BRAND_VIDEOS:
            errors.add(
                f"{path}.video",
                f"Must be {one_of(BRAND_VIDEOS) if len(BRAND_VIDEOS) > 1 else BRAND_VIDEOS[0]}.",
            )
    else:
        validate_generate(background["generate"], f"{path}.generate", errors, used)
    motion = background.get("motion", "none")
    if motion not in MOTIONS:
        errors.add(f"{path}.motion", f"Must be one of {', '.join(MOTIONS)}.")


def validate_generate(value: Any, gpath: str, errors: FieldErrors, used: dict[str, str]) -> None:
    """`generate`: a picture from an image model, an img2img variant (`base`, `strength`), or with
    `"video": true` a short clip from a video model (`frames`)."""
    gen = check_dict(value, gpath, errors)
    if gen is None:
        return
    check_keys(
        gen,
        {"prompt", "negative_prompt", "seed", "model", "steps", "guidance", "base", "strength"}
        | {"video", "frames"},
        gpath,
        errors,
    )
    check_text(gen, "prompt", gpath, errors, MAX_PROMPT, used)
    if "negative_prompt" in gen:
        if isinstance(gen["negative_prompt"], str) and len(gen["negative_prompt"]) <= MAX_PROMPT:
            for name in MERGE_FIELD.findall(gen["negative_prompt"]):
                used.setdefault(name, f"{gpath}.negative_prompt")
        else:
            errors.add(f"{gpath}.negative_prompt", f"Must be a string of at most {MAX_PROMPT} characters.")
    seed = gen.get("seed", 0)
    if not is_int(seed) or not 0 <= seed <= MAX_SEED:
        errors.add(f"{gpath}.seed", f"Must be an integer from 0 to {MAX_SEED}.")
    if "model" in gen and gen["model"] not in model_names():
        errors.add(f"{gpath}.model", f"Must be one of {', '.join(model_names())}.")
    if "steps" in gen and (not is_int(gen["steps"]) or not 1 <= gen["steps"] <= MAX_STEPS):
        errors.add(f"{gpath}.steps", f"Must be an integer from 1 to {MAX_STEPS}.")
    if "guidance" in gen:
        check_number(gen, "guidance", gpath, errors, 0.0, MAX_GUIDANCE)
    video = gen.get("video", False)
    if not isinstance(video, bool):
        errors.add(f"{gpath}.video", "Must be true or false.")
        return
    if video:
        validate_clip(gen, gpath, errors)
        return
    if gen.get("model") in CATALOG and CATALOG[gen["model"]].kind == "video":
        errors.add(f"{gpath}.model", VIDEO_MODEL_NEEDS_VIDEO.format(model=gen["model"]))
    if "frames" in gen:
        errors.add(f"{gpath}.frames", "Only allowed with video: true.")
    # `"base": {"prompt", "seed", "negative_prompt"}` + `"strength"`: an img2img variant of a shared
    # picture. Strength 0.05-1.0: below 0.05 a variant barely differs from its base (and needs a 20+
    # step schedule to run one step); 1.0 repaints it entirely.
    if "base" in gen:
        base = check_dict(gen["base"], f"{gpath}.base", errors)
        if base is not None:
            bpath = f"{gpath}.base"
            check_keys(base, {"prompt", "negative_prompt", "seed"}, bpath, errors)
            check_text(base, "prompt", bpath, errors, MAX_PROMPT, used)
            if "negative_prompt" in base:
                check_text(base, "negative_prompt", bpath, errors, MAX_PROMPT, used)
            base_seed = base.get("seed", 0)
            if not is_int(base_seed) or not 0 <= base_seed <= MAX_SEED:
                errors.add(f"{bpath}.seed", f"Must be an integer from 0 to {MAX_SEED}.")
        if "strength" in gen:
            check_number(gen, "strength", gpath, errors, MIN_STRENGTH, MAX_STRENGTH)
    elif "strength" in gen:
        errors.add(f"{gpath}.strength", "Only allowed with base.")


def validate_clip(gen: dict[str, Any], gpath: str, errors: FieldErrors) -> None:
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
        not is_int(frames)
        or not 1 + WAN_FRAME_MULTIPLE <= frames <= most
        or (frames - 1) % WAN_FRAME_MULTIPLE
    ):
        errors.add(
            f"{gpath}.frames",
            f"Must be 1 + {WAN_FRAME_MULTIPLE}k frames, from {1 + WAN_FRAME_MULTIPLE} to {most} for {name}.",
        )


def validate_voice(value: Any, path: str, errors: FieldErrors, used: dict[str, str]) -> None:
    """A scene's spoken line: `{text, voice?, speed?}` (adspec.voices); the text may use merge fields."""
    voice = check_dict(value, path, errors)
    if voice is None:
        return
    check_keys(voice, {"text", "voice", "speed"}, path, errors)
    check_text(voice, "text", path, errors, VOICE_TEXT_MAX, used)
    name = voice.get("voice", settings.REELSMITH_DEFAULT_VOICE)
    if name not in VOICES:
        errors.add(f"{path}.voice", f"Must be one of {one_of(VOICE_NAMES)}.")
        return
    if "speed" in voice:
        check_number(voice, "speed", path, errors, SPEED_MIN, SPEED_MAX)
    text = voice.get("text")
    if isinstance(text, str) and text.strip():
        # The words around the merge fields must be sayable by this voice; a recipient's values are
        # checked when they are merged (templates/merge.py); a merge field counts as something to say.
        literal = MERGE_FIELD.sub(" 1 ", text)
        reason = text_unsayable(literal, voice=name)
        if reason is not None:
            errors.add(f"{path}.text", reason[0].upper() + reason[1:] + ".")


def note_spoken_variables(scenes: list[Any], declared: dict[str, dict[str, Any]]) -> None:
    """Record on each declaration the voices that say it (`"voices"`), so a recipient's value the voice
    cannot say is refused when the values are checked (templates/merge.py), naming the variable."""
    for scene in scenes:
        voice = scene.get("voice") if isinstance(scene, dict) else None
        if not isinstance(voice, dict) or not isinstance(voice.get("text"), str):
            continue
        name = voice.get("voice", settings.REELSMITH_DEFAULT_VOICE)
        for variable in MERGE_FIELD.findall(voice["text"]):
            if variable in declared and name in VOICES:
                spoken = declared[variable].setdefault("voices", [])
                if name not in spoken:
                    spoken.append(name)
