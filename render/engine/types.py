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


@dataclass(frozen=True, slots=True)
class GenerationRequest:
    """One picture to make. `key` is the Generation's content hash, echoed back in the result."""

    key: str
    shape: ShapeKey
    prompt: str
    seed: int
    negative_prompt: str = ""


@dataclass(frozen=True, slots=True)
class GenerationResult:
    """Exactly one per request: an image, or the reason there is none."""

    key: str
    image: Image.Image | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.image is not None and self.error is None
