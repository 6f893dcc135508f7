"""Turning a CompositionPlan into an H.264 MP4 (and a JPEG thumbnail) with one ffmpeg run.

The filter graph is assembled from small builders, one per concern, each adding chains to a
`_Graph` and returning the label of its output:

    scene i:   background (colour | gradient | image or clip covered + moved)  ->  text lines / logos on top
    join:      xfade between consecutive scenes (or concat)  ->  [video]
    audio:     music looped, trimmed to the video, volume, fade out  ->  [audio]

Timing is counted in frames, never in seconds, so the total is exact: scene i owns the frames
between round(fps * start_i) and round(fps * end_i). A fade of D frames overlaps two scenes, and
xfade shortens the output by D, so each scene is rendered with extra frames at the cut (D // 2
after the outgoing scene, the rest before the incoming one): the fade is centred on the planned
cut and the total stays the sum of the scene durations.

Why not ffmpeg-python for the graph: it has no node for source filters (`color=`), names every
stream itself (`s0`, `s1`, ...), and leaves escaping of values to its own rules; the builders here
are as short and keep every value going through `filter_spec`. Encoder settings live in one frozen
`EncodeSettings`, so a later change can encode a scene (or a run of scenes, see `compose_args`) as
its own segment with identical codec parameters and join segments with `-c copy`.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn, get_args

from render.compose.ffmpeg import ComposeError, chain, filter_spec, input_args, run_ffmpeg_into
from render.compose.fonts import font_for
from render.compose.plan import (
    Align,
    Animation,
    Audio,
    Background,
    ColorBackground,
    CompositionPlan,
    GradientBackground,
    ImageBackground,
    ImageLayer,
    Motion,
    RectangleLayer,
    Scene,
    TextLayer,
    TextStyle,
    VideoBackground,
    VideoInfo,
)
from render.compose.probe import (
    AUDIO_INPUTS,
    CLIP_INPUTS,
    IMAGE_INPUTS,
    MediaInput,
    check_media_input,
    probe,
)
from render.compose.text import SAFETY_PX, PixelBox, fit_text, place_lines

# Frame geometry we accept. Even sizes: yuv420p stores chroma at half resolution both ways.
# 4096: H.264 level 5.1's widest frame (ITU-T H.264 Table A-1, 4096x2304); more is no ad format.
MAX_FRAME_SIDE = 4096
MAX_FPS = 60  # the fastest rate social platforms accept for upload (9:16 ads are 24-30 fps)

# Ken Burns motion: 15 % zoom (or a 15 % wide pan) over a scene: visible, slow enough not to fight
# the text for attention. A design choice, tuned by eye on 3 s scenes.
MOTION_ZOOM = 0.15

# Text sizes as fractions of the frame height. 1/12: a headline of 160 px on a 1920 px frame, about
# ten lines of text fill the screen. 1/80: 24 px on 1920, the smallest we still call legible on a
# phone. Design choices; fit_text goes below the minimum only to keep one line in a tiny box.
MAX_FONT_FRACTION = 1 / 12
MIN_FONT_FRACTION = 1 / 80
# Per style, (largest, smallest) font size as fractions of the frame height, inside v1's range.
# headline: 160..48 px on 1920, a title read at a glance; body: 80..24 px, running text; cta:
# 107..40 px, a button label. Design choices in the spirit of a type scale (ratio ~1.5 between styles).
STYLE_SIZES: dict[TextStyle, tuple[float, float]] = {
    "headline": (1 / 12, 1 / 40),
    "body": (1 / 24, 1 / 80),
    "cta": (1 / 18, 1 / 48),
}
# Entrance animations run over the scene's first 0.4 s: long enough to read as motion, short
# enough that a 1 s scene still shows its text still for most of its length (a design choice).
ANIMATION_S = 0.4
# slide_up rises from at most 1/40 of the frame height below its place (48 px on 1920), and never
# from further than the free space under the text in its box (so it never leaves the box).
SLIDE_FRACTION = 1 / 40
# pop grows from 60 % of its size: a visible "pop" that still reads as the same word.
POP_FROM = 0.6

MAX_VOLUME = 2.0  # +6 dB: enough to lift a quiet track; more clips mastered music

# ffmpeg is given this long: 60 s to start and read inputs plus 20x the video's length. Measured
# (benchmarks/compose.py, 1080x1920 at veryfast on this shared 2-core machine): ~14 CPU-seconds
# per 15 s video, so about 1x realtime; 20x leaves room for a machine loaded many times over.
TIMEOUT_BASE_S = 60.0
TIMEOUT_PER_VIDEO_S = 20.0
THUMBNAIL_TIMEOUT_S = 60.0

_COLOR = re.compile(r"#[0-9A-Fa-f]{6}")
# Metadata keys end up as `-metadata key=value`: no `=`, nothing a player would choke on.
_METADATA_KEY = re.compile(r"[A-Za-z][A-Za-z0-9_.\-]{0,63}")


class PlanError(ComposeError):
    """The plan asks for something the compositor cannot draw; the message names the field."""


@dataclass(frozen=True, slots=True)
class EncodeSettings:
    """Every codec parameter of an output, in one place: segments encoded separately with the same
    settings have identical SPS/PPS and can be joined by the concat demuxer with `-c copy`."""

    preset: str = "veryfast"
    # x264's CRF scale runs 0-51, 23 is its default, ~18 is visually lossless and 17-28 is the sane
    # range (https://trac.ffmpeg.org/wiki/Encode/H.264). 21: a notch above default, since platforms
    # re-encode uploads and flat brand colours show banding first.
    crf: int = 21
    # One IDR every 2 s: the keyframe interval platforms ask for (YouTube's upload recommendation is
    # "2 seconds or less"); fixed (no scene-cut keyframes) so segment boundaries can fall on one.
    gop_seconds: int = 2
    audio_bitrate: str = "128k"  # AAC-LC stereo at 128 kb/s: transparent enough for background music
    audio_sample_rate: int = 48_000  # the video world's rate; 48000/fps is whole for 24, 25, 30, 60

    def video_args(self, fps: int) -> list[str]:
        keyint = self.gop_seconds * fps
        return [
            "-c:v", "libx264",
            "-preset", self.preset,
            "-crf", str(self.crf),
            "-profile:v", "high",
            "-pix_fmt", "yuv420p",
            "-g", str(keyint),
            "-keyint_min", str(keyint),
            "-sc_threshold", "0",
            # The graph converts to BT.709 (HD's matrix); say so, or players guess per resolution.
            "-colorspace", "bt709",
            "-color_primaries", "bt709",
            "-color_trc", "bt709",
            "-color_range", "tv",
        ]  # fmt: skip

    def audio_args(self) -> list[str]:
        return ["-c:a", "aac", "-b:a", self.audio_bitrate, "-ar", str(self.audio_sample_rate), "-ac", "2"]


@dataclass(frozen=True, slots=True)
class SceneTiming:
    """A scene's frames in the output, and the extra frames rendered under the fades at its cuts."""

    frames: int
    lead_in: int = 0
    lead_out: int = 0

    @property
    def rendered(self) -> int:
        return self.lead_in + self.frames + self.lead_out


