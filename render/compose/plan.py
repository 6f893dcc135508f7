"""The fully resolved description of one video, as the compositor consumes it.

Everything here is already personalised and checked: texts are final strings (never
interpreted), colours are `#RRGGBB`, paths point at local files the render service has
validated (generated images and clips, brand logo/font/music). The compositor only draws.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

# The spec's words (adspec/vocabulary.py), which the plan's fields take as values.
from adspec.vocabulary import (
    Align,
    Animation,
    Box,
    GradientAngle,
    ImageFit,
    Motion,
    TextStyle,
    TransitionType,
)


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


@dataclass(frozen=True, slots=True)
class VideoBackground:
    """A clip (a generated MP4) scaled and cropped to cover the frame, resampled to the output's frame
    rate (each output frame shows the clip frame on screen at its time), looped from its start to fill the
    scene (or cut where the scene ends), then moved by `motion` like a still."""

    path: Path
    fps: int  # the clip's own frame rate (the model's): its frame i is shown at i / fps
    motion: Motion = "none"
    # The same clip for every recipient (no merge field reaches its prompt): inside a personal segment
    # its frames are rendered once and cached, as a reused ImageBackground's moving frames are.
    reused: bool = False


@dataclass(frozen=True, slots=True)
class GradientBackground:
    """A linear two-colour gradient; `angle` points the way it runs, as CSS's `linear-gradient`:
    180 runs top to bottom (`start` at the top), 90 left to right, 0 bottom to top, 270 right to left."""

    start: str  # "#RRGGBB"
    end: str  # "#RRGGBB"
    angle: GradientAngle = 180


Background = ColorBackground | ImageBackground | GradientBackground | VideoBackground


@dataclass(frozen=True, slots=True)
class Outline:
    color: str  # "#RRGGBB"
    width: float  # fraction of the frame height (drawtext `borderw`, in pixels once laid out)


@dataclass(frozen=True, slots=True)
class Shadow:
    color: str  # "#RRGGBB"
    offset: tuple[float, float]  # (x, y) fractions of the frame height


@dataclass(frozen=True, slots=True)
class Pill:
    """A filled box behind each line (drawtext `box`), `padding` around it as a fraction of frame height."""

    color: str  # "#RRGGBB"
    padding: float


@dataclass(frozen=True, slots=True)
class TextLayer:
    text: str
    box: Box
    color: str  # "#RRGGBB"
    font_path: Path
    align: Align = "center"
    # None: v1's sizes (the widest range); a style narrows the font size range (layers.STYLE_SIZES).
    style: TextStyle | None = None
    outline: Outline | None = None
    shadow: Shadow | None = None
    pill: Pill | None = None
    animation: Animation = "none"  # entrance over the scene's first ANIMATION_S (layers.py)


@dataclass(frozen=True, slots=True)
class ImageLayer:
    """A logo or other still in its box, keeping its aspect ratio: `contain` fits it inside, centred;
    `cover` fills the box and crops what overflows, centred."""

    path: Path
    box: Box
    fit: ImageFit = "contain"


@dataclass(frozen=True, slots=True)
class RectangleLayer:
    """A filled rectangle; `radius` rounds its corners, as a fraction of the box's shorter side (0..0.5)."""

    box: Box
    color: str  # "#RRGGBB"
    radius: float = 0.0


Layer = TextLayer | ImageLayer | RectangleLayer


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
    # recipient. Shared scenes are encoded once and reused (see segments.compose_segmented).
    personal: bool = False


@dataclass(frozen=True, slots=True)
class Audio:
    path: Path
    volume: float = 1.0
    fade_in: float = 0.0  # seconds; each fade is capped at half the video
    fade_out: float = 1.0  # seconds: v1's "short fade out at the end"


@dataclass(frozen=True, slots=True)
class SpokenWord:
    word: str
    start: float  # seconds from the start of its scene
    end: float


@dataclass(frozen=True, slots=True)
class Voice:
    """A scene's spoken line (a mono WAV from render/speech), laid from the first sample of scene `scene`
    (an index into `plan.scenes`); the music is ducked under it. Its words give the captions' cues."""

    scene: int
    path: Path
    words: tuple[SpokenWord, ...] = ()


@dataclass(frozen=True, slots=True)
class CompositionPlan:
    width: int
    height: int
    fps: int
    scenes: tuple[Scene, ...]
    transition: Transition = field(default_factory=Transition)
    audio: Audio | None = None
    # Spoken lines; the audio track is assembled once over the whole video, so segments carry none.
    voices: tuple[Voice, ...] = ()
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
