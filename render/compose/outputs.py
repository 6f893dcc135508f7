"""What goes beside each MP4: a JPEG poster, an animated GIF preview small enough for an email, and WebVTT
captions of the ad's text.

At the cost of one pass: the poster and the GIF's frames are extra outputs ("taps") of the ffmpeg run that
renders the frames anyway (`compose_args(taps=...)`), split off before the encoder, so nothing decodes the
finished MP4 again at full size. A tap keeps only the frames it needs: one for the poster (a JPEG), the
previewed frames scaled to the GIF's size for the GIF (lossless Ut Video, a few MB). The GIF is then made
in one small run over those frames, with a palette computed from exactly the frames it shows (palettegen,
then paletteuse: a generic 256-colour palette bands photos badly). Segments taken from the cache bring
their taps from the cache (`segments.compose_segmented`); `poster_from_video` and `gif_part_from_video`
make them from a cached segment that has none yet, once per segment.

The GIF's size, rate and colours are chosen before it is made, from the preview's length and the frame's
shape (`gif_settings`), so that one run lands under `GIF_MAX_BYTES`; there is no second try. Content far
busier than any ad (full-frame noise) would not fit at that size: its GIF is cut after the last whole frame
that fits (`gif_truncate`), so it is always under the limit and shows fewer frames.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from render.compose.ffmpeg import ComposeError, chain, filter_spec, input_args, run_ffmpeg
from render.compose.graph import FilterGraph
from render.compose.plan import CompositionPlan, SpokenWord, TextLayer, Voice
from render.compose.probe import probe
from render.compose.timing import scene_timings

# 1 MB: what email clients and ESPs accept inline without clipping (Gmail clips messages over
# 102 KB of HTML, but images are fetched apart; Mailchimp's own limit for GIFs is 1 MB).
GIF_MAX_BYTES = 1_000_000
GIF_MAX_SECONDS = 4.0  # a preview: the ad's first seconds, enough to show motion and the greeting
# 320 px: a typical email column's image width at 1x. Never wider.
GIF_MAX_WIDTH = 320
# What a GIF is sized for: 80 % of the limit, the rest is margin for content busier than measured.
GIF_TARGET_BYTES = 800_000
# Bytes per shown pixel of a 128-colour Bayer-dithered GIF of an ad: 0.22-0.26 measured on
# benchmarks/compose.py's ad (grainy photos under zoom and pan, the busiest content an ad template makes)
# at 160-320 px and 6-10 fps; 0.27 is the upper end with a little margin.
GIF_BYTES_PER_PIXEL = 0.27
GIF_MAX_COLORS = 128  # half of GIF's 256: ~30 % smaller files, no visible banding at preview size
# 10 fps moves smoothly enough for a preview; a preview longer than 2 s runs at 8 fps and spends the
# bytes on a larger picture instead.
GIF_FPS_SHORT, GIF_FPS_LONG, GIF_SHORT_SECONDS = 10, 8, 2.0
GIF_TIMEOUT_S = 120.0
POSTER_AT_SECONDS = 1.0  # the poster is the frame 1 s in (or half-way through a shorter ad)
POSTER_TIMEOUT_S = 60.0


@dataclass(frozen=True, slots=True)
class GifSettings:
    """The GIF of output frames 0..end-1: every frame at or after each tick of `fps`, at width x height."""

    source_fps: int
    end: int
    fps: int
    width: int
    height: int
    max_colors: int = GIF_MAX_COLORS

    def shows(self, frame: int) -> bool:
        """Frame `frame` is the first at or after a tick of the GIF's clock (n * fps mod source < fps)."""
        return 0 <= frame < self.end and (frame * self.fps) % self.source_fps < self.fps

    @property
    def frames(self) -> int:
        return sum(self.shows(frame) for frame in range(self.end))

    def select(self, first: int) -> str:
        """The `select` filter keeping the shown frames of a run whose frame n is output frame first + n."""
        frame = f"(n+{first})"
        return filter_spec(
            "select", expr=f"lt(mod({frame}*{self.fps},{self.source_fps}),{self.fps})*lt({frame},{self.end})"
        )

    def scale(self) -> str:
        return filter_spec("scale", w=self.width, h=self.height, flags="lanczos")