def compose_video(
    plan: CompositionPlan,
    out_path: Path,
    *,
    workdir: Path,
    preset: str = "veryfast",
    settings: EncodeSettings | None = None,
    timeout_s: float | None = None,
    window: tuple[int, int] | None = None,
    inputs: dict[Path, MediaInput] | None = None,
    backgrounds: dict[int, Path] | None = None,
) -> VideoInfo:
    """Render `plan` to `out_path` (written whole or not at all) and return what the file is.

    `window` = (first, end) output frames: only that part, video only (a segment, see
    `segments.compose_segmented`, which passes the `inputs` it probed for the window, and in
    `backgrounds` the scenes whose moving background it already holds rendered, see
    `render_background`).

    `workdir` receives the text files drawtext reads; the caller owns and removes it. `settings`,
    when given, replaces the defaults `preset` is part of. Raises PlanError for a plan that cannot
    be drawn, UnsupportedMediaError for an input outside the allowlists, ComposeError if ffmpeg fails.
    """
    settings = settings or EncodeSettings(preset=preset)

    # 1. Check the plan and every input file before anything reaches ffmpeg
    check_plan(plan)
    inputs = check_plan_inputs(plan) if inputs is None else inputs
    workdir.mkdir(parents=True, exist_ok=True)

    # 2. Build the command: inputs, filter graph, encoder, container
    partial = out_path.with_name(f".{out_path.name}.partial")
    args = compose_args(
        plan,
        partial,
        workdir=workdir,
        settings=settings,
        inputs=inputs,
        window=window,
        backgrounds=backgrounds,
    )

    # 3. Run it, then move the finished file into place so no reader sees half a video
    timeout = timeout_s if timeout_s is not None else TIMEOUT_BASE_S + TIMEOUT_PER_VIDEO_S * plan.duration
    run_ffmpeg_into(args, partial=partial, out_path=out_path, timeout=timeout)
    return probe(out_path)


def make_thumbnail(video_path: Path, out_path: Path, *, at_seconds: float) -> None:
    """Write the frame at `at_seconds` of `video_path` as a JPEG."""
    # 1. Check inputs
    duration = probe(video_path).duration
    if not 0 <= at_seconds < duration:
        raise ComposeError(f"thumbnail time {at_seconds} s is outside the video (0 to {duration:.3f} s)")

    # 2. Seek (accurately: ffmpeg decodes from the keyframe before and drops frames up to the
    # time), convert to JPEG's full-range BT.601, write one frame
    partial = out_path.with_name(f".{out_path.name}.partial")
    args = [
        *input_args(video_path, options=["-ss", f"{at_seconds:.6f}"]),
        "-vf", ",".join([
            filter_spec("scale", out_color_matrix="bt601", out_range="pc"),
            filter_spec("format", pix_fmts="yuvj420p"),
        ]),
        "-frames:v", "1",
        "-c:v", "mjpeg",
        "-q:v", "2",  # mjpeg quality, 2 (best) to 31: near-lossless for a poster frame
        "-update", "1",
        "-f", "image2",
        str(partial),
    ]  # fmt: skip

    # 3. Run, and move the file into place
    run_ffmpeg_into(args, partial=partial, out_path=out_path, timeout=THUMBNAIL_TIMEOUT_S)


# --- Checking -------------------------------------------------------------------------------------


