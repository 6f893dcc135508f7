"""The fully resolved description of one video, as the compositor consumes it.

Everything here is already personalised and checked: texts are final strings (never
interpreted), colours are `#RRGGBB`, paths point at local files the render service has
validated (generated images, brand logo/font/music). The compositor only draws.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

Motion = Literal["none", "zoom_in", "zoom_out", "pan_left", "pan_right"]
Align = Literal["left", "center", "right"]
Box = tuple[float, float, float, float]  # x, y, w, h as fractions of the frame


@dataclass(frozen=True, slots=True)
class ColorBackground:
    color: str  # "#RRGGBB"


@dataclass(frozen=True, slots=True)
class ImageBackground:
    """A still (generated or uploaded) scaled and cropped to cover the frame, then moved."""

    path: Path
    motion: Motion = "none"


Background = ColorBackground | ImageBackground


@dataclass(frozen=True, slots=True)
class TextLayer:
    text: str
    box: Box
    color: str  # "#RRGGBB"
    font_path: Path
    align: Align = "center"


@dataclass(frozen=True, slots=True)
class ImageLayer:
    """A logo or other still, fitted inside its box keeping its aspect ratio, centred."""

    path: Path
    box: Box


Layer = TextLayer | ImageLayer


@dataclass(frozen=True, slots=True)
class Scene:
    duration: float  # seconds
    background: Background
    layers: tuple[Layer, ...] = ()


@dataclass(frozen=True, slots=True)
class Transition:
    type: Literal["fade", "none"] = "none"
    duration: float = 0.0  # seconds


@dataclass(frozen=True, slots=True)
class Audio:
    path: Path
    volume: float = 1.0


@dataclass(frozen=True, slots=True)
class CompositionPlan:
    width: int
    height: int
    fps: int
    scenes: tuple[Scene, ...]
    transition: Transition = field(default_factory=Transition)
    audio: Audio | None = None
    # Container metadata written into the MP4 (provenance: model, template version, "AI-generated").
    metadata: tuple[tuple[str, str], ...] = ()

    @property
    def duration(self) -> float:
        return sum(scene.duration for scene in self.scenes)


@dataclass(frozen=True, slots=True)
class VideoInfo:
    """What a probe of an encoded file says."""

    width: int
    height: int
    fps: float
    duration: float  # seconds
    video_codec: str
    pixel_format: str
    has_audio: bool
    audio_codec: str | None = None
