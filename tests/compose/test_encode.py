"""`REELSMITH_VIDEO_ENCODER`: every segment of a render goes through one encoder, which is part of the segment
key, and an encoder this node's ffmpeg cannot open is refused with a clear error before anything is encoded."""

from __future__ import annotations

from pathlib import Path

import pytest

from render.compose.encode import EncoderUnavailableError, EncodeSettings, encoder_check
from render.compose.plan import ColorBackground
from render.compose.segments import plan_segments, segment_key
from tests.compose.conftest import build_plan

NVIDIA_DEVICE = Path("/dev/nvidia0")


@pytest.mark.skipif(NVIDIA_DEVICE.exists(), reason="this node has an NVIDIA GPU: NVENC may well open")
def test_nvenc_is_refused_where_this_ffmpeg_cannot_open_it() -> None:
    with pytest.raises(EncoderUnavailableError) as refused:
        encoder_check("h264_nvenc")
    assert "REELSMITH_VIDEO_ENCODER=h264_nvenc" in str(refused.value)
    assert "libx264" in str(refused.value)  # what to do about it


def test_an_unknown_encoder_is_refused_by_name() -> None:
    with pytest.raises(EncoderUnavailableError, match="'libx265'"):
        encoder_check("libx265")


def test_x264_opens_here() -> None:
    encoder_check("libx264")


def test_the_encoder_is_part_of_the_segment_key_and_x264_keys_are_unchanged() -> None:
    plan = build_plan((1.0, ColorBackground("#111111"), ()), (1.0, ColorBackground("#222222"), ()), fade=0.25)
    segment = plan_segments(plan)[0]
    x264, nvenc = EncodeSettings(), EncodeSettings(encoder="h264_nvenc")
    assert segment_key(plan, segment, x264) != segment_key(plan, segment, nvenc)
    # Keys of segments stored before the encoder was a setting (all x264) stay valid.
    assert "encoder" not in x264.hash_fields()
    assert nvenc.hash_fields()["encoder"] == "h264_nvenc"


def test_nvenc_gets_the_same_contract_as_x264() -> None:
    x264, nvenc = EncodeSettings().video_args(30), EncodeSettings(encoder="h264_nvenc").video_args(30)
    assert x264[x264.index("-c:v") + 1] == "libx264"
    assert nvenc[nvenc.index("-c:v") + 1] == "h264_nvenc"
    for option in ("-profile:v", "-pix_fmt", "-g", "-colorspace", "-color_primaries", "-color_trc"):
        assert x264[x264.index(option) + 1] == nvenc[nvenc.index(option) + 1], option
    assert nvenc[nvenc.index("-no-scenecut") + 1] == "1"  # fixed GOP, like x264's -sc_threshold 0