def check_plan(plan: CompositionPlan) -> None:
    """Raise PlanError naming the first field the compositor cannot honour, with its value."""
    if not (0 < plan.width <= MAX_FRAME_SIDE and plan.width % 2 == 0):
        _fail("width", f"must be even and in 2..{MAX_FRAME_SIDE}", plan.width)
    if not (0 < plan.height <= MAX_FRAME_SIDE and plan.height % 2 == 0):
        _fail("height", f"must be even and in 2..{MAX_FRAME_SIDE}", plan.height)
    if not (isinstance(plan.fps, int) and 0 < plan.fps <= MAX_FPS):
        _fail("fps", f"must be a whole number in 1..{MAX_FPS}", plan.fps)
    if not plan.scenes:
        _fail("scenes", "must not be empty", plan.scenes)
    for index, scene in enumerate(plan.scenes):
        if not (math.isfinite(scene.duration) and scene.duration > 0):
            _fail(f"scenes[{index}].duration", "must be a positive number of seconds", scene.duration)
    for where, transition in [("transition", plan.transition)] + [
        (f"scenes[{index}].transition_out", scene.transition_out)
        for index, scene in enumerate(plan.scenes)
        if scene.transition_out is not None
    ]:
        if transition is None:
            continue
        if transition.type not in _XFADES and transition.type != "none":
            _fail(f"{where}.type", f"must be one of {sorted([*_XFADES, 'none'])}", transition.type)
        if not (math.isfinite(transition.duration) and transition.duration >= 0):
            _fail(f"{where}.duration", "must be zero or a positive number of seconds", transition.duration)
    frames = _scene_frames(plan)
    cuts = [0, *(frames for _, frames in _cuts(plan)), 0]
    for index, (scene, count) in enumerate(zip(plan.scenes, frames, strict=True)):
        if count < 1:
            _fail(f"scenes[{index}].duration", f"is shorter than one frame at {plan.fps} fps", scene.duration)
        # The fades at both ends of a scene may not overlap each other (each is centred on its cut).
        fade_in, fade_out = cuts[index], cuts[index + 1]
        if count < max(fade_in, fade_out) or count < fade_in // 2 + (fade_out - fade_out // 2):
            transition = scene.transition_out or plan.transition
            _fail(
                "transition.duration",
                f"is longer than scene {index} ({scene.duration} s)",
                transition.duration,
            )
        _check_scene(scene, index)
    if plan.audio is not None and not (0 <= plan.audio.volume <= MAX_VOLUME):
        _fail("audio.volume", f"must be in 0..{MAX_VOLUME}", plan.audio.volume)
    if plan.audio is not None:
        for name in ("fade_in", "fade_out"):
            value = getattr(plan.audio, name)
            if not (math.isfinite(value) and value >= 0):
                _fail(f"audio.{name}", "must be zero or a positive number of seconds", value)
    for key, value in plan.metadata:
        if not _METADATA_KEY.fullmatch(key):
            _fail("metadata", "keys are a letter then up to 63 letters, digits, '_', '.', '-'", key)
        if "\x00" in value:
            _fail(f"metadata.{key}", "must not contain NUL", value)


def _check_scene(scene: Scene, index: int) -> None:
    where = f"scenes[{index}]"
    background = scene.background
    if isinstance(background, ColorBackground) and not _COLOR.fullmatch(background.color):
        _fail(f"{where}.background.color", "must be #RRGGBB", background.color)
    if isinstance(background, ImageBackground | VideoBackground) and background.motion not in _MOTIONS:
        _fail(f"{where}.background.motion", f"must be one of {sorted(_MOTIONS)}", background.motion)
    if isinstance(background, VideoBackground) and not (
        isinstance(background.fps, int) and 0 < background.fps <= MAX_FPS
    ):
        _fail(f"{where}.background.fps", f"must be a whole number in 1..{MAX_FPS}", background.fps)
    if isinstance(background, GradientBackground):
        for name, color in (("start", background.start), ("end", background.end)):
            if not _COLOR.fullmatch(color):
                _fail(f"{where}.background.{name}", "must be #RRGGBB", color)
        if background.angle not in (0, 90, 180, 270):
            _fail(f"{where}.background.angle", "must be 0, 90, 180 or 270", background.angle)
    for layer_index, layer in enumerate(scene.layers):
        at = f"{where}.layers[{layer_index}]"
        x, y, w, h = layer.box
        if not (
            all(math.isfinite(v) for v in layer.box)
            and x >= 0
            and y >= 0
            and w > 0
            and h > 0
            and x + w <= 1 + _BOX_SLACK
            and y + h <= 1 + _BOX_SLACK
        ):
            _fail(f"{at}.box", "must be [x, y, w, h] fractions with the box inside the frame", layer.box)
        if isinstance(layer, TextLayer):
            if not _COLOR.fullmatch(layer.color):
                _fail(f"{at}.color", "must be #RRGGBB", layer.color)
            if layer.align not in _ALIGNS:
                _fail(f"{at}.align", f"must be one of {sorted(_ALIGNS)}", layer.align)
            if not layer.font_path.is_file():
                _fail(f"{at}.font_path", "is not a file", str(layer.font_path))
            if layer.style is not None and layer.style not in STYLE_SIZES:
                _fail(f"{at}.style", f"must be one of {sorted(STYLE_SIZES)}", layer.style)
            if layer.animation not in _ANIMATIONS:
                _fail(f"{at}.animation", f"must be one of {sorted(_ANIMATIONS)}", layer.animation)
            decorations = [
                ("outline", layer.outline, layer.outline and layer.outline.width),
                ("shadow", layer.shadow, layer.shadow and max(map(abs, layer.shadow.offset))),
                ("pill", layer.pill, layer.pill and layer.pill.padding),
            ]
            for name, decoration, size in decorations:
                if decoration is None:
                    continue
                if not _COLOR.fullmatch(decoration.color):
                    _fail(f"{at}.{name}.color", "must be #RRGGBB", decoration.color)
                if not (isinstance(size, int | float) and 0 <= size <= MAX_DECORATION_FRACTION):
                    _fail(f"{at}.{name}", f"sizes must be 0..{MAX_DECORATION_FRACTION} of the frame", size)
        if isinstance(layer, RectangleLayer):
            if not _COLOR.fullmatch(layer.color):
                _fail(f"{at}.color", "must be #RRGGBB", layer.color)
            if not (math.isfinite(layer.radius) and 0 <= layer.radius <= 0.5):
                _fail(f"{at}.radius", "must be 0..0.5 of the box's shorter side", layer.radius)


