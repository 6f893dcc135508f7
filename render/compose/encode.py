"""Encoding: every codec parameter of an output, the container metadata, and how long ffmpeg is given.

One frozen `EncodeSettings` holds them, so a scene (or a run of scenes, `segments.py`) encoded as its own
segment has codec parameters identical to the others' and segments join with `-c copy`.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from render.compose.ffmpeg import ComposeError, filter_spec, run_ffmpeg

# ffmpeg is given this long: 60 s to start and read inputs plus 20x the video's length. Measured
# (benchmarks/compose.py, 1080x1920 at veryfast on this shared 2-core machine): ~14 CPU-seconds
# per 15 s video, so about 1x realtime; 20x leaves room for a machine loaded many times over.
TIMEOUT_BASE_S = 60.0
TIMEOUT_PER_VIDEO_S = 20.0

# The H.264 encoders a render may use (`REELSMITH_VIDEO_ENCODER`): x264 on CPU, or NVENC on the NVIDIA
# GPUs that carry a video engine (L4, L40S, A10; H100 and H200 have none), docs/performance.md.
VIDEO_ENCODERS = ("libx264", "h264_nvenc")
# NVENC's presets run p1 (fastest) to p7 (best); p4 is NVIDIA's balanced default (NVENC Video Encoder API
# Programming Guide, "Presets"). x264 preset names (`preset`) mean nothing to it.
NVENC_PRESET = "p4"


class EncoderUnavailableError(ComposeError):
    """The configured encoder cannot run here (not built into this ffmpeg, or no device for it)."""


@dataclass(frozen=True, slots=True)
class EncodeSettings:
    """Every codec parameter of an output, in one place: segments encoded separately with the same
    settings have identical SPS/PPS and can be joined by the concat demuxer with `-c copy`."""

    preset: str = "veryfast"
    # Every segment of a render, shared and personal, is encoded by this one encoder: segments from two
    # encoders have different SPS/PPS and cannot be joined by stream copy. Part of the segment hash.
    encoder: str = "libx264"
    # x264's CRF scale runs 0-51, 23 is its default, ~18 is visually lossless and 17-28 is the sane
    # range (https://trac.ffmpeg.org/wiki/Encode/H.264). 21: a notch above default, since platforms
    # re-encode uploads and flat brand colours show banding first.
    crf: int = 21
    # One IDR every 2 s: the keyframe interval platforms ask for (YouTube's upload recommendation is
    # "2 seconds or less"); fixed (no scene-cut keyframes) so segment boundaries can fall on one.
    gop_seconds: int = 2
    audio_bitrate: str = "128k"  # AAC-LC stereo at 128 kb/s: transparent enough for background music
    audio_sample_rate: int = 48_000  # the video world's rate; 48000/fps is whole for 24, 25, 30, 60

    def hash_fields(self) -> dict[str, Any]:
        """What enters a segment's hash. `encoder` is left out when it is the default, so the keys of
        segments encoded before the field existed (all libx264) stay valid."""
        fields = dataclasses.asdict(self)
        if self.encoder == "libx264":
            del fields["encoder"]
        return fields

    def video_args(self, fps: int) -> list[str]:
        if self.encoder == "h264_nvenc":
            return self._nvenc_args(fps)
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

    def _nvenc_args(self, fps: int) -> list[str]:
        """NVENC with the same contract as x264's arguments: constant quality (`-cq`, NVENC's CRF-like
        scale), high profile, yuv420p, a fixed GOP from an IDR at frame 0, no scene-cut keyframes, BT.709."""
        keyint = self.gop_seconds * fps
        return [
            "-c:v", "h264_nvenc",
            "-preset", NVENC_PRESET,
            "-rc", "vbr",
            "-cq", str(self.crf),
            "-b:v", "0",
            "-profile:v", "high",
            "-pix_fmt", "yuv420p",
            "-g", str(keyint),
            "-strict_gop", "1",
            "-no-scenecut", "1",
            "-forced-idr", "1",
            "-colorspace", "bt709",
            "-color_primaries", "bt709",
            "-color_trc", "bt709",
            "-color_range", "tv",
        ]  # fmt: skip

    def audio_args(self) -> list[str]:
        return ["-c:a", "aac", "-b:a", self.audio_bitrate, "-ar", str(self.audio_sample_rate), "-ac", "2"]


@functools.cache
def encoder_check(encoder: str) -> None:
    """Refuse an encoder this ffmpeg cannot run, once per process, before any segment is encoded with it.

    Listing ffmpeg's encoders is not enough: a build may carry h264_nvenc and still have no driver or GPU
    to open it, so one tiny frame is encoded. Raises EncoderUnavailableError naming the encoder and
    ffmpeg's reason."""
    if encoder not in VIDEO_ENCODERS:
        raise EncoderUnavailableError(
            f"unknown video encoder {encoder!r}; one of {', '.join(VIDEO_ENCODERS)}"
        )
    # 256x256: above NVENC's minimum frame size (145x49 on recent GPUs); one frame is enough to open it.
    source = filter_spec("color", c="black", s="256x256", r=30, d=0.1)
    settings = EncodeSettings(encoder=encoder)
    try:
        run_ffmpeg(
            ["-filter_complex", f"{source}[v]", "-map", "[v]", "-frames:v", "1", *settings.video_args(30),
             "-f", "null", "-"],
            timeout=60,
        )  # fmt: skip
    except ComposeError as exc:
        raise EncoderUnavailableError(
            f"REELSMITH_VIDEO_ENCODER={encoder}: this node's ffmpeg cannot encode with it "
            f"({exc.message}); unset it to use libx264",
            stderr_tail=exc.stderr_tail,
        ) from exc


def metadata_args(metadata: Iterable[tuple[str, str]]) -> list[str]:
    """`-metadata key=value` for each pair (keys checked by `validate.check_plan`)."""
    return [arg for key, value in metadata for arg in ("-metadata", f"{key}={value}")]
