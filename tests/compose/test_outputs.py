"""Beside each MP4: a GIF preview under 1 MB even for a busy video, and WebVTT captions of the text."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from render.compose.compose import compose_video
from render.compose.ffmpeg import filter_spec, run_ffmpeg
from render.compose.outputs import GIF_MAX_BYTES, captions_vtt, make_gif
from render.compose.plan import ColorBackground, TextLayer
from tests.compose.conftest import NOTO_SANS, build_plan


def test_gif_of_a_busy_full_hd_video_stays_under_a_megabyte(tmp_path: Path) -> None:
    # Full-frame noise: the worst case for GIF's LZW, which needs the smaller fallback sizes.
    video = tmp_path / "noise.mp4"
    source = filter_spec("color", c="gray", s="1080x1920", r=30, d=5)
    run_ffmpeg(
        ["-filter_complex", f"{source},{filter_spec('noise', alls=100, allf='t+u')}[v]", "-map", "[v]",
         "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(video)],
        timeout=120,
    )  # fmt: skip
    size = make_gif(video, tmp_path / "preview.gif", duration=5.0)
    assert size == (tmp_path / "preview.gif").stat().st_size < GIF_MAX_BYTES
    with Image.open(tmp_path / "preview.gif") as gif:
        assert gif.format == "GIF"
        assert getattr(gif, "n_frames", 1) > 1
        assert gif.width <= 320


def test_captions_carry_each_scenes_text_at_its_times(tmp_path: Path) -> None:
    plan = build_plan(
        (1.5, ColorBackground("#000000"), (TextLayer("Hi <Zoë> & co\n-->", (0.1, 0.1, 0.8, 0.2), "#FFFFFF", NOTO_SANS),)),
        (1.0, ColorBackground("#000000"), ()),
        (0.5, ColorBackground("#000000"), (TextLayer("مرحبا", (0.1, 0.1, 0.8, 0.2), "#FFFFFF", NOTO_SANS),)),
    )  # fmt: skip
    vtt = captions_vtt(plan)
    assert vtt.splitlines() == [
        "WEBVTT",
        "",
        "00:00:00.000 --> 00:00:01.500",
        "Hi &lt;Zoë&gt; &amp; co --&gt;",
        "",
        "00:00:02.500 --> 00:00:03.000",
        "مرحبا",
    ]
    # The cues end where the video does.
    info = compose_video(plan, tmp_path / "v.mp4", workdir=tmp_path / "w")
    assert abs(info.duration - 3.0) < 1e-6