# Box fractions come from JSON floats: 0.08 + 0.84 may land a hair above 1.
_BOX_SLACK = 1e-9
_MOTIONS = frozenset(get_args(Motion))
_ALIGNS = frozenset(get_args(Align))
_ANIMATIONS = frozenset(get_args(Animation))
# Outline width, shadow offset and pill padding: at most 1/20 of the frame height (96 px on 1920),
# far past any tasteful value; the bound keeps a box from being eaten by its own decoration.
MAX_DECORATION_FRACTION = 0.05


def check_plan_inputs(plan: CompositionPlan) -> dict[Path, MediaInput]:
    """Probe every image, clip and the music against the allowlists; ffmpeg reads each as probed."""
    images = [scene.background.path for scene in plan.scenes if isinstance(scene.background, ImageBackground)]
    images += [layer.path for scene in plan.scenes for layer in scene.layers if isinstance(layer, ImageLayer)]
    inputs = {path: check_media_input(path, allowed_formats=IMAGE_INPUTS) for path in dict.fromkeys(images)}
    clips = [scene.background.path for scene in plan.scenes if isinstance(scene.background, VideoBackground)]
    for path in dict.fromkeys(clips):
        inputs[path] = check_media_input(path, allowed_formats=CLIP_INPUTS)
    if plan.audio is not None:
        inputs[plan.audio.path] = check_media_input(plan.audio.path, allowed_formats=AUDIO_INPUTS)
    return inputs


def _fail(field_path: str, problem: str, value: object) -> NoReturn:
    raise PlanError(f"{field_path}: {problem}, got {value!r}")


# --- Timing ---------------------------------------------------------------------------------------


def _scene_frames(plan: CompositionPlan) -> list[int]:
    """Frames per scene, from rounded cumulative boundaries, so rounding never accumulates."""
    boundaries = [0]
    elapsed = 0.0
    for scene in plan.scenes:
        elapsed += scene.duration
        boundaries.append(round(elapsed * plan.fps))
    return [end - start for start, end in itertools.pairwise(boundaries)]


# Our transition names to xfade's: slides and wipes move right to left, the way a reader's eye
# leaves a Latin line (a design choice; xfade has every direction).
_XFADES = {"fade": "fade", "slide": "slideleft", "wipe": "wipeleft"}


def _cuts(plan: CompositionPlan) -> list[tuple[str, int]]:
    """Per cut between scene i and i+1: the xfade transition and its length in frames (0: a cut)."""
    out = []
    for scene in plan.scenes[:-1]:
        transition = scene.transition_out or plan.transition
        frames = round(transition.duration * plan.fps) if transition.type in _XFADES else 0
        out.append((_XFADES.get(transition.type, "fade"), frames))
    return out


