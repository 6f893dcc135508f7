"""A render's plan: the template version resolved for one recipient.

Two halves. `generation_specs` lists the pictures a render needs (content-addressed, so identical pictures
across renders and campaigns are one Generation). `composition_plan` turns the spec, the recipient's values,
the brand and local files into the compositor's `CompositionPlan`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from render.compose.plan import (
    Audio,
    ColorBackground,
    CompositionPlan,
    ImageBackground,
    ImageLayer,
    Layer,
    Scene,
    TextLayer,
    Transition,
)
from render.engine.registry import model_spec
from templates.spec import merge


@dataclass(frozen=True)
class GenerationSpec:
    """Everything that determines a generated picture; its hash is the Generation's key."""

    model: str
    prompt: str
    negative_prompt: str
    seed: int
    width: int
    height: int
    steps: int
    guidance: float
    scheduler: str = "default"

    @property
    def key(self) -> str:
        canonical = json.dumps(
            [
                self.model,
                self.prompt,
                self.negative_prompt,
                self.seed,
                self.width,
                self.height,
                self.steps,
                round(self.guidance, 4),
                self.scheduler,
            ],
            ensure_ascii=False,
            separators=(",", ":"),
        )
        return hashlib.sha256(canonical.encode()).hexdigest()

    @property
    def shape_key(self) -> str:
        return f"{self.model}|{self.width}x{self.height}|{self.steps}|{self.guidance:g}|{self.scheduler}"


def generation_spec_for(
    generate: dict[str, Any], values: dict[str, str], default_model: str
) -> GenerationSpec:
    model = generate.get("model") or default_model
    registered = model_spec(model)
    return GenerationSpec(
        model=model,
        prompt=merge(generate["prompt"], values),
        negative_prompt=merge(generate.get("negative_prompt", ""), values),
        seed=int(generate.get("seed", 0)),
        width=registered.width,
        height=registered.height,
        steps=int(generate.get("steps", registered.default_steps)),
        guidance=float(generate.get("guidance", registered.default_guidance)),
    )


def generation_specs(
    spec: dict[str, Any], values: dict[str, str], default_model: str
) -> list[GenerationSpec | None]:
    """One entry per scene: the picture its background needs, or None."""
    out: list[GenerationSpec | None] = []
    for scene in spec["scenes"]:
        generate = scene["background"].get("generate")
        out.append(generation_spec_for(generate, values, default_model) if generate else None)
    return out


@dataclass(frozen=True)
class BrandFiles:
    colors: dict[str, str]
    font: Path
    logo: Path | None
    music: Path | None


def resolve_color(value: str, colors: dict[str, str]) -> str:
    if value.startswith("brand."):
        return colors[value.removeprefix("brand.")]
    return value.upper()


def composition_plan(
    *,
    spec: dict[str, Any],
    values: dict[str, str],
    brand: BrandFiles,
    scene_images: list[Path | None],
    metadata: dict[str, str],
) -> CompositionPlan:
    fmt = spec["format"]
    scenes: list[Scene] = []
    for scene, image in zip(spec["scenes"], scene_images, strict=True):
        background_spec = scene["background"]
        if image is not None:
            background: ColorBackground | ImageBackground = ImageBackground(
                path=image, motion=background_spec.get("motion", "none")
            )
        else:
            background = ColorBackground(
                resolve_color(background_spec.get("color", "brand.primary"), brand.colors)
            )
        layers: list[Layer] = []
        for layer in scene.get("layers", []):
            box = (
                float(layer["box"][0]),
                float(layer["box"][1]),
                float(layer["box"][2]),
                float(layer["box"][3]),
            )
            if layer["type"] == "text":
                text = merge(layer["text"], values).strip()
                if not text:
                    continue  # a text made only of empty optional values draws nothing
                layers.append(
                    TextLayer(
                        text=text,
                        box=box,
                        color=resolve_color(layer.get("color", "brand.text"), brand.colors),
                        font_path=brand.font,
                        align=layer.get("align", "center"),
                    )
                )
            elif layer["type"] == "logo" and brand.logo is not None:
                layers.append(ImageLayer(path=brand.logo, box=box))
        scenes.append(Scene(duration=float(scene["duration"]), background=background, layers=tuple(layers)))
    transition_spec = spec.get("transition") or {}
    transition = Transition(
        type=transition_spec.get("type", "none"), duration=float(transition_spec.get("duration", 0.0))
    )
    audio_spec = spec.get("audio")
    audio = None
    if audio_spec and audio_spec.get("music", "brand") == "brand" and brand.music is not None:
        audio = Audio(path=brand.music, volume=float(audio_spec.get("volume", 1.0)))
    return CompositionPlan(
        width=int(fmt["width"]),
        height=int(fmt["height"]),
        fps=int(fmt["fps"]),
        scenes=tuple(scenes),
        transition=transition,
        audio=audio,
        metadata=tuple(sorted(metadata.items())),
    )
