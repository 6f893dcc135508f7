"""Encoding: every codec parameter of an output, the container metadata, and how long ffmpeg is given.

One frozen `EncodeSettings` holds them, so a scene (or a run of scenes, `segments.py`) encoded as its own
segment has codec parameters identical to the others' and segments join with `-c copy`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

# ffmpeg is given this long: 60 s to start and read inputs plus 20x the video's length. Measured
# (benchmarks/compose.py, 1080x1920 at veryfast on this shared 2-core machine): ~14 CPU-seconds
# per 15 s video, so about 1x realtime; 20x leaves room for a machine loaded many times over.
TIMEOUT_BASE_S = 60.0
TIMEOUT_PER_VIDEO_S = 20.0


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


def metadata_args(metadata: Iterable[tuple[str, str]]) -> list[str]:
    """`-metadata key=value` for each pair (keys checked by `validate.check_plan`)."""
    return [arg for key, value in metadata for arg in ("-metadata", f"{key}={value}")]