def scene_timings(plan: CompositionPlan) -> tuple[SceneTiming, ...]:
    """Each scene's frames, plus the frames it is extended by under the fades at its cuts."""
    frames = _scene_frames(plan)
    fades = [0, *(count for _, count in _cuts(plan)), 0]
    # A fade of D frames centred on its cut: D // 2 extra frames after the outgoing scene, the rest
    # before the incoming one.
    return tuple(
        SceneTiming(frames=count, lead_in=fades[index] - fades[index] // 2, lead_out=fades[index + 1] // 2)
        for index, count in enumerate(frames)
    )


# --- The command ----------------------------------------------------------------------------------


def compose_args(
    plan: CompositionPlan,
    output: Path,
    *,
    workdir: Path,
    settings: EncodeSettings,
    inputs: dict[Path, MediaInput],
    window: tuple[int, int] | None = None,
    backgrounds: dict[int, Path] | None = None,
) -> list[str]:
    """The ffmpeg arguments rendering `plan` to `output`; writes the text files into `workdir`.

    `window` = (first, end) output frames renders only that part of the timeline, without audio or
    metadata: a segment, joined to the others by `compose_segmented`. Every frame of a window is the
    frame the full render has at that position (same builders, motion and fades offset by the window).
    """
    graph = _Graph(inputs)
    timings = scene_timings(plan)
    total_frames = sum(timing.frames for timing in timings)
    first, end = window or (0, total_frames)

    # 1-2. The scenes the window touches, each cut to its part, joined by their transitions
    video = _add_window(graph, plan, timings, first, end, workdir=workdir, backgrounds=backgrounds or {})

    # 3. Music, looped or cut to exactly the video's length (segments carry none)
    audio = None
    if plan.audio is not None and window is None:
        audio = _add_audio(graph, plan.audio, total_frames, plan.fps, settings)

    # 4. Encoders, metadata (ours only: nothing copied from inputs), container
    return [
        *graph.args(),
        "-map", f"[{video}]",
        *(["-map", f"[{audio}]", *settings.audio_args()] if audio else []),
        *settings.video_args(plan.fps),
        "-map_metadata", "-1",
        "-map_chapters", "-1",
        *(_metadata_args(plan.metadata) if window is None else []),
        # faststart: moov before mdat, so playback starts before the download ends;
        # use_metadata_tags: keep custom keys (the mp4 muxer drops unknown ones otherwise).
        "-movflags", "+faststart+use_metadata_tags",
        "-f", "mp4",
        str(output),
    ]  # fmt: skip


def _metadata_args(metadata: Iterable[tuple[str, str]]) -> list[str]:
    return [arg for key, value in metadata for arg in ("-metadata", f"{key}={value}")]


@dataclass
class _Graph:
    """Inputs and filter chains of one ffmpeg run; hands out unique stream labels."""

    media: dict[Path, MediaInput]
    inputs: list[list[str]] = field(default_factory=list)
    chains: list[str] = field(default_factory=list)
    _count: int = 0

    def add_input(self, path: Path, stream: str, *options: str) -> str:
        """Add an input read as the format it was checked as; return its stream label."""
        self.inputs.append(input_args(path, options=[*options, "-f", self.media[path].demuxer]))
        return f"{len(self.inputs) - 1}:{stream}"

    def label(self, prefix: str) -> str:
        self._count += 1
        return f"{prefix}{self._count}"

    def add(self, inputs: list[str], filters: list[str], prefix: str) -> str:
        output = self.label(prefix)
        self.chains.append(chain(inputs, filters, output))
        return output

    def args(self) -> list[str]:
        return [*(arg for one in self.inputs for arg in one), "-filter_complex", ";".join(self.chains)]


def _add_window(
    graph: _Graph,
    plan: CompositionPlan,
    timings: tuple[SceneTiming, ...],
    first: int,
    end: int,
    *,
    workdir: Path,
    backgrounds: dict[int, Path],
) -> str:
    """Output frames first..end-1: each scene's rendered frames (its own plus those under the fades)
    that fall in the window, joined in order. Neighbouring parts overlap by a whole transition or
    not at all (a window edge never falls inside a transition, see `plan_segments`)."""
    cuts = _cuts(plan)
    parts: list[tuple[str, int, int]] = []  # label, first output frame, frame count
    for part in window_parts(timings, first, end):
        label = _add_scene(
            graph,
            plan,
            part.index,
            timings[part.index],
            skip=part.skip,
            count=part.count,
            workdir=workdir,
            background=backgrounds.get(part.index),
        )
        parts.append((label, part.first, part.count))
    if not parts:
        raise PlanError(f"window {first}..{end} holds no frames")
    joined, _, length = parts[0]
    joined_end = parts[0][1] + length
    for label, part_lo, count in parts[1:]:
        overlap = joined_end - part_lo
        if overlap > 0:
            # The transition of the cut this part starts after: the one whose fade region it opens.
            cut = next(i for i in range(len(cuts)) if sum(t.frames for t in timings[: i + 1]) > part_lo)
            xfade = filter_spec(
                "xfade",
                transition=cuts[cut][0],
                duration=_seconds(overlap, plan.fps),
                offset=_seconds(length - overlap, plan.fps),
            )
            joined = graph.add([joined, label], [xfade], "video")
        else:
            joined = graph.add([joined, label], [filter_spec("concat", n=2, v=1, a=0)], "video")
        length += count - max(overlap, 0)
        joined_end = part_lo + count
    return joined


@dataclass(frozen=True, slots=True)
class WindowPart:
    """Scene `index`'s rendered frames skip..skip+count-1, at output frames first..first+count-1."""

    index: int
    skip: int
    count: int
    first: int


def window_parts(timings: tuple[SceneTiming, ...], first: int, end: int) -> list[WindowPart]:
    """The part of each scene (its fades' extra frames included) that output frames first..end-1 show."""
    parts, start = [], 0
    for index, timing in enumerate(timings):
        lo, hi = start - timing.lead_in, start + timing.frames + timing.lead_out
        start += timing.frames
        part_lo, part_hi = max(lo, first), min(hi, end)
        if part_lo < part_hi:
            parts.append(WindowPart(index, part_lo - lo, part_hi - part_lo, part_lo))
    return parts


def render_background(
    plan: CompositionPlan,
    part: WindowPart,
    out_path: Path,
    *,
    inputs: dict[Path, MediaInput],
    timeout_s: float,
) -> None:
    """Scene `part.index`'s background alone (motion applied, no layers) for the part's frames, as
    lossless Ut Video in Matroska: the frames `_add_background` would make, to be read back in their
    place by `compose_video(backgrounds=...)`. Exactly lossless (yuv420p in and out), so a segment
    drawn over it is the segment drawn over the live background."""
    graph = _Graph(inputs)
    timing = scene_timings(plan)[part.index]
    label = _add_background(
        graph, plan.scenes[part.index].background, timing.rendered, plan, skip=part.skip, count=part.count
    )
    partial = out_path.with_name(f".{out_path.name}.partial")
    args = [*graph.args(), "-map", f"[{label}]", "-c:v", "utvideo", "-f", "matroska", str(partial)]
    run_ffmpeg_into(args, partial=partial, out_path=out_path, timeout=timeout_s)


def _add_scene(
    graph: _Graph,
    plan: CompositionPlan,
    index: int,
    timing: SceneTiming,
    *,
    skip: int = 0,
    count: int | None = None,
    workdir: Path,
    background: Path | None = None,
) -> str:
    """Scene `index`'s rendered frames skip..skip+count-1 (all of them by default); `background`:
    a file holding exactly those frames of its background (`render_background`)."""
    scene = plan.scenes[index]
    count = timing.rendered - skip if count is None else count
    if background is not None:
        # Frames numbered from 0 at 1/fps, as the live background's are (xfade insists on one timebase).
        label = graph.add(
            # -r: the rate the live background has (a Matroska stream's rate is only a guess).
            [graph.add_input(background, "v", "-r", str(plan.fps))],
            [
                filter_spec("settb", expr=f"1/{plan.fps}"),
                filter_spec("setpts", expr="N"),
                filter_spec("setsar", sar=1),
            ],
            "bg",
        )
    else:
        label = _add_background(graph, scene.background, timing.rendered, plan, skip=skip, count=count)
    for layer_index, layer in enumerate(scene.layers):
        box = _pixel_box(layer.box, plan.width, plan.height)
        if isinstance(layer, TextLayer):
            text_dir = workdir / f"scene{index}_layer{layer_index}"
            # drawtext's `n` counts this part's frames from 0; the scene's own first frame is its
            # lead_in-th rendered frame, `skip` of which this part does not show.
            label = _add_text(
                graph, label, layer, box, plan.height, text_dir, fps=plan.fps, start=timing.lead_in - skip
            )
        elif isinstance(layer, RectangleLayer):
            label = _add_rectangle(graph, label, layer, box, plan.fps)
        else:
            label = _add_image(graph, label, layer, box)
    return label


def _to_bt709() -> list[str]:
    """RGB (or JPEG's full-range BT.601) to limited-range BT.709 yuv420p, square pixels."""
    return [
        filter_spec("scale", out_color_matrix="bt709", out_range="tv"),
        filter_spec("format", pix_fmts="yuv420p"),
        filter_spec("setsar", sar=1),
    ]


def _add_background(
    graph: _Graph, background: Background, frames: int, plan: CompositionPlan, *, skip: int, count: int
) -> str:
    """`count` frames of a background that lasts `frames`, starting at its frame `skip`."""
    width, height, fps = plan.width, plan.height, plan.fps
    if isinstance(background, ColorBackground):
        # One RGB frame, converted to YUV once (in our scale, with BT.709), then repeated.
        generate = [
            filter_spec("color", c=f"0x{background.color[1:]}", s=f"{width}x{height}", r=fps),
            filter_spec("trim", end_frame=1),
            filter_spec("format", pix_fmts="rgb24"),
        ]
        repeat = filter_spec("loop", loop=count - 1, size=1)
        return graph.add([], [*generate, *_to_bt709(), repeat], "bg")
    if isinstance(background, GradientBackground):
        # Same as a colour: one RGB frame of ffmpeg's `gradients` (linear, from point 0 to point 1,
        # not rotating: speed 0), converted once, repeated.
        right, bottom = width - 1, height - 1
        points = {180: (0, 0, 0, bottom), 0: (0, bottom, 0, 0), 90: (0, 0, right, 0), 270: (right, 0, 0, 0)}
        x0, y0, x1, y1 = points[background.angle]
        generate = [
            filter_spec(
                "gradients",
                s=f"{width}x{height}",
                r=fps,
                c0=f"0x{background.start[1:]}",
                c1=f"0x{background.end[1:]}",
                x0=x0,
                y0=y0,
                x1=x1,
                y1=y1,
                n=2,
                type="linear",
                speed=0,
            ),
            filter_spec("trim", end_frame=1),
            filter_spec("format", pix_fmts="rgb24"),
        ]
        repeat = filter_spec("loop", loop=count - 1, size=1)
        return graph.add([], [*generate, *_to_bt709(), repeat], "bg")
    if isinstance(background, VideoBackground):
        return _add_clip(graph, background, frames, plan, skip=skip, count=count)

    # An image: decoded once, scaled to cover the frame and centre-cropped, repeated for every frame,
    # then moved. The motion is a `perspective` warp with an axis-aligned source rectangle: it
    # samples at fractional positions, so zoom and pan glide. (zoompan crops at whole pixels, which
    # steps visibly; hiding that needs a supersampled source and cost twice the CPU: 2.1 s against
    # 1.2 s per 90 frames of 1080x1920 on this 2-core machine.)
    # -framerate: the single frame lasts one output frame, so `loop` stamps copies 1/fps apart and
    # the stream's rate matches the colour scenes' (xfade insists).
    source = graph.add_input(background.path, "v", "-framerate", str(fps))
    filters = [*_cover(width, height), filter_spec("loop", loop=count - 1, size=1)]
    if background.motion != "none":
        filters.append(_motion(background.motion, frames, skip))
    return graph.add([source], filters, "bg")


def _cover(width: int, height: int) -> list[str]:
    """Scale a picture or clip to cover the frame (aspect kept), centre-crop it, in BT.709 yuv420p."""
    return [
        filter_spec(
            "scale",
            w=width,
            h=height,
            force_original_aspect_ratio="increase",
            flags="lanczos",
            out_color_matrix="bt709",
            out_range="tv",
        ),
        filter_spec("crop", w=width, h=height),
        filter_spec("format", pix_fmts="yuv420p"),
        filter_spec("setsar", sar=1),
    ]


def _add_clip(
    graph: _Graph, background: VideoBackground, frames: int, plan: CompositionPlan, *, skip: int, count: int
) -> str:
    """`count` frames of a clip background lasting `frames`, from its frame `skip`.

    The demuxer loops the file for ever (`-stream_loop -1`); its frames are renumbered at the clip's
    own rate (N / fps, so the loops run on without a gap whatever the container's timestamps say),
    `fps` resamples to the output's rate (each output frame shows the clip frame on screen at its
    time, frame starts rounded to the nearest output frame: an 8 fps clip shows each frame for three
    24 fps frames, a 30 fps output of a 16 fps clip repeats about every other one; no interpolation),
    and `trim` keeps this part's frames. Frame k of the scene is therefore
    the same in a full render and in any segment that starts `skip` frames in. Then, as a still:
    covered, cropped, moved.
    """
    width, height = plan.width, plan.height
    source = graph.add_input(background.path, "v", "-stream_loop", "-1")
    filters = [
        filter_spec("settb", expr=f"1/{background.fps}"),
        filter_spec("setpts", expr="N"),
        filter_spec("fps", fps=plan.fps),
        filter_spec("trim", start_frame=skip, end_frame=skip + count),
        filter_spec("setpts", expr="PTS-STARTPTS"),
        *_cover(width, height),
    ]
    if background.motion != "none":
        filters.append(_motion(background.motion, frames, skip))
    return graph.add([source], filters, "bg")


def _motion(motion: Motion, frames: int, skip: int = 0) -> str:
    """A perspective filter showing, in frame n of `frames`, the source rectangle of the motion.

    perspective counts output frames from 1 (`on` is 1 on the first frame), so progress is
    (on-1+skip)/(frames-1): exactly 0 on the scene's first frame and 1 on its last, also when a
    segment starts `skip` frames into the scene.
    """
    progress = f"(on-1+{skip})/{frames - 1}" if frames > 1 else "0"
    zoom = {
        "zoom_in": f"(1+{MOTION_ZOOM}*{progress})",
        "zoom_out": f"(1+{MOTION_ZOOM}*(1-{progress}))",
    }.get(motion, f"{1 + MOTION_ZOOM}")
    width, height = f"(W/{zoom})", f"(H/{zoom})"
    left = {
        "pan_right": f"((W-{width})*{progress})",  # the view travels from the left edge to the right
        "pan_left": f"((W-{width})*(1-{progress}))",
    }.get(motion, f"((W-{width})/2)")
    top = f"((H-{height})/2)"
    right, bottom = f"({left}+{width})", f"({top}+{height})"
    return filter_spec(
        "perspective",
        x0=left, y0=top, x1=right, y1=top, x2=left, y2=bottom, x3=right, y3=bottom,
        interpolation="linear",  # cubic costs twice as much (2.3 s against 1.2 s per 90 frames)
        eval="frame",
    )  # fmt: skip


def _pixel_box(box: tuple[float, float, float, float], width: int, height: int) -> PixelBox:
    """A fractional box in whole frame pixels, rounded at its edges and kept inside the frame."""
    x, y, w, h = box
    left, top = min(round(x * width), width), min(round(y * height), height)
    right, bottom = min(round((x + w) * width), width), min(round((y + h) * height), height)
    return PixelBox(left, top, right - left, bottom - top)


def _add_text(
    graph: _Graph,
    label: str,
    layer: TextLayer,
    box: PixelBox,
    frame_h: int,
    text_dir: Path,
    *,
    fps: int,
    start: int = 0,
) -> str:
    """One drawtext per wrapped line, each reading its line from its own file (never the graph).

    Outline, shadow and pill reach past the glyphs, so the text is fitted into the box shrunk by
    what they add on each side; the animation only ever draws inside the final layout's extent.
    `start`: the value of drawtext's frame counter `n` on the scene's first own frame.
    """
    high, low = STYLE_SIZES[layer.style] if layer.style else (MAX_FONT_FRACTION, MIN_FONT_FRACTION)
    min_size = max(1, round(frame_h * low))
    max_size = max(min_size, round(frame_h * high))
    outline = round(layer.outline.width * frame_h) if layer.outline else 0
    pad = round(layer.pill.padding * frame_h) if layer.pill else 0
    dx, dy = (round(v * frame_h) for v in layer.shadow.offset) if layer.shadow else (0, 0)
    around = max(outline, pad)
    left, right = around + max(0, -dx), around + max(0, dx)
    top, bottom = around + max(0, -dy), around + max(0, dy)
    inner = PixelBox(box.x + left, box.y + top, box.w - left - right, box.h - top - bottom)
    if inner.w <= 0 or inner.h <= 0:
        return label
    # The brand font, or a fallback that has the text's characters (fonts.py): never tofu.
    font_path = font_for(layer.text, layer.font_path)
    try:
        fitted = fit_text(layer.text, inner.w, inner.h, font_path, max_size=max_size, min_size=min_size)
    except OSError as exc:  # Pillow could not read the font
        raise PlanError(f"{font_path}: not a usable font ({exc})") from exc
    text_dir.mkdir(parents=True, exist_ok=True)
    positions = place_lines(fitted, inner, layer.align)
    decoration: dict[str, str | int | float] = {}
    if layer.outline and outline:
        decoration |= {"borderw": outline, "bordercolor": f"0x{layer.outline.color[1:]}"}
    if layer.shadow and (dx or dy):
        decoration |= {"shadowx": dx, "shadowy": dy, "shadowcolor": f"0x{layer.shadow.color[1:]}"}
    if layer.pill:
        decoration |= {"box": 1, "boxcolor": f"0x{layer.pill.color[1:]}", "boxborderw": pad}
    # Entrance: progress 0..1 over the scene's first ANIMATION_S, from our own numbers only.
    frames = max(1, round(ANIMATION_S * fps))
    progress = f"clip((n-({start}))/{frames},0,1)"
    slide = 0
    if layer.animation == "slide_up" and positions:
        # Never further than the free space under the block, so the rising text stays in its box.
        free = inner.y + inner.h - SAFETY_PX - (positions[0][1] + fitted.bottom)
        slide = max(0, min(round(frame_h * SLIDE_FRACTION), free))
    scale = f"({POP_FROM}+{1 - POP_FROM}*{progress})"
    filters = []
    for index, (line, (x, y), (ink_left, ink_right)) in enumerate(
        zip(fitted.lines, positions, fitted.extents, strict=True)
    ):
        if not line.strip():
            continue
        text_file = text_dir / f"line{index}.txt"
        text_file.write_text(line, encoding="utf-8")
        x_expr: str | int = x
        y_expr: str | int = y
        size: str | int = fitted.font_size
        animated: dict[str, str | int | float] = {}
        if layer.animation != "none":
            animated["alpha"] = progress
        if slide:
            y_expr = f"{y}+{slide}*(1-{progress})*(1-{progress})"  # ease-out: fast, then settling
        if layer.animation == "pop":
            # Grows about the line's centre, so every smaller size lies inside the final extent.
            size = f"{fitted.font_size}*{scale}"
            x_expr = f"{x}+{(ink_left + ink_right) / 2}*(1-{scale})"
            y_expr = f"{y}+{fitted.line_height / 2}*(1-{scale})"
        filters.append(
            filter_spec(
                "drawtext",
                fontfile=str(font_path),
                textfile=str(text_file),
                expansion="none",  # no %{...} expansion: the file's text is drawn as it is
                text_shaping=1,  # HarfBuzz shaping and FriBiDi ordering (Arabic, Hebrew, ...)
                fontsize=size,
                fontcolor=f"0x{layer.color[1:]}",
                x=x_expr,
                y=y_expr,
                y_align="font",  # y is the ascender line, as fit_text measured
                **decoration,
                **animated,
            )
        )
    return graph.add([label], filters, "text") if filters else label


def _add_rectangle(graph: _Graph, label: str, layer: RectangleLayer, box: PixelBox, fps: int) -> str:
    """A filled rectangle on even pixels inside its box (overlay on yuv420 floors x and y to even),
    corners rounded by an anti-aliased alpha mask computed once, on a single frame."""
    left, top = box.x + box.x % 2, box.y + box.y % 2
    width, height = ((box.x + box.w) & ~1) - left, ((box.y + box.h) & ~1) - top
    if width < 2 or height < 2:
        return label
    filters = [
        filter_spec("color", c=f"0x{layer.color[1:]}", s=f"{width}x{height}", r=fps),
        filter_spec("trim", end_frame=1),
        filter_spec("format", pix_fmts="rgba"),
    ]
    radius = round(layer.radius * min(width, height))
    if radius > 0:
        # Distance of a pixel centre past the inner rectangle the corners are drawn around; alpha
        # falls from 1 to 0 over the one pixel where that distance crosses the radius.
        dx = f"max(max({radius}-X-0.5,X+0.5-{width - radius}),0)"
        dy = f"max(max({radius}-Y-0.5,Y+0.5-{height - radius}),0)"
        alpha = f"255*clip({radius}+0.5-hypot({dx},{dy}),0,1)"
        filters.append(filter_spec("geq", r="r(X,Y)", g="g(X,Y)", b="b(X,Y)", a=alpha))
    filters += [
        filter_spec("scale", out_color_matrix="bt709", out_range="tv"),
        filter_spec("format", pix_fmts="yuva420p"),
    ]
    shape = graph.add([], filters, "rect")
    # A one-frame overlay input is repeated to the end (overlay's eof_action=repeat).
    return graph.add([label, shape], [filter_spec("overlay", x=left, y=top, format="yuv420")], "layer")


def _add_image(graph: _Graph, label: str, layer: ImageLayer, box: PixelBox) -> str:
    """A logo scaled to fit inside its box, centred, alpha kept, laid over `label`."""
    media = graph.media[layer.path]
    if not (media.width and media.height):  # IMAGE_INPUTS demands a video stream: never here
        raise ComposeError(f"{layer.path}: image without a size")
    placement = _fit_inside(media.width, media.height, box)
    if placement is None:
        return label
    width, height, x, y = placement
    logo = graph.add(
        [graph.add_input(layer.path, "v")],
        [
            filter_spec(
                "scale", w=width, h=height, flags="lanczos", out_color_matrix="bt709", out_range="tv"
            ),
            filter_spec("format", pix_fmts="yuva420p"),
        ],
        "logo",
    )
    return graph.add([label, logo], [filter_spec("overlay", x=x, y=y, format="yuv420")], "layer")


def _fit_inside(src_w: int, src_h: int, box: PixelBox) -> tuple[int, int, int, int] | None:
    """Size and position of an image fitted inside `box`, on even pixels (None: box too small).

    overlay on yuv420 floors x and y to even pixels, so the box is first shrunk to even edges and
    the image given even sizes; then no rounding can move it past the box.
    """
    left, top = box.x + box.x % 2, box.y + box.y % 2
    right, bottom = (box.x + box.w) & ~1, (box.y + box.h) & ~1
    inner_w, inner_h = right - left, bottom - top
    if inner_w < 2 or inner_h < 2:
        return None
    scale = min(inner_w / src_w, inner_h / src_h)
    width = max(2, math.floor(src_w * scale) & ~1)
    height = max(2, math.floor(src_h * scale) & ~1)
    x = left + ((inner_w - width) // 2 & ~1)
    y = top + ((inner_h - height) // 2 & ~1)
    return width, height, x, y


def _seconds(frames: int, fps: int) -> str:
    # Microseconds: the unit ffmpeg parses durations into; rescaled to 1/fps it rounds to the frame.
    return f"{frames / fps:.6f}"


def _add_audio(graph: _Graph, audio: Audio, total_frames: int, fps: int, settings: EncodeSettings) -> str:
    rate = settings.audio_sample_rate
    total_s = total_frames / fps
    # Each fade at most half the video, so the two never overlap.
    fade_in, fade_out = min(audio.fade_in, total_s / 2), min(audio.fade_out, total_s / 2)
    fades = []
    if fade_in > 0:
        fades.append(filter_spec("afade", t="in", st=0, d=f"{fade_in:.6f}"))
    if fade_out > 0:
        fades.append(filter_spec("afade", t="out", st=f"{total_s - fade_out:.6f}", d=f"{fade_out:.6f}"))
    # -stream_loop -1 repeats a short track for ever; atrim then cuts it at the video's last sample.
    source = graph.add_input(audio.path, "a:0", "-stream_loop", "-1")
    # Mono goes to both ears at full level (the default upmix puts it at -3 dB, as a centre channel).
    upmix = [filter_spec("pan", args="stereo|c0=c0|c1=c0")] if graph.media[audio.path].channels == 1 else []
    filters = [
        *upmix,
        filter_spec("aformat", sample_fmts="fltp", sample_rates=rate, channel_layouts="stereo"),
        # Time from the sample count: an MP3's encoder delay starts it at +25 ms, and each loop
        # restarts its timestamps; counted samples start at 0 and run on without gaps.
        filter_spec("asetpts", expr="N/SR/TB"),
        filter_spec("atrim", end_sample=round(total_frames * rate / fps)),
        filter_spec("volume", volume=audio.volume),
        *fades,
    ]
    return graph.add([source], filters, "audio")
