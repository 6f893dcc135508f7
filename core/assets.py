"""Checks a brand upload before anything else reads it (docs/reliability.md R14).

Each kind has a type allowlist, a byte cap, and a parse: a logo must decode as PNG or JPEG within a pixel
cap, a font must load as TrueType/OpenType, music must demux as an allowed audio format within a length cap.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from typing import Any

from core.errors import ApplicationError
from core.storage import storage_put_bytes_once

MiB = 1024 * 1024
# Caps: a logo or font over 10 MiB or music over 20 MiB is a mistake, not a brand asset.
# Brand footage: 100 MiB holds a minute of 1080p at ~13 Mbit/s, more than any scene needs (scenes are at
# most 60 s, adspec.limits).
MAX_BYTES = {"logo": 10 * MiB, "image": 10 * MiB, "font": 10 * MiB, "music": 20 * MiB, "video": 100 * MiB}
# A portrait is checked like a brand picture, a voice recording like music (docs/trust.md).
MAX_BYTES |= {"portrait": MAX_BYTES["image"], "voice": MAX_BYTES["music"]}
# Consent evidence: a signed document (PDF, or a scan as PNG/JPEG) or a recorded statement (audio or video);
# the video cap, since a filmed statement is the largest of them.
MAX_BYTES["evidence"] = MAX_BYTES["video"]
MAX_UPLOAD_BYTES = max(MAX_BYTES.values())
# 4096 x 4096: larger than any frame we compose (1920 px), small enough that decoding is cheap.
MAX_LOGO_PIXELS = 4096 * 4096
LOGO_FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg"}
# Music longer than ten minutes would never be used whole by an ad of at most a few minutes.
MAX_MUSIC_SECONDS = 600
MUSIC_FORMATS = {
    "mp3": "audio/mpeg",
    "wav": "audio/wav",
    "ogg": "audio/ogg",
    "flac": "audio/flac",
    "mov,mp4,m4a,3gp,3g2,mj2": "audio/mp4",
}
MUSIC_CODECS = {"mp3", "mp3float", "pcm_s16le", "pcm_s24le", "pcm_f32le", "vorbis", "opus", "flac", "aac"}

TOO_LARGE = "The file is larger than {limit} MiB."
NOT_AN_IMAGE = "The logo must be a PNG or JPEG image."
TOO_MANY_PIXELS = "The logo is larger than 4096x4096 pixels."
NOT_A_FONT = "The font must be a TrueType or OpenType file."
NOT_AUDIO = "The music must be MP3, WAV, OGG, FLAC or AAC/M4A audio."
TOO_LONG = "The music is longer than 10 minutes."
UNKNOWN_KIND = "Unknown asset kind; use logo, image, portrait, font, music, voice or video."
NOT_EVIDENCE = (
    "The evidence must be a signed document (PDF, PNG or JPEG) or a recorded statement (audio, or video of "
    "at most 60 seconds)."
)
# A PDF starts with its version header (ISO 32000-1, 7.5.2); the file is stored and handed back, never parsed.
PDF_MAGIC = b"%PDF-"
NOT_VIDEO = "The video must be MP4, MOV or WebM (H.264, HEVC, VP8, VP9 or AV1)."
VIDEO_TOO_LONG = "The video is longer than 60 seconds."
VIDEO_TOO_LARGE = "The video is larger than 4096x4096 pixels."
# Brand footage: a scene lasts at most 60 s (adspec.limits MAX_SCENE_SECONDS) and a clip background loops.
MAX_VIDEO_SECONDS = 60
# Containers by their first bytes (ffmpeg never guesses): ISO BMFF (MP4/MOV) has `ftyp` at offset 4,
# WebM starts with the EBML magic 1A 45 DF A3. PyAV's demuxer names.
VIDEO_FORMATS = {"mov": "video/mp4", "matroska": "video/webm"}
VIDEO_CODECS = {"h264", "hevc", "vp8", "vp9", "av1"}


@dataclass(frozen=True)
class CheckedAsset:
    kind: str
    content_type: str
    extension: str
    details: dict[str, Any]


@dataclass(frozen=True)
class StoredAsset:
    checked: CheckedAsset
    key: str
    sha256: str


def asset_store(*, folder: str, kind: str, data: bytes) -> StoredAsset:
    """Check an upload (core.assets) and store it under `folder`, content-addressed: the same file uploaded
    twice is stored once."""
    checked = asset_check(kind=kind, data=data)
    digest = hashlib.sha256(data).hexdigest()
    key = f"{folder}/{kind}-{digest[:32]}.{checked.extension}"
    storage_put_bytes_once(key=key, data=data, content_type=checked.content_type)
    return StoredAsset(checked=checked, key=key, sha256=digest)


def asset_check(*, kind: str, data: bytes) -> CheckedAsset:
    if kind not in MAX_BYTES:
        raise ApplicationError(UNKNOWN_KIND, fields={"kind": UNKNOWN_KIND})
    if len(data) > MAX_BYTES[kind]:
        message = TOO_LARGE.format(limit=MAX_BYTES[kind] // MiB)
        raise ApplicationError(message, fields={"file": message})
    if kind in ("logo", "image", "portrait"):
        return _check_picture(data, kind=kind)
    if kind == "font":
        return _check_font(data)
    if kind == "video":
        return _check_video(data)
    if kind == "evidence":
        return _check_evidence(data)
    return _check_music(data)


def _check_evidence(data: bytes) -> CheckedAsset:
    """A PDF by its header; else whichever of picture, audio or video the bytes pass as."""
    if data.startswith(PDF_MAGIC):
        return CheckedAsset("evidence", "application/pdf", "pdf", {})
    for check in (
        lambda: _check_picture(data, kind="evidence"),
        lambda: _check_music(data),
        lambda: _check_video(data),
    ):
        try:
            checked = check()
        except ApplicationError:
            continue
        return CheckedAsset("evidence", checked.content_type, checked.extension, checked.details)
    raise ApplicationError(NOT_EVIDENCE, fields={"file": NOT_EVIDENCE})


def _check_picture(data: bytes, *, kind: str) -> CheckedAsset:
    from PIL import Image, UnidentifiedImageError

    try:
        # formats= restricts which decoders Pillow may even try on untrusted bytes.
        with Image.open(io.BytesIO(data), formats=list(LOGO_FORMATS)) as image:
            if image.width * image.height > MAX_LOGO_PIXELS:
                raise ApplicationError(TOO_MANY_PIXELS, fields={"file": TOO_MANY_PIXELS})
            image.load()
            fmt = image.format or ""
            width, height = image.size
    except ApplicationError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise ApplicationError(NOT_AN_IMAGE, fields={"file": NOT_AN_IMAGE}) from exc
    extension = "png" if fmt == "PNG" else "jpg"
    return CheckedAsset(kind, LOGO_FORMATS[fmt], extension, {"width": width, "height": height})


def _check_font(data: bytes) -> CheckedAsset:
    from PIL import ImageFont

    # sfnt magic numbers: TrueType 1.0, 'true' (Apple), 'OTTO' (CFF OpenType). Collections are refused.
    if data[:4] not in (b"\x00\x01\x00\x00", b"true", b"OTTO"):
        raise ApplicationError(NOT_A_FONT, fields={"file": NOT_A_FONT})
    try:
        font = ImageFont.truetype(io.BytesIO(data), size=32)
        family, style = font.getname()
        font.getbbox("Hello")
    except (OSError, ValueError) as exc:
        raise ApplicationError(NOT_A_FONT, fields={"file": NOT_A_FONT}) from exc
    extension = "otf" if data[:4] == b"OTTO" else "ttf"
    content_type = "font/otf" if extension == "otf" else "font/ttf"
    return CheckedAsset("font", content_type, extension, {"family": family or "", "style": style or ""})


def _sniff_audio_format(data: bytes) -> str | None:
    """The demuxer to use, from magic bytes: ffmpeg never guesses a format (an HLS or concat playlist
    would make it open other files) for bytes we have not recognised."""
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "wav"
    if data[:4] == b"OggS":
        return "ogg"
    if data[:4] == b"fLaC":
        return "flac"
    if data[4:8] == b"ftyp":
        return "mp4"
    if data[:3] == b"ID3" or (len(data) > 1 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0):
        return "mp3"
    return None


def _check_music(data: bytes) -> CheckedAsset:
    import av

    demuxer = _sniff_audio_format(data)
    if demuxer is None:
        raise ApplicationError(NOT_AUDIO, fields={"file": NOT_AUDIO})
    try:
        with av.open(io.BytesIO(data), mode="r", format=demuxer) as container:
            format_name = container.format.name
            if format_name not in MUSIC_FORMATS or not container.streams.audio:
                raise ApplicationError(NOT_AUDIO, fields={"file": NOT_AUDIO})
            stream = container.streams.audio[0]
            if stream.codec_context.name not in MUSIC_CODECS or container.streams.video:
                raise ApplicationError(NOT_AUDIO, fields={"file": NOT_AUDIO})
            duration = float(container.duration or 0) / 1_000_000  # av.time_base is microseconds
            if duration <= 0 and stream.duration and stream.time_base:
                duration = float(stream.duration * stream.time_base)
            # Decode the first frames: a header that parses over a broken body is caught here, not in ffmpeg.
            for index, _frame in enumerate(container.decode(stream)):
                if index >= 8:
                    break
    except ApplicationError:
        raise
    except (av.FFmpegError, ValueError, OSError) as exc:
        raise ApplicationError(NOT_AUDIO, fields={"file": NOT_AUDIO}) from exc
    if duration > MAX_MUSIC_SECONDS:
        raise ApplicationError(TOO_LONG, fields={"file": TOO_LONG})
    extension = {"mp3": "mp3", "wav": "wav", "ogg": "ogg", "flac": "flac"}.get(format_name, "m4a")
    return CheckedAsset("music", MUSIC_FORMATS[format_name], extension, {"duration": round(duration, 3)})


def _check_video(data: bytes) -> CheckedAsset:
    """MP4/MOV or WebM with an allowed video codec, within the pixel and length caps; the first frames
    must decode. The compositor reads a transcoded copy, never this file (render/services/brand_video.py)."""
    import av

    demuxer = "mov" if data[4:8] == b"ftyp" else "matroska" if data[:4] == b"\x1a\x45\xdf\xa3" else None
    if demuxer is None:
        raise ApplicationError(NOT_VIDEO, fields={"file": NOT_VIDEO})
    try:
        with av.open(io.BytesIO(data), mode="r", format=demuxer) as container:
            # "mov" or "mov,mp4,m4a,3gp,3g2,mj2" (the name depends on how the demuxer was chosen)
            format_name = container.format.name.split(",")[0]
            if format_name != demuxer or not container.streams.video:
                raise ApplicationError(NOT_VIDEO, fields={"file": NOT_VIDEO})
            stream = container.streams.video[0]
            if stream.codec_context.name not in VIDEO_CODECS:
                raise ApplicationError(NOT_VIDEO, fields={"file": NOT_VIDEO})
            width, height = stream.codec_context.width, stream.codec_context.height
            if width * height > MAX_LOGO_PIXELS or not width or not height:
                raise ApplicationError(VIDEO_TOO_LARGE, fields={"file": VIDEO_TOO_LARGE})
            duration = float(container.duration or 0) / 1_000_000  # av.time_base is microseconds
            for index, _frame in enumerate(container.decode(stream)):
                if index >= 8:
                    break
            fps = float(stream.average_rate or stream.guessed_rate or 0)
    except ApplicationError:
        raise
    except (av.FFmpegError, ValueError, OSError) as exc:
        raise ApplicationError(NOT_VIDEO, fields={"file": NOT_VIDEO}) from exc
    if duration > MAX_VIDEO_SECONDS:
        raise ApplicationError(VIDEO_TOO_LONG, fields={"file": VIDEO_TOO_LONG})
    extension = "mp4" if demuxer == "mov" else "webm"
    details = {"width": width, "height": height, "duration": round(duration, 3), "fps": round(fps, 3)}
    return CheckedAsset("video", VIDEO_FORMATS[demuxer], extension, details)
