"""Beside each MP4: a poster and a GIF preview (under 1 MB even for a busy video) from the frames the render
makes anyway, one run each, and WebVTT captions of the text."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from PIL import Image

from render.compose import ffmpeg as ffmpeg_module
from render.compose import outputs as outputs_module
from render.compose.compose import compose_video
from render.compose.ffmpeg import filter_spec, run_ffmpeg
from render.compose.outputs import (
    GIF_BYTES_PER_PIXEL,
    GIF_MAX_BYTES,
    GIF_TARGET_BYTES,
    Taps,
    captions_vtt,
    gif_settings,
    make_gif,
)
from render.compose.plan import ColorBackground, CompositionPlan, ImageBackground, TextLayer
from render.compose.segments import DirectorySegmentCache, compose_segmented, plan_previews
from tests.compose.conftest import FPS, NOTO_SANS, build_plan


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


# --- Outputs at the cost of one pass (poster and GIF from the segment runs' own frames) ---------------------


def _personal_plan(assets: dict[str, Path], name: str, *, personal: int = 0) -> CompositionPlan:
    """Four 1.5 s scenes, a moving picture first; scene `personal` carries the name. The GIF shows the
    first 4 s, so with the name in the last scene (from 4.4 s, its fade included) it shows shared frames only."""
    text = TextLayer(f"Hi {name}!", (0.1, 0.4, 0.8, 0.2), "#FFFFFF", NOTO_SANS)
    plan = build_plan(
        (1.5, ImageBackground(assets["photo"], "zoom_in", reused=True), ()),
        (1.5, ColorBackground("#2244AA"), ()),
        (1.5, ColorBackground("#AA4422"), ()),
        (1.5, ColorBackground("#22AA44"), ()),
        fade=0.25,
    )
    scenes = list(plan.scenes)
    scenes[personal] = replace(scenes[personal], layers=(text,), personal=True)
    return replace(plan, scenes=tuple(scenes))


def _gray_frames(path: Path) -> list[np.ndarray]:
    """Each frame as a player shows it (RGB by the frame's own colour tags), then Pillow's luma."""
    with av.open(str(path)) as container:
        return [np.asarray(f.to_image().convert("L"), dtype=np.int16) for f in container.decode(video=0)]


def _count_ffmpeg_runs(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    runs: list[list[str]] = []
    for module in (ffmpeg_module, outputs_module):
        real = module.run_ffmpeg

        def counting(args: Any, *, timeout: float, real: Any = real) -> str:
            runs.append(list(args))
            return real(args, timeout=timeout)

        monkeypatch.setattr(module, "run_ffmpeg", counting)
    return runs


def test_gif_size_rate_and_colours_are_chosen_up_front_from_the_length() -> None:
    long = gif_settings(width=1080, height=1920, fps=30, frames=450)
    short = gif_settings(width=1080, height=1920, fps=30, frames=45)
    assert (long.end, long.fps, long.max_colors) == (120, 8, 128)  # the first 4 s at 8 fps
    assert (short.end, short.fps) == (45, 10)  # a 1.5 s ad whole, at 10 fps
    for settings in (long, short):
        assert settings.width <= 320
        assert settings.width % 2 == settings.height % 2 == 0
        assert abs(settings.width / settings.height - 1080 / 1920) < 0.01
        assert settings.width * settings.height * settings.frames * GIF_BYTES_PER_PIXEL <= GIF_TARGET_BYTES
    assert short.width > long.width  # fewer frames buy a larger picture
    # Every frame at or after each tick of the GIF's clock: 30 fps at 8 fps keeps 0, 4, 8, 12, 15, ...
    assert [f for f in range(16) if long.shows(f)] == [0, 4, 8, 12, 15]


def test_poster_and_gif_come_from_the_segment_runs_one_run_each(
    tmp_path: Path, assets: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = DirectorySegmentCache(tmp_path / "cache")
    first = _personal_plan(assets, "Ann")
    compose_segmented(
        first, tmp_path / "a.mp4", workdir=tmp_path / "wa", cache=cache,
        previews=plan_previews(first, poster=tmp_path / "a.jpg", gif=tmp_path / "a.gif"),
    )  # fmt: skip
    plan = _personal_plan(assets, "Zoë")
    previews = plan_previews(plan, poster=tmp_path / "poster.jpg", gif=tmp_path / "preview.gif")
    runs = _count_ffmpeg_runs(monkeypatch)
    result = compose_segmented(
        plan, tmp_path / "b.mp4", workdir=tmp_path / "wb", cache=cache, previews=previews
    )
    # The personal segment's run (its video, the poster, its GIF frames), the join, the GIF: no run
    # decodes the finished MP4, no output is made twice.
    assert len(runs) == 3
    assert not any(str(tmp_path / "b.mp4") in arg for run in runs[:1] + runs[2:] for arg in run)
    assert (result.encoded, result.reused) == (1, 1)

    video = _gray_frames(tmp_path / "b.mp4")
    with Image.open(previews.poster) as poster:
        assert poster.format == "JPEG"
        assert poster.size == (plan.width, plan.height)
        assert poster.info.get("progression") is None
        shown = np.asarray(poster.convert("L"), dtype=np.int16)
    assert previews.poster_frame == FPS  # 1 s in
    assert np.abs(shown - video[previews.poster_frame]).mean() < 3.0
    settings = previews.gif_settings
    with Image.open(previews.gif) as gif:
        assert gif.format == "GIF"
        assert previews.gif.stat().st_size < GIF_MAX_BYTES
        assert getattr(gif, "n_frames", 1) == settings.frames
        assert gif.size == (settings.width, settings.height)
    # Decoded as a browser shows it (each frame drawn over the last: frames store only what changed).
    with av.open(str(previews.gif)) as container:
        frames = [
            np.asarray(f.to_image().convert("L").resize((plan.width, plan.height)), dtype=np.int16)
            for f in container.decode(video=0)
        ]
    # Each GIF frame is the video's frame at that tick (up to palette and scaling), in order.
    ticks = [f for f in range(settings.end) if settings.shows(f)]
    for frame, tick in zip(frames, ticks, strict=True):
        assert np.abs(frame - video[tick]).mean() < 6.0, tick
    assert np.abs(frames[0] - video[ticks[-1]]).mean() > np.abs(frames[0] - video[ticks[0]]).mean()


def test_taps_leave_the_video_exactly_as_it_was(tmp_path: Path, assets: dict[str, Path]) -> None:
    plan = _personal_plan(assets, "Zoë")
    plain = compose_video(plan, tmp_path / "plain.mp4", workdir=tmp_path / "w1")
    previews = plan_previews(plan, poster=tmp_path / "p.jpg", gif=tmp_path / "g.gif")
    taps = Taps(
        poster=(previews.poster_frame, previews.poster), gif=(previews.gif_settings, tmp_path / "f.mkv")
    )
    tapped = compose_video(plan, tmp_path / "tapped.mp4", workdir=tmp_path / "w2", taps=taps)
    assert plain == tapped
    assert all(
        np.array_equal(a, b)
        for a, b in zip(
            _gray_frames(tmp_path / "plain.mp4"), _gray_frames(tmp_path / "tapped.mp4"), strict=True
        )
    )
    assert previews.poster.is_file()
    assert (tmp_path / "f.mkv").is_file()


def test_a_gif_of_shared_seconds_only_is_made_once_and_reused(
    tmp_path: Path, assets: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The name is in the last scene: the GIF's first seconds are the same for everyone.
    cache = DirectorySegmentCache(tmp_path / "cache")
    sizes = []
    for index, name in enumerate(("Ann", "Łukasz")):
        plan = _personal_plan(assets, name, personal=3)
        previews = plan_previews(plan, poster=tmp_path / f"p{index}.jpg", gif=tmp_path / f"g{index}.gif")
        runs = _count_ffmpeg_runs(monkeypatch) if index else []
        result = compose_segmented(
            plan, tmp_path / f"v{index}.mp4", workdir=tmp_path / f"w{index}", cache=cache, previews=previews
        )
        sizes.append(previews.gif.read_bytes())
        assert result.gif_reused == bool(index)
    # The second recipient: its personal segment and the join; poster and GIF come from the cache.
    assert len(runs) == 2
    assert sizes[0] == sizes[1]
    assert (tmp_path / "p0.jpg").read_bytes() == (tmp_path / "p1.jpg").read_bytes()


def test_a_cached_segment_without_its_taps_gets_them_once(tmp_path: Path, assets: dict[str, Path]) -> None:
    # Segments cached before previews were tapped (or by a run that asked for none) carry no poster or GIF
    # frames: the first render that needs them decodes that segment once, and caches them beside it.
    cache = DirectorySegmentCache(tmp_path / "cache")
    compose_segmented(
        _personal_plan(assets, "Ann", personal=3), tmp_path / "a.mp4", workdir=tmp_path / "wa", cache=cache
    )
    made = []
    for index in range(2):
        plan = _personal_plan(assets, f"B{index}", personal=3)
        previews = plan_previews(plan, poster=tmp_path / f"p{index}.jpg", gif=tmp_path / f"g{index}.gif")
        result = compose_segmented(
            plan, tmp_path / f"b{index}.mp4", workdir=tmp_path / f"wb{index}", cache=cache, previews=previews
        )
        made.append(result.previews_cpu_s > 0 and not result.gif_reused)
        with Image.open(previews.gif) as gif:
            assert getattr(gif, "n_frames", 1) == previews.gif_settings.frames
    assert made == [True, False]
