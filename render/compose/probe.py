"""Reading media with PyAV (the image ships no ffprobe).

- `check_media_input`: the gate every image, clip and music file passes before ffmpeg sees it.
- `probe`: what an encoded video is (what the render reports, what the tests assert).
- `decode_frame`: one frame as a Pillow image, for tests and checks.

Files are handed to PyAV as nameless readers, never as strings: libavformat then reads bytes and
cannot interpret a path as a URL or a protocol, and picks a demuxer from the content alone (given a
name, it would pick the `image2` demuxer by extension).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import BinaryIO, Literal

import av
import av.container
from PIL import Image

from render.compose.ffmpeg import ComposeError
from render.compose.plan import VideoInfo


class UnsupportedMediaError(ComposeError):
    """An input file is not one of the formats the compositor accepts."""


@dataclass(frozen=True, slots=True)
class MediaAllowlist:
    """What an input may be: demuxers (libavformat names) and codecs (canonical codec names)."""

    kind: Literal["video", "audio"]  # the stream the file must have; an image is one video frame
    demuxers: frozenset[str]
    codecs: frozenset[str]
    max_pixels: int | None = None


IMAGE_INPUTS = MediaAllowlist(
    kind="video",
    demuxers=frozenset({"png_pipe", "jpeg_pipe"}),
    codecs=frozenset({"png", "mjpeg"}),
    # Pillow's decompression-bomb limit (PIL.Image.MAX_IMAGE_PIXELS): ffmpeg refuses what Pillow would.
    max_pixels=89_478_485,
)
AUDIO_INPUTS = MediaAllowlist(
    kind="audio",
    # "mov" is the MP4/M4A demuxer; the codec list keeps video-in-MP4 out.
    demuxers=frozenset({"mp3", "aac", "wav", "ogg", "flac", "mov"}),
    codecs=frozenset(
        {"mp3", "aac", "vorbis", "opus", "flac", "pcm_s16le", "pcm_s24le", "pcm_s32le", "pcm_f32le"}
    ),
)

# Generated clips (render.services stores a video model's frames as H.264 MP4): read back from shared
# storage, so checked like any input. Same pixel cap as pictures.
CLIP_INPUTS = MediaAllowlist(
    kind="video", demuxers=frozenset({"mov"}), codecs=frozenset({"h264"}), max_pixels=89_478_485
)
# Brand footage as uploaded (core.assets checked it first): MP4/MOV or WebM, read once to transcode it into
# a clip (clips.transcode_clip); the compositor reads only the transcoded copy.
UPLOADED_VIDEO_INPUTS = MediaAllowlist(
    kind="video",
    demuxers=frozenset({"mov", "matroska"}),
    codecs=frozenset({"h264", "hevc", "vp8", "vp9", "av1"}),
    max_pixels=4096 * 4096,
)

# The compositor's own intermediates (a moving background rendered once, see segments.py): Ut Video
# in Matroska, lossless, and about 4x cheaper to decode than the motion is to compute. They come back
# from shared storage, so they pass the same gate as any other input.
INTERMEDIATE_INPUTS = MediaAllowlist(
    kind="video", demuxers=frozenset({"matroska"}), codecs=frozenset({"utvideo"})
)


@dataclass(frozen=True, slots=True)
class MediaInput:
    """A checked input, and what ffmpeg needs to read it as exactly that."""

    path: Path
    demuxer: str  # for ffmpeg's `-f`, so ffmpeg cannot pick a different demuxer than the one checked
    codec: str
    width: int | None = None
    height: int | None = None
    channels: int | None = None


def check_media_input(path: Path, *, allowed_formats: MediaAllowlist) -> MediaInput:
    """Probe `path` and refuse anything outside `allowed_formats`, before ffmpeg opens it.

    The demuxer allowlist is enforced by libavformat itself (`format_whitelist`), so a file of any
    other format is refused while probing, not after. Attached pictures (cover art in a music file)
    are ignored: the compositor never maps them.
    """
    if not path.is_file():
        raise UnsupportedMediaError(f"{path}: not a file")
    options = {"format_whitelist": ",".join(sorted(allowed_formats.demuxers))}
    try:
        with _open(path, container_options=options) as container:
            streams = [s for s in container.streams if not s.disposition & av.stream.Disposition.attached_pic]
            wanted = [s for s in streams if s.type == allowed_formats.kind]
            if not wanted:
                raise UnsupportedMediaError(f"{path}: no {allowed_formats.kind} stream")
            codecs = {s.codec.canonical_name for s in streams}
            if not codecs <= allowed_formats.codecs:
                raise UnsupportedMediaError(
                    f"{path}: codec {sorted(codecs - allowed_formats.codecs)} not allowed"
                )
            demuxer = container.format.name.split(",")[0]
            stream = wanted[0]
            width = height = channels = None
            if isinstance(stream, av.VideoStream):
                width, height = stream.codec_context.width, stream.codec_context.height
            if isinstance(stream, av.AudioStream):
                channels = stream.codec_context.channels
    except av.FFmpegError as exc:
        raise UnsupportedMediaError(f"{path}: not an allowed {allowed_formats.kind} file ({exc})") from exc
    cap = allowed_formats.max_pixels
    if cap is not None and width is not None and height is not None and width * height > cap:
        raise UnsupportedMediaError(f"{path}: {width}x{height} is over the {cap} pixel limit")
    return MediaInput(
        path=path,
        demuxer=demuxer,
        codec=stream.codec.canonical_name,
        width=width,
        height=height,
        channels=channels,
    )


def probe(path: Path) -> VideoInfo:
    """Size, frame rate, duration, codecs and audio presence of an encoded video file."""
    with _open(path) as container:
        if not container.streams.video:
            raise ComposeError(f"{path}: no video stream")
        video = container.streams.video[0]
        rate = video.average_rate or video.guessed_rate or Fraction(0)
        if container.duration is not None:
            duration = container.duration / av.time_base
        elif video.duration is not None and video.time_base is not None:
            duration = float(video.duration * video.time_base)
        else:
            duration = 0.0
        audio = container.streams.audio[0] if container.streams.audio else None
        return VideoInfo(
            width=video.codec_context.width,
            height=video.codec_context.height,
            fps=float(rate),
            duration=duration,
            video_codec=video.codec.canonical_name,
            pixel_format=video.codec_context.pix_fmt or "",
            has_audio=audio is not None,
            audio_codec=audio.codec.canonical_name if audio is not None else None,
        )


def decode_frame(path: Path, at_seconds: float) -> Image.Image:
    """The frame nearest `at_seconds` (the last frame past the end), as RGB.

    Colour conversion follows the frame's own colourspace tags (PyAV's reformat default), so a
    BT.709 video decodes to the RGB it was encoded from.
    """
    with _open(path) as container:
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate or Fraction(1)
        half_frame = 0.5 / float(rate)
        # Seek lands on the keyframe at or before the target; decode forward from there.
        container.seek(max(0, int(at_seconds * av.time_base)))
        last = None
        for frame in container.decode(stream):
            if frame.time is not None and frame.time + half_frame > at_seconds:
                return frame.to_image()
            last = frame
        if last is None:
            raise ComposeError(f"{path}: no frame decoded at {at_seconds} s")
        return last.to_image()


@contextmanager
def _open(
    path: Path, *, container_options: dict[str, str] | None = None
) -> Iterator[av.container.InputContainer]:
    with (
        path.open("rb") as file,
        av.open(_Nameless(file), mode="r", container_options=container_options) as c,
    ):
        yield c


class _Nameless:
    """A file's bytes without its name: what PyAV needs to read, nothing to probe by."""

    def __init__(self, file: BinaryIO) -> None:
        self._file = file

    def read(self, size: int = -1) -> bytes:
        return self._file.read(size)

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._file.seek(offset, whence)

    def tell(self) -> int:
        return self._file.tell()
