"""Clip backgrounds (`VideoBackground`): a generated clip covered, resampled to the output's rate, looped
to the scene's length and moved, in every format, across transitions and through the segment cache."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from render.compose.clips import encode_clip
from render.compose.compose import compose_video
from render.compose.plan import (
    ColorBackground,
    CompositionPlan,
    ImageBackground,
    Motion,
    TextLayer,
    Transition,
    VideoBackground,
)
from render.compose.probe import UnsupportedMediaError, probe
from render.compose.segments import DirectorySegmentCache, compose_segmented
from tests.compose.conftest import FPS, NOTO_SANS, build_plan

CLIP_FRAMES, CLIP_FPS = 9, 8  # tiny-wan's clip: 9 frames at 8 fps (render/engine/registry.py)
# Clip frame i is a flat grey of level 40 + 20 i, so a decoded frame says which clip frame it shows.
LEVEL_BASE, LEVEL_STEP = 40, 20


def _clip_index(frame: np.ndarray) -> int:
    return round((float(frame.mean()) - LEVEL_BASE) / LEVEL_STEP)


def _gray_frames(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="gray").astype(np.int16) for f in container.decode(video=0)])


@pytest.fixture(scope="module")
def counting_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """9 flat grey frames at 8 fps, 64x48 (landscape: the wrong aspect for 9:16, on purpose)."""
    folder = tmp_path_factory.mktemp("clip")
    frames = [Image.new("RGB", (64, 48), (LEVEL_BASE + LEVEL_STEP * i,) * 3) for i in range(CLIP_FRAMES)]
    encode_clip(frames, fps=CLIP_FPS, out_path=folder / "clip.mp4", workdir=folder / "work")
    return folder / "clip.mp4"


@pytest.fixture(scope="module")
def still_clip(tmp_path_factory: pytest.TempPathFactory, assets: dict[str, Path]) -> Path:
    """The test photo as a 9-frame clip that does not change: it must look like the photo as a picture."""
    folder = tmp_path_factory.mktemp("still")
    with Image.open(assets["photo"]) as photo:
        frames = [photo.convert("RGB")] * CLIP_FRAMES
    encode_clip(frames, fps=CLIP_FPS, out_path=folder / "clip.mp4", workdir=folder / "work")
    return folder / "clip.mp4"


def test_a_stored_clip_is_h264_yuv420p_with_every_frame_at_its_rate(counting_clip: Path) -> None:
    info = probe(counting_clip)
    assert (info.video_codec, info.pixel_format, info.fps) == ("h264", "yuv420p", CLIP_FPS)
    assert (info.width, info.height) == (64, 48)
    assert info.duration == pytest.approx(CLIP_FRAMES / CLIP_FPS)
    frames = _gray_frames(counting_clip)
    assert [_clip_index(frame) for frame in frames] == list(range(CLIP_FRAMES))


@pytest.mark.parametrize(
    ("width", "height"),
    [(144, 256), (192, 192), (256, 144), (192, 240)],  # 9:16, 1:1, 16:9, 4:5
)
def test_a_clip_fills_every_format_at_the_output_rate_looped_to_the_scene(
    tmp_path: Path, counting_clip: Path, width: int, height: int
) -> None:
    plan = replace(
        build_plan((2.0, VideoBackground(counting_clip, CLIP_FPS), ())), width=width, height=height
    )
    out = tmp_path / "out.mp4"
    info = compose_video(plan, out, workdir=tmp_path / "work")
    assert (info.width, info.height, info.fps) == (width, height, FPS)
    frames = _gray_frames(out)
    assert len(frames) == 2 * FPS  # the 1.125 s clip fills the 2 s scene
    # Covered: the whole frame is the clip's grey, edges included (no bars).
    for frame in frames:
        assert frame.max() - frame.min() < 8
    # Output frame j (at j/24 s) shows the clip frame on screen at that time, j/24 * 8 = j/3 rounded
    # down: each clip frame for three output frames. After the clip's last frame it starts again.
    assert [_clip_index(frame) for frame in frames] == [j // 3 % CLIP_FRAMES for j in range(2 * FPS)]


def test_a_clip_longer_than_its_scene_is_cut(tmp_path: Path, counting_clip: Path) -> None:
    plan = build_plan((0.5, VideoBackground(counting_clip, CLIP_FPS), ()))
    out = tmp_path / "out.mp4"
    compose_video(plan, out, workdir=tmp_path / "work")
    assert [_clip_index(frame) for frame in _gray_frames(out)] == [j // 3 for j in range(12)]


@pytest.mark.parametrize("motion", ["none", "zoom_in", "pan_left"])
def test_a_clip_is_covered_and_moved_exactly_as_a_picture_is(
    tmp_path: Path, assets: dict[str, Path], still_clip: Path, motion: Motion
) -> None:
    as_clip = tmp_path / "clip.mp4"
    as_picture = tmp_path / "picture.mp4"
    compose_video(
        build_plan((1.0, VideoBackground(still_clip, CLIP_FPS, motion), ())), as_clip, workdir=tmp_path / "a"
    )
    compose_video(
        build_plan((1.0, ImageBackground(assets["photo"], motion), ())), as_picture, workdir=tmp_path / "b"
    )
    clip, picture = _gray_frames(as_clip), _gray_frames(as_picture)
    assert clip.shape == picture.shape
    # The clip went through one more lossy encode (CRF 17); a frame of motion moves far more than that.
    assert np.abs(clip - picture).mean(axis=(1, 2)).max() < 2.0
    if motion != "none":
        assert np.abs(clip[0] - clip[-1]).mean() > 5  # and it did move


def test_an_input_that_is_not_an_allowed_clip_never_reaches_ffmpeg(
    tmp_path: Path, assets: dict[str, Path]
) -> None:
    plan = build_plan((1.0, VideoBackground(assets["photo"], CLIP_FPS), ()))  # a PNG is not a clip
    with pytest.raises(UnsupportedMediaError):
        compose_video(plan, tmp_path / "out.mp4", workdir=tmp_path)
    assert not (tmp_path / "out.mp4").exists()


def _plan(clip: Path, name: str, *, transition: str) -> CompositionPlan:
    """A shared clip scene, a personal scene over the same clip (everyone's clip, the name on it), a colour."""
    text = TextLayer(f"Hi {name}!", (0.1, 0.4, 0.8, 0.2), "#FFFFFF", NOTO_SANS)
    background = VideoBackground(clip, CLIP_FPS, "zoom_in", reused=True)
    plan = build_plan(
        (1.0, background, ()),
        (1.5, background, (text,)),
        (1.0, ColorBackground("#2244AA"), ()),
    )
    scenes = list(plan.scenes)
    scenes[1] = replace(scenes[1], personal=True)
    return replace(plan, scenes=tuple(scenes), transition=Transition(transition, 0.25))  # type: ignore[arg-type]


@pytest.mark.parametrize("transition", ["fade", "slide"])
def test_segments_over_a_clip_join_into_the_full_render(
    tmp_path: Path, still_clip: Path, counting_clip: Path, transition: str
) -> None:
    for clip in (counting_clip, still_clip):
        cache = DirectorySegmentCache(tmp_path / clip.parent.name / "cache")
        work = tmp_path / clip.parent.name
        plan = _plan(clip, "Zoë", transition=transition)
        full = compose_video(plan, work / "full.mp4", workdir=work / "w0")
        first = compose_segmented(plan, work / "a.mp4", workdir=work / "w1", cache=cache)
        again = compose_segmented(
            _plan(clip, "Łukasz", transition=transition), work / "b.mp4", workdir=work / "w2", cache=cache
        )
        # Shared: the first scene and the colour. The personal segment shows the clip twice (its own scene,
        # and the first scene's frames under the fade into it): rendered once each, then read back.
        assert (first.reused, first.backgrounds) == (0, 2)
        assert (again.reused, again.encoded, again.backgrounds) == (2, 1, 0)
        assert first.info.duration == full.duration == pytest.approx(3.5, abs=1 / FPS)
        reference, joined = _gray_frames(work / "full.mp4"), _gray_frames(work / "a.mp4")
        assert reference.shape == joined.shape
        # Every frame, joins included, is the full render's up to encoder noise: a clip frame early or
        # late (a step of 20 grey levels) or a zoom step would show far above it.
        assert np.abs(joined - reference).mean(axis=(1, 2)).max() < 2.0
