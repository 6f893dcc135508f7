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
TransitionType = Literal["fade", "slide", "wipe", "none"]
Box = tuple[float, float, float, float]  # x, y, w, h as fractions of the frame


@dataclass(frozen=True, slots=True)
class ColorBackground:
    color: str  # "#RRGGBB"


@dataclass(frozen=True, slots=True)
class ImageBackground:
    """A still (generated or uploaded) scaled and cropped to cover the frame, then moved."""

    path: Path
    motion: Motion = "none"
    # The same picture for every recipient (no merge field reaches it): when it moves inside a
    # personal segment, its moving frames are rendered once and cached (segments.py), so a recipient
    # pays for decoding them, not for the motion.
    reused: bool = False


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
class Transition:
    type: TransitionType = "none"
    duration: float = 0.0  # seconds


@dataclass(frozen=True, slots=True)
class Scene:
    duration: float  # seconds
    background: Background
    layers: tuple[Layer, ...] = ()
    # The transition from this scene into the next; None: the plan's `transition`.
    transition_out: Transition | None = None
    # A merge field reaches this scene (its texts, its picture's prompt, a `when`): it is encoded per
    # recipient. Shared scenes are encoded once and reused (see compose.compose_segmented).
    personal: bool = False


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
