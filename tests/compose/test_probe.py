"""check_media_input: the allowlist gate in front of ffmpeg."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from render.compose.ffmpeg import filter_spec, run_ffmpeg
from render.compose.probe import AUDIO_INPUTS, IMAGE_INPUTS, UnsupportedMediaError, check_media_input


def _encode(tmp_path: Path, name: str, source: str, *extra: str) -> Path:
    out = tmp_path / name
    run_ffmpeg(["-filter_complex", source + "[s]", "-map", "[s]", *extra, str(out)], timeout=30)
    return out


def test_png_and_jpeg_pass_with_their_size(assets: dict[str, Path]) -> None:
    png = check_media_input(assets["photo"], allowed_formats=IMAGE_INPUTS)
    jpeg = check_media_input(assets["photo_jpg"], allowed_formats=IMAGE_INPUTS)
    assert (png.demuxer, png.codec, png.width, png.height) == ("png_pipe", "png", 400, 300)
    assert (jpeg.demuxer, jpeg.codec) == ("jpeg_pipe", "mjpeg")


@pytest.mark.parametrize(("name", "demuxer"), [("a.wav", "wav"), ("a.mp3", "mp3"), ("a.m4a", "mov"),
                                               ("a.ogg", "ogg"), ("a.flac", "flac")])  # fmt: skip
def test_music_formats_pass(tmp_path: Path, name: str, demuxer: str) -> None:
    path = _encode(tmp_path, name, filter_spec("sine", duration=0.2))
    assert check_media_input(path, allowed_formats=AUDIO_INPUTS).demuxer == demuxer


def test_text_pretending_to_be_an_image_is_refused(tmp_path: Path) -> None:
    fake = tmp_path / "logo.png"
    fake.write_text("#EXTM3U\n#EXTINF:1,\nhttp://127.0.0.1:9/x.ts\n")  # a playlist: would fetch a URL
    with pytest.raises(UnsupportedMediaError, match="not an allowed video file"):
        check_media_input(fake, allowed_formats=IMAGE_INPUTS)


def test_other_image_formats_are_refused(tmp_path: Path) -> None:
    gif = _encode(tmp_path, "a.gif", filter_spec("color", s="16x16", d=0.04), "-frames:v", "1")
    with pytest.raises(UnsupportedMediaError):
        check_media_input(gif, allowed_formats=IMAGE_INPUTS)


def test_video_in_an_mp4_is_not_music(tmp_path: Path) -> None:
    video = _encode(tmp_path, "a.m4a", filter_spec("color", s="16x16", d=0.1), "-c:v", "libx264")
    with pytest.raises(UnsupportedMediaError):
        check_media_input(video, allowed_formats=AUDIO_INPUTS)


def test_an_image_is_not_music(assets: dict[str, Path]) -> None:
    with pytest.raises(UnsupportedMediaError):
        check_media_input(assets["photo"], allowed_formats=AUDIO_INPUTS)


def test_images_over_the_pixel_cap_are_refused(assets: dict[str, Path]) -> None:
    small_cap = replace(IMAGE_INPUTS, max_pixels=400 * 300 - 1)
    with pytest.raises(UnsupportedMediaError, match="pixel limit"):
        check_media_input(assets["photo"], allowed_formats=small_cap)


def test_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedMediaError, match="not a file"):
        check_media_input(tmp_path / "nope.png", allowed_formats=IMAGE_INPUTS)