def gif_settings(*, width: int, height: int, fps: int, frames: int) -> GifSettings:
    """Size, rate and colours for the GIF of a video of `frames` frames at `fps`, chosen up front so that
    one run fits: its shown pixels times GIF_BYTES_PER_PIXEL make GIF_TARGET_BYTES."""
    end = min(frames, round(GIF_MAX_SECONDS * fps))
    gif_fps = min(fps, GIF_FPS_SHORT if end <= GIF_SHORT_SECONDS * fps else GIF_FPS_LONG)
    shown = GifSettings(fps, end, gif_fps, 2, 2).frames
    pixels = GIF_TARGET_BYTES / GIF_BYTES_PER_PIXEL / max(shown, 1)
    # Even sides (yuv420p), the frame's aspect kept.
    gif_width = max(2, min(GIF_MAX_WIDTH, width, int(math.sqrt(pixels * width / height)) // 2 * 2))
    gif_height = max(2, round(gif_width * height / width / 2) * 2)
    return GifSettings(fps, end, gif_fps, gif_width, gif_height)


def plan_gif_settings(plan: CompositionPlan) -> GifSettings:
    frames = sum(timing.frames for timing in scene_timings(plan))
    return gif_settings(width=plan.width, height=plan.height, fps=plan.fps, frames=frames)


def poster_frame(plan: CompositionPlan) -> int:
    """The poster's output frame: the first frame shown at POSTER_AT_SECONDS (or half-way through)."""
    frames = sum(timing.frames for timing in scene_timings(plan))
    at_seconds = min(POSTER_AT_SECONDS, plan.duration / 2)
    return min(frames - 1, math.ceil(round(at_seconds * plan.fps, 6)))


@dataclass(frozen=True, slots=True)
class Taps:
    """Extra outputs of one ffmpeg run, taken from the frames it renders before they are encoded:
    `poster` = (output frame, JPEG path); `gif` = (settings, path of the shown frames as Ut Video)."""

    poster: tuple[int, Path] | None = None
    gif: tuple[GifSettings, Path] | None = None

    def within(self, first: int, end: int) -> Taps:
        """Only the taps that output frames first..end-1 feed."""
        poster = self.poster if self.poster and first <= self.poster[0] < end else None
        gif = self.gif if self.gif and any(self.gif[0].shows(f) for f in range(first, end)) else None
        return Taps(poster, gif)

    def outputs(self) -> list[Path]:
        return [path for path in (self.poster and self.poster[1], self.gif and self.gif[1]) if path]


def add_taps(graph: FilterGraph, video: str, taps: Taps, *, first: int) -> tuple[str, list[str]]:
    """Split `video` (output frames from `first`) into the encoder's stream and one branch per tap.
    Returns the encoder's label and the tap outputs' arguments (each writes `tap_partial(path)`)."""
    branches = _branches(taps, first)
    if not branches:
        return video, []
    labels = [graph.label("tap") for _ in range(len(branches) + 1)]
    graph.chains.append(f"[{video}]split={len(labels)}" + "".join(f"[{label}]" for label in labels))
    return labels[0], _add_branches(graph, labels[1:], branches)


def _branches(taps: Taps, first: int) -> list[tuple[list[str], list[str]]]:
    """(filters, output arguments) per tap."""
    branches = []
    if taps.poster is not None:
        frame, path = taps.poster
        select = filter_spec("select", expr=f"eq(n,{frame - first})")
        branches.append(([select, *_to_jpeg()], _jpeg_args(path)))
    if taps.gif is not None:
        settings, path = taps.gif
        branches.append(([settings.select(first), settings.scale()], _frames_args(path)))
    return branches


def _add_branches(
    graph: FilterGraph, labels: Sequence[str], branches: Sequence[tuple[list[str], list[str]]]
) -> list[str]:
    args: list[str] = []
    for label, (filters, output) in zip(labels, branches, strict=True):
        out = graph.label("tapout")
        graph.chains.append(chain([label], filters, out))
        args += ["-map", f"[{out}]", *output]
    return args


def tap_partial(path: Path) -> Path:
    return path.with_name(f".{path.name}.partial")


def taps_commit(taps: Taps) -> None:
    """Move each tap's finished output into place (after its run succeeded)."""
    for path in taps.outputs():
        os.replace(tap_partial(path), path)


def taps_discard(taps: Taps) -> None:
    for path in taps.outputs():
        with contextlib.suppress(FileNotFoundError):
            tap_partial(path).unlink()


def _to_jpeg() -> list[str]:
    # The render's limited-range BT.709 to JPEG's full-range BT.601.
    return [
        filter_spec(
            "scale", in_color_matrix="bt709", in_range="tv", out_color_matrix="bt601", out_range="pc"
        ),
        filter_spec("format", pix_fmts="yuvj420p"),
    ]


def _jpeg_args(path: Path) -> list[str]:
    return [
        "-frames:v", "1",
        "-fps_mode", "passthrough",
        "-c:v", "mjpeg",
        "-q:v", "2",  # mjpeg quality, 2 (best) to 31: near-lossless for a poster frame
        "-update", "1",
        "-f", "image2",
        str(tap_partial(path)),
    ]  # fmt: skip


def _frames_args(path: Path) -> list[str]:
    # Only the selected frames, each with its own timestamp (no frame duplicated to a constant rate).
    return ["-fps_mode", "passthrough", "-c:v", "utvideo", "-f", "matroska", str(tap_partial(path))]


def _run_taps(video: Path, taps: Taps, *, first: int, timeout: float) -> None:
    """Decode an encoded video (a cached segment whose frame n is output frame first + n) into `taps`."""
    graph = FilterGraph({})
    graph.inputs.append(input_args(video, options=["-f", "mp4"]))
    args = _add_branches(graph, ["0:v"], _branches(taps, first))
    try:
        run_ffmpeg([*graph.args(), *args], timeout=timeout)
        taps_commit(taps)
    finally:
        taps_discard(taps)


def poster_from_video(video: Path, out_path: Path, *, frame: int) -> None:
    """The JPEG of frame `frame` of an encoded video (a cached segment that has no poster yet)."""
    _run_taps(video, Taps(poster=(frame, out_path)), first=0, timeout=POSTER_TIMEOUT_S)


def gif_part_from_video(video: Path, out_path: Path, *, settings: GifSettings, first: int) -> None:
    """The GIF's frames among an encoded video's, whose frame n is output frame first + n (a cached
    segment that has none yet, or a video made elsewhere)."""
    _run_taps(video, Taps(gif=(settings, out_path)), first=first, timeout=GIF_TIMEOUT_S)


def gif_from_parts(parts: Sequence[Path], out_path: Path, *, settings: GifSettings) -> int:
    """The GIF of the shown frames in `parts` (in order), with a palette from those frames; returns its
    size in bytes. One run; content too busy for the size chosen up front is cut short (`gif_truncate`)."""
    inputs = [arg for part in parts for arg in input_args(part, options=["-f", "matroska"])]
    joined = "".join(f"[{index}:v]" for index in range(len(parts)))
    graph = ";".join([
        joined + f"concat=n={len(parts)}:v=1:a=0,"
        + ",".join([
            filter_spec("settb", expr=f"1/{settings.fps}"),
            filter_spec("setpts", expr="N"),
            filter_spec("scale", in_color_matrix="bt709", in_range="tv"),
            filter_spec("format", pix_fmts="rgb24"),
            "split",
        ]) + "[a][b]",
        # The palette's statistics at 5 bits per channel (each value at the middle of its step): a 128-colour
        # palette is the same to the eye (PSNR 31.73 against 31.75 dB on benchmarks/compose.py's ad) and
        # palettegen, whose cost grows with the distinct colours (175k in that ad's GIF), runs 3-4x faster.
        # stats_mode=full: every shown pixel counts. (`diff` counts only pixels that changed from the frame
        # before, so a flat backdrop that holds still after it appears gets no colour of its own: #AA4422
        # came out 20 luma levels too bright, tests/compose/test_outputs.py.)
        "[a]" + ",".join([
            filter_spec("lutrgb", **dict.fromkeys("rgb", "bitand(val,248)+4")),
            filter_spec("palettegen", stats_mode="full", max_colors=settings.max_colors),
        ]) + "[palette]",
        # Bayer dithering: ordered, so frames compress better than with error diffusion; rectangle: each
        # frame stores only the box that changed.
        "[b][palette]" + filter_spec("paletteuse", dither="bayer", bayer_scale=3, diff_mode="rectangle")
        + "[gif]",
    ])  # fmt: skip
    partial = out_path.with_name(f".{out_path.name}.partial")
    args = [
        *inputs,
        "-filter_complex", graph,
        "-map", "[gif]",
        "-loop", "0",
        "-f", "gif",
        str(partial),
    ]  # fmt: skip
    try:
        run_ffmpeg(args, timeout=GIF_TIMEOUT_S)
        size = gif_truncate(partial, GIF_MAX_BYTES - 1)
        os.replace(partial, out_path)
        return size
    finally:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()


def gif_truncate(path: Path, max_bytes: int) -> int:
    """Cut a GIF after its last whole frame that keeps it within `max_bytes` (trailer included) and end it
    there; a GIF already within is left alone. Returns the size. Frames are whole image blocks (GIF89a:
    header, logical screen descriptor and global colour table, then extensions and image descriptors each
    followed by data sub-blocks, then the 0x3B trailer), so what remains is a valid, shorter GIF."""
    data = path.read_bytes()
    if len(data) <= max_bytes and data.endswith(b"\x3b"):
        return len(data)
    ends = _gif_frame_ends(data)
    keep = max((end for end in ends if end + 1 <= max_bytes), default=0)
    if not keep:
        raise ComposeError(f"GIF preview's first frame alone is over {max_bytes} bytes")
    path.write_bytes(data[:keep] + b"\x3b")
    return keep + 1


def _gif_frame_ends(data: bytes) -> list[int]:
    """The offset just past each whole image block; parsing stops at the trailer or where data runs out."""

    def table(flags: int) -> int:  # a colour table's bytes, when the flags say there is one
        return 3 * 2 ** ((flags & 7) + 1) if flags & 0x80 else 0

    def sub_blocks(pos: int) -> int:
        while pos < len(data) and data[pos]:
            pos += 1 + data[pos]
        return pos + 1  # past the zero-length terminator

    ends, pos = [], 13 + table(data[10])
    while pos < len(data) and data[pos] != 0x3B:
        if data[pos] == 0x21:  # extension: introducer, label, sub-blocks
            pos = sub_blocks(pos + 2)
        elif data[pos] == 0x2C:  # image descriptor (10 bytes), local table, LZW code size, sub-blocks
            pos = sub_blocks(pos + 10 + table(data[pos + 9]) + 1)
            if pos <= len(data):
                ends.append(pos)
        else:
            raise ComposeError(f"not a GIF block at byte {pos}")
    return ends


def make_gif(video_path: Path, out_path: Path, *, duration: float) -> int:
    """An animated GIF of an encoded video's first seconds under GIF_MAX_BYTES; returns its size in bytes.
    For a video made elsewhere: renders make theirs from the frames they render (`add_taps`)."""
    info = probe(video_path)
    fps = round(info.fps)
    settings = gif_settings(width=info.width, height=info.height, fps=fps, frames=round(duration * fps))
    frames = out_path.with_name(f".{out_path.name}.frames.mkv")
    try:
        gif_part_from_video(video_path, frames, settings=settings, first=0)
        return gif_from_parts([frames], out_path, settings=settings)
    finally:
        frames.unlink(missing_ok=True)


def captions_vtt(plan: CompositionPlan) -> str:
    """WebVTT of the texts each scene draws, one cue per scene at the scene's planned times."""
    lines = ["WEBVTT", ""]
    start = 0
    voices = {voice.scene: voice for voice in plan.voices}
    for index, (scene, timing) in enumerate(zip(plan.scenes, scene_timings(plan), strict=True)):
        end = start + timing.frames
        if index in voices:  # a spoken scene's cues are its words, at the times they are said
            lines += _speech_cues(voices[index], start / plan.fps)
            start = end
            continue
        texts = [" ".join(layer.text.split()) for layer in scene.layers if isinstance(layer, TextLayer)]
        texts = [text for text in texts if text]
        if texts:
            lines += [
                f"{_timestamp(start, plan.fps)} --> {_timestamp(end, plan.fps)}",
                *map(_escape, texts),
                "",
            ]
        start = end
    return "\n".join(lines)


# A cue holds at most this many characters: two lines of the BBC subtitle guidelines' 37 characters.
CUE_MAX_CHARS = 74


def _speech_cues(voice: Voice, offset_s: float) -> list[str]:
    """WebVTT cues of a spoken line: its words in runs of at most CUE_MAX_CHARS, each cue from its first
    word's start to its last word's end (the synthesizer's timings, shifted to the scene's start)."""
    groups: list[list[SpokenWord]] = []
    for word in voice.words:
        if groups and len(" ".join(w.word for w in groups[-1])) + 1 + len(word.word) <= CUE_MAX_CHARS:
            groups[-1].append(word)
        else:
            groups.append([word])
    lines: list[str] = []
    for group in groups:
        begin, finish = offset_s + group[0].start, offset_s + group[-1].end
        lines += [f"{_seconds(begin)} --> {_seconds(finish)}", _escape(" ".join(w.word for w in group)), ""]
    return lines


def _seconds(value: float) -> str:
    millis = round(value * 1000)
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}.{millis:03d}"


def _timestamp(frame: int, fps: int) -> str:
    millis = round(frame * 1000 / fps)
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}.{millis:03d}"


def _escape(text: str) -> str:
    # WebVTT cue text: & and < start entities and tags; > too, so no "-->" survives (W3C WebVTT 4.2.2).
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
