"""Plain data crossing the boundary between the Django side and the GPU engine.

The engine never imports Django: the render services turn Generation rows into
`GenerationRequest`s and turn `GenerationResult`s back into rows.
"""

from __future__ import annotations

from dataclasses import dataclass

from PIL import Image


@dataclass(frozen=True, slots=True)
class ShapeKey:
    """What must agree for requests to share one batched pipeline call."""

    model: str
    width: int
    height: int
    steps: int
    guidance: float
    scheduler: str = "default"
    # img2img: set for variants of a base picture (each request then brings its `init_image`); the
    # pipeline runs int(steps * strength) of the `steps`-long schedule.
    strength: float | None = None
    num_frames: int | None = None  # video models: frames per clip (None for pictures)


@dataclass(frozen=True, slots=True)
class GenerationRequest:
    """One picture to make. `key` is the Generation's content hash, echoed back in the result."""

    key: str
    shape: ShapeKey
    prompt: str
    seed: int
    negative_prompt: str = ""
    init_image: Image.Image | None = None  # the base picture, for img2img (shape.strength set)


@dataclass(frozen=True, slots=True)
class GenerationResult:
    """Exactly one per request: an image, or the reason there is none."""

    key: str
    image: Image.Image | None = None
    error: str | None = None
    frames: tuple[Image.Image, ...] | None = None  # a video model's clip, frame by frame

    @property
    def ok(self) -> bool:
        return (self.image is not None or self.frames is not None) and self.error is None
