"""A video model's frames as an H.264 MP4: how a generated clip is stored, and read back as a background.

The frames (RGB, as the engine returns them) go to ffmpeg as one raw file, so nothing is compressed twice:
converted to limited-range BT.709 yuv420p (the matrix every output uses, and what the compositor's `scale`
reads back from the stream's tags), encoded near-losslessly, at the model's frame rate, one output frame
per input frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PIL import Image

from render.compose.ffmpeg import ComposeError, filter_spec, input_args, run_ffmpeg_into
from render.compose.plan import VideoInfo
from render.compose.probe import CLIP_INPUTS, UPLOADED_VIDEO_INPUTS, check_media_input, probe

# x264's CRF 17: "visually lossless or nearly so" (https://trac.ffmpeg.org/wiki/Encode/H.264). The clip is
# an intermediate that the compositor scales up and encodes again, so it is kept a notch above 18.
CLIP_CRF = 17
# `medium`, x264's default preset: a clip is encoded once and read by every render that uses it.
CLIP_PRESET = "medium"
# 60 s to start, plus 1 s a frame: Wan's 81 frames of 832x480 take 1.2 CPU-s (smooth moving gradients)
# to 7.6 CPU-s (pure noise, the worst case) at `medium`, measured on this 2-core machine; the margin
# covers a machine loaded many times over.
CLIP_TIMEOUT_BASE_S = 60.0
CLIP_TIMEOUT_PER_FRAME_S = 1.0


def _clip_output_args(partial: Path) -> list[str]:
    """The encoder and tags every stored clip gets (generated or brand footage): near-lossless H.264, BT.709
    limited range like the outputs, no metadata carried over, `faststart`, written to `partial`."""
    return [
        "-c:v", "libx264",
        "-preset", CLIP_PRESET,
        "-crf", str(CLIP_CRF),
        "-pix_fmt", "yuv420p",
        "-colorspace", "bt709",
        "-color_primaries", "bt709",
        "-color_trc", "bt709",
        "-color_range", "tv",
        "-map_metadata", "-1",
        "-movflags", "+faststart",
        "-f", "mp4",
        str(partial),
    ]  # fmt: skip


def encode_clip(frames: Sequence[Image.Image], *, fps: int, out_path: Path, workdir: Path) -> VideoInfo:
    """Write `frames` (same size, even sides) as an H.264 MP4 of `len(frames)` frames at `fps`; return what
    the file is. `workdir` receives the raw frames; the caller owns it. Raises ComposeError."""
    # 1. Check the frames: one size, even sides (yuv420p halves chroma both ways), a usable rate
    if not frames:
        raise ComposeError("a clip needs at least one frame")
    width, height = frames[0].size
    if width % 2 or height % 2 or width <= 0 or height <= 0:
        raise ComposeError(f"clip frames must have even sides, got {width}x{height}")
    if any(frame.size != (width, height) for frame in frames):
        raise ComposeError(f"clip frames differ in size: {sorted({frame.size for frame in frames})}")
    if not 0 < fps <= 120:
        raise ComposeError(f"clip frame rate must be 1..120, got {fps}")

    # 2. The frames as one raw RGB file
    workdir.mkdir(parents=True, exist_ok=True)
    raw = workdir / "frames.rgb"
    with raw.open("wb") as handle:
        for frame in frames:
            handle.write(frame.convert("RGB").tobytes())

    # 3. Encode, and move the finished file into place
    partial = out_path.with_name(f".{out_path.name}.partial")
    args = [
        *input_args(
            raw,
            options=["-f", "rawvideo", "-pix_fmt", "rgb24", "-video_size", f"{width}x{height}",
                     "-framerate", str(fps)],
        ),
        "-vf", ",".join([
            filter_spec("scale", out_color_matrix="bt709", out_range="tv"),
            filter_spec("format", pix_fmts="yuv420p"),
        ]),
        *_clip_output_args(partial),
    ]  # fmt: skip
    timeout = CLIP_TIMEOUT_BASE_S + CLIP_TIMEOUT_PER_FRAME_S * len(frames)
    run_ffmpeg_into(args, partial=partial, out_path=out_path, timeout=timeout)
    raw.unlink()

    # 4. The file must read back as the clip input the compositor accepts
    check_media_input(out_path, allowed_formats=CLIP_INPUTS)
    return probe(out_path)


# Brand footage is transcoded to at most 1920 px on its longer side (the largest side an ad is usually made
# at; bigger frames only cost decode time) and to 30 fps (the outputs' usual rate).
BRAND_CLIP_MAX_SIDE = 1920
BRAND_CLIP_FPS = 30
# 60 s to start plus 2 s per second of footage (at most 60 s of it, core.assets): 1080p H.264 `medium` runs
# at about real time on one core of this machine.
BRAND_CLIP_TIMEOUT_PER_S = 2.0


def transcode_clip(src: Path, *, out_path: Path, duration: float) -> VideoInfo:
    """Uploaded footage (MP4/MOV/WebM) as the compositor's clip intermediate: H.264 MP4, BT.709 limited
    range, yuv420p, even sides at most BRAND_CLIP_MAX_SIDE, BRAND_CLIP_FPS, no audio, exactly
    as generated clips are stored, so it is read back through CLIP_INPUTS like one. Raises ComposeError."""
    media = check_media_input(src, allowed_formats=UPLOADED_VIDEO_INPUTS)
    partial = out_path.with_name(f".{out_path.name}.partial")
    side = BRAND_CLIP_MAX_SIDE
    args = [
        *input_args(src, options=["-f", media.demuxer]),
        "-map", "0:v:0",
        "-an",
        "-vf", ",".join([
            # Fit inside side x side keeping the aspect, even sides.
            filter_spec("scale", w=f"trunc(iw*min(1,{side}/max(iw,ih))/2)*2", h="-2",
                        out_color_matrix="bt709", out_range="tv", flags="lanczos"),
            # One rate for every footage: the compositor resamples clips to the output's rate anyway.
            filter_spec("fps", fps=BRAND_CLIP_FPS),
            filter_spec("format", pix_fmts="yuv420p"),
        ]),
        *_clip_output_args(partial),
    ]  # fmt: skip
    timeout = CLIP_TIMEOUT_BASE_S + BRAND_CLIP_TIMEOUT_PER_S * max(duration, 1.0)
    run_ffmpeg_into(args, partial=partial, out_path=out_path, timeout=timeout)
    return probe(out_path)
