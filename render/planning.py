"""A render's plan: the template version resolved for one recipient.

Two halves. `generation_specs` lists the pictures and clips a render needs (content-addressed, so identical
ones across renders and campaigns are one Generation). `composition_plan` turns the spec, the recipient's values,
the brand and local files into the compositor's `CompositionPlan`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from django.conf import settings

from adspec.limits import MAX_SCENE_SECONDS, MIN_SCENE_SECONDS
from adspec.voices import VOICE_TAIL_SECONDS
from render.compose.plan import (
    Audio,
    Background,
    ColorBackground,
    CompositionPlan,
    GradientBackground,
    ImageBackground,
    ImageLayer,
    Layer,
    Outline,
    Pill,
    RectangleLayer,
    Scene,
    Shadow,
    SpokenWord,
    TextLayer,
    Transition,
    VideoBackground,
    Voice,
)
from render.engine.registry import model_spec
from templates.merge import merge, merge_fields
from templates.spec import layer_box, spec_formats
from templates.spec_media import image_field


@dataclass(frozen=True)
class SceneSpeech:
    """A scene's line as said for one recipient (render/services/speech.py): a mono WAV, its length, and
    when each word is said (seconds from the line's start)."""

    path: Path
    duration: float
    words: tuple[SpokenWord, ...]
    text: str


# Subtitles burned in (`"subtitles": true`): the line in the lower sixth, white on a dark pill, like the
# platforms' own captions (they sit above the bottom safe area of 9:16 players). Design choices.
SUBTITLE_BOX = (0.06, 0.78, 0.88, 0.12)
SUBTITLE_LAYER: dict[str, Any] = {"color": "#FFFFFF", "pill": {"color": "#000000"}, "align": "center"}


def scene_duration(scene: dict[str, Any], speech: SceneSpeech | None) -> float:
    """A scene's seconds: its `duration`; with `duration: "voice"`, its line plus a breath, at least its
    `min_duration`, at most MAX_SCENE_SECONDS."""
    if scene["duration"] != "voice":
        return float(scene["duration"])
    spoken = speech.duration + VOICE_TAIL_SECONDS if speech is not None else 0.0
    return min(MAX_SCENE_SECONDS, max(float(scene.get("min_duration", MIN_SCENE_SECONDS)), spoken))


def scene_voice_personal(scene: dict[str, Any], spec: dict[str, Any]) -> bool:
    """A merge field reaches the scene's pixels through its line: the line sets its length (`duration:
    "voice"`) or is drawn (`subtitles`). A personal line in a fixed-length scene without subtitles changes
    only the soundtrack, which is made per recipient anyway, so the scene stays shared."""
    voice = scene.get("voice")
    if not voice or not merge_fields(voice.get("text", "")):
        return False
    return scene["duration"] == "voice" or bool(spec.get("subtitles"))


# A variant's strength when the spec gives a base but no strength: 0.35, the figure the example uses
# (enough to repaint a name or a product into a shared scene while keeping its composition).
DEFAULT_STRENGTH = 0.35


@dataclass(frozen=True)
class GenerationSpec:
    """Everything that determines a generated picture; its hash is the Generation's key.

    A variant (`base` set) is img2img of the base picture at `strength`: the base is its own Generation,
    made once and shared by every variant; the variant runs `int(steps * strength)` denoising steps from it.
    A clip (`num_frames` set) is that many frames from a video model.
    """

    model: str
    prompt: str
    negative_prompt: str
    seed: int
    width: int
    height: int
    steps: int
    guidance: float
    scheduler: str = "default"
    base: GenerationSpec | None = None
    strength: float | None = None
    num_frames: int | None = None  # a clip's length; None for pictures

    @property
    def key(self) -> str:
        fields: list[Any] = [
            self.model,
            self.prompt,
            self.negative_prompt,
            self.seed,
            self.width,
            self.height,
            self.steps,
            round(self.guidance, 4),
            self.scheduler,
        ]
        if self.base is not None:  # appended only for variants, so plain pictures keep their keys
            fields += [self.base.key, round(self.strength or 0.0, 4)]
        if self.num_frames is not None:  # and only for clips
            fields += ["frames", self.num_frames]
        canonical = json.dumps(fields, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    @property
    def shape_key(self) -> str:
        key = f"{self.model}|{self.width}x{self.height}|{self.steps}|{self.guidance:g}|{self.scheduler}"
        # Variants batch with variants of the same strength only: it sets how many steps they run.
        if self.base is not None:
            key += f"|img2img:{self.strength:g}"
        # Clips batch with clips of the same length only: one pipeline call makes one length.
        if self.num_frames is not None:
            key += f"|frames:{self.num_frames}"
        return key


def img2img_steps(steps: int, strength: float) -> int:
    """The schedule length for a variant: at least `steps`, and long enough that `int(steps * strength)`,
    the denoising steps img2img runs (diffusers' `get_timesteps`), is at least one. A 1-step turbo model at
    strength 0.35 gets a 3-step schedule and runs its last step: a third of a full generation's UNet work."""
    total = steps
    while int(total * strength) < 1:
        total += 1
    return total


def generation_spec_for(
    generate: dict[str, Any],
    values: dict[str, str],
    default_model: str,
    aspects: Sequence[float] = (),
) -> GenerationSpec:
    """The picture a `generate` background asks for, at the model's native bucket for `aspects` (the
    render's formats, width / height): a 9:16 template gets a portrait picture, not a square one cropped.
    With `"video": true`, a clip of `frames` frames (default: the model's own length) from a video model
    (the named one, else REELSMITH_DEFAULT_VIDEO_MODEL)."""
    video = bool(generate.get("video", False))
    if video:
        model = generate.get("model") or str(settings.REELSMITH_DEFAULT_VIDEO_MODEL)
    else:
        model = generate.get("model") or default_model
    registered = model_spec(model)
    steps = int(generate.get("steps", registered.default_steps))
    width, height = registered.size_for(aspects)
    picture = GenerationSpec(
        model=model,
        prompt=merge(generate["prompt"], values),
        negative_prompt=merge(generate.get("negative_prompt", ""), values),
        seed=int(generate.get("seed", 0)),
        width=width,
        height=height,
        steps=steps,
        guidance=float(generate.get("guidance", registered.default_guidance)),
        num_frames=int(generate.get("frames", registered.num_frames or 1)) if video else None,
    )
    base = generate.get("base")
    if not base:
        return picture
    # `"base": {"prompt", "seed", "negative_prompt"}`: the shared picture, same model, size and settings.
    base_spec = replace(
        picture,
        prompt=merge(base["prompt"], values),
        negative_prompt=merge(base.get("negative_prompt", generate.get("negative_prompt", "")), values),
        seed=int(base.get("seed", 0)),
    )
    strength = float(generate.get("strength", DEFAULT_STRENGTH))
    return replace(picture, steps=img2img_steps(steps, strength), base=base_spec, strength=strength)


def generation_specs(
    spec: dict[str, Any],
    values: dict[str, str],
    default_model: str,
) -> list[GenerationSpec | None]:
    """One entry per scene: the picture or clip its background needs (a variant, whose `base` is needed too),
    or None. They are made once per render for all its formats, at the bucket that serves them all best."""
    aspects = [fmt["width"] / fmt["height"] for fmt in spec_formats(spec)]
    out: list[GenerationSpec | None] = []
    for scene in spec["scenes"]:
        generate = scene["background"].get("generate")
        out.append(generation_spec_for(generate, values, default_model, aspects) if generate else None)
    return out


@dataclass(frozen=True)
class GeneratedClip:
    """A scene's generated clip, fetched: the MP4 and the frame rate it was made at (the model's)."""

    path: Path
    fps: int


@dataclass(frozen=True)
class BrandFiles:
    colors: dict[str, str]
    font: Path
    logo: Path | None
    music: Path | None
    image: Path | None = None  # the brand picture uploaded as kind `image`
    # A real person's picture and voice recording (kinds `portrait`, `voice`): fetched only for a render whose
    # spec names them and whose consent holds (render.likeness).
    portrait: Path | None = None
    voice: Path | None = None
    # The brand's footage (asset kind `video`), transcoded to a clip (render/services/brand_video.py).
    video: GeneratedClip | None = None
    # This recipient's pictures by image variable (render/services/images.py): fetched, or the variable's
    # fallback brand picture when its URL could not be had.
    recipient_images: dict[str, Path] = field(default_factory=dict)

    def picture(self, name: str) -> Path | None:
        """`brand.logo`, `brand.image`, `brand.portrait` or `{{variable}}`: the file, or None when there is none."""
        variable = image_field(name)
        if variable is not None:
            return self.recipient_images.get(variable)
        return {"brand.logo": self.logo, "brand.image": self.image, "brand.portrait": self.portrait}.get(name)


def resolve_color(value: str, colors: dict[str, str]) -> str:
    if value.startswith("brand."):
        return colors[value.removeprefix("brand.")]
    return value.upper()


def scene_merge_fields(scene: dict[str, Any]) -> set[str]:
    """Every variable that reaches a scene: its texts, its picture's prompts, its `when`s."""
    names: set[str] = set()
    generate = scene["background"].get("generate") or {}
    for key in ("prompt", "negative_prompt"):
        names |= merge_fields(generate.get(key, ""))
    if scene.get("when"):
        names.add(scene["when"])
    names |= merge_fields(scene["background"].get("image", ""))  # a recipient's picture
    for layer in scene.get("layers", []):
        names |= merge_fields(layer.get("text", "")) | merge_fields(layer.get("source", ""))
        if layer.get("when"):
            names.add(layer["when"])
    return names


# Text decoration defaults, fractions of the frame height (6 px outline and shadow offset, 23 px pill
# padding on 1920): visible on a phone, not heavy. Design choices.
DEFAULT_OUTLINE_WIDTH = 0.003
DEFAULT_SHADOW_OFFSET = (0.003, 0.003)
DEFAULT_PILL_PADDING = 0.012
DEFAULT_AUDIO_FADE_OUT = 1.0  # v1's "short fade out at the end"


def _text_layer(
    layer: dict[str, Any], text: str, box: tuple[float, float, float, float], brand: BrandFiles
) -> TextLayer:
    """A text layer with its style and decorations resolved; a `cta` gets a pill unless `"pill": null`."""
    colors = brand.colors
    outline = shadow = pill = None
    if layer.get("outline") is not None:
        spec = layer["outline"]
        outline = Outline(
            resolve_color(spec.get("color", "#000000"), colors),
            float(spec.get("width", DEFAULT_OUTLINE_WIDTH)),
        )
    if layer.get("shadow") is not None:
        spec = layer["shadow"]
        dx, dy = spec.get("offset", DEFAULT_SHADOW_OFFSET)
        shadow = Shadow(resolve_color(spec.get("color", "#000000"), colors), (float(dx), float(dy)))
    pill_spec = layer.get("pill", {} if layer.get("style") == "cta" else None)
    if pill_spec is not None:
        pill = Pill(
            resolve_color(pill_spec.get("color", "brand.primary"), colors),
            float(pill_spec.get("padding", DEFAULT_PILL_PADDING)),
        )
    return TextLayer(
        text=text,
        box=box,
        color=resolve_color(layer.get("color", "brand.text"), colors),
        font_path=brand.font,
        align=layer.get("align", "center"),
        style=layer.get("style"),
        outline=outline,
        shadow=shadow,
        pill=pill,
        animation=layer.get("animation", "none"),
    )


def _background(spec: dict[str, Any], media: Path | GeneratedClip | None, brand: BrandFiles) -> Background:
    """The scene's background: its generated picture or clip, the brand's picture, a gradient or a colour."""
    generate = spec.get("generate") or {}
    # No merge field in its prompts: everyone's picture (or clip), so its moving frames are cached.
    reused = not any(merge_fields(generate.get(key, "")) for key in ("prompt", "negative_prompt"))
    if isinstance(media, GeneratedClip):
        return VideoBackground(
            path=media.path, fps=media.fps, motion=spec.get("motion", "none"), reused=reused
        )
    if media is not None:
        return ImageBackground(path=media, motion=spec.get("motion", "none"), reused=reused)
    picture = brand.picture(spec["image"]) if "image" in spec else None
    if picture is not None:
        # A recipient's picture is theirs alone: nothing to reuse across recipients.
        reused_picture = image_field(spec["image"]) is None
        return ImageBackground(path=picture, motion=spec.get("motion", "none"), reused=reused_picture)
    if "video" in spec and brand.video is not None:  # the brand's footage, like a generated clip
        return VideoBackground(
            path=brand.video.path, fps=brand.video.fps, motion=spec.get("motion", "none"), reused=True
        )
    if "gradient" in spec:
        gradient = spec["gradient"]
        return GradientBackground(
            start=resolve_color(gradient["from"], brand.colors),
            end=resolve_color(gradient["to"], brand.colors),
            angle=gradient.get("angle", 180),
        )
    # A colour; also a brand picture or footage the brand has not uploaded (its primary colour instead).
    return ColorBackground(resolve_color(spec.get("color", "brand.primary"), brand.colors))


def _shown(item: dict[str, Any], values: dict[str, str]) -> bool:
    """`"when": "company"`: shown only when that variable's value is not empty."""
    name = item.get("when")
    return not name or bool(values.get(name, "").strip())


def scenes_shown(spec: dict[str, Any], values: dict[str, str]) -> list[int]:
    """The indexes of the spec's scenes a recipient with `values` sees: `composition_plan`'s scenes, in order."""
    return [index for index, scene in enumerate(spec["scenes"]) if _shown(scene, values)]


def composition_plan(
    *,
    spec: dict[str, Any],
    values: dict[str, str],
    brand: BrandFiles,
    scene_media: Sequence[Path | GeneratedClip | None],
    metadata: dict[str, str],
    output: dict[str, Any] | None = None,
    speech: Sequence[SceneSpeech | None] = (),
) -> CompositionPlan:
    """The plan of one output: `output` is one of `spec_formats(spec)` (default: the first); layers
    take their `boxes` entry for that format's name, else their `box`. `scene_media`: per scene, its
    generated picture or clip, fetched (None for the other backgrounds). `speech`: per scene, its line
    said for this recipient (None without a voice; empty: no scene speaks)."""
    fmt = output or spec_formats(spec)[0]
    scenes: list[Scene] = []
    voices: list[Voice] = []
    lines = list(speech) or [None] * len(spec["scenes"])
    for scene, media, line in zip(spec["scenes"], scene_media, lines, strict=True):
        if not _shown(scene, values):
            continue
        if line is not None:
            voices.append(Voice(scene=len(scenes), path=line.path, words=line.words))
        background = _background(scene["background"], media, brand)
        layers: list[Layer] = []
        for layer in scene.get("layers", []):
            if not _shown(layer, values):
                continue
            x, y, w, h = layer_box(layer, fmt["name"])
            box = (float(x), float(y), float(w), float(h))
            if layer["type"] == "text":
                text = merge(layer["text"], values).strip()
                if not text:
                    continue  # a text made only of empty optional values draws nothing
                layers.append(_text_layer(layer, text, box, brand))
            elif layer["type"] in ("logo", "image"):
                picture = brand.logo if layer["type"] == "logo" else brand.picture(layer["source"])
                if picture is not None:  # a picture the brand has not uploaded is left out
                    layers.append(ImageLayer(path=picture, box=box, fit=layer.get("fit", "contain")))
            elif layer["type"] == "rectangle":
                color = resolve_color(layer.get("color", "brand.primary"), brand.colors)
                layers.append(RectangleLayer(box=box, color=color, radius=float(layer.get("radius", 0.0))))
        if line is not None and spec.get("subtitles"):
            layers.append(_text_layer(SUBTITLE_LAYER, line.text, SUBTITLE_BOX, brand))
        out = scene.get("transition")
        scenes.append(
            Scene(
                duration=scene_duration(scene, line),
                background=background,
                layers=tuple(layers),
                transition_out=Transition(type=out["type"], duration=float(out.get("duration", 0.0)))
                if out
                else None,
                # Personal: encoded per recipient. Shared scenes are cached (render/compose/segments.py).
                personal=bool(scene_merge_fields(scene)) or scene_voice_personal(scene, spec),
            )
        )
    transition_spec = spec.get("transition") or {}
    transition = Transition(
        type=transition_spec.get("type", "none"), duration=float(transition_spec.get("duration", 0.0))
    )
    audio_spec = spec.get("audio")
    audio = None
    # `brand.music` is the track to play: the brand's, or the template's (`render_compose` swaps it in); or
    # the brand's recorded voice (`"music": "brand.voice"`).
    track = brand.voice if audio_spec and audio_spec.get("music") == "brand.voice" else brand.music
    if (
        audio_spec
        and audio_spec.get("music", "brand") in ("brand", "template", "brand.voice")
        and track is not None
    ):
        audio = Audio(
            path=track,
            volume=float(audio_spec.get("volume", 1.0)),
            fade_in=float(audio_spec.get("fade_in", 0.0)),
            fade_out=float(audio_spec.get("fade_out", DEFAULT_AUDIO_FADE_OUT)),
        )
    return CompositionPlan(
        width=int(fmt["width"]),
        height=int(fmt["height"]),
        fps=int(fmt["fps"]),
        scenes=tuple(scenes),
        transition=transition,
        audio=audio,
        voices=tuple(voices),
        metadata=tuple(sorted(metadata.items())),
    )
