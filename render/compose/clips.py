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
from render.compose.probe import CLIP_INPUTS, check_media_input, probe

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
    timeout = CLIP_TIMEOUT_BASE_S + CLIP_TIMEOUT_PER_FRAME_S * len(frames)
    run_ffmpeg_into(args, partial=partial, out_path=out_path, timeout=timeout)
    raw.unlink()

    # 4. The file must read back as the clip input the compositor accepts
    check_media_input(out_path, allowed_formats=CLIP_INPUTS)
    return probe(out_path)
