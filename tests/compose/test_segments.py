"""Shared and personal segments: the joined video must be the full render, frame for frame (up to
the encoder's loss), with the shared parts encoded once."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import av
import numpy as np
import pytest

from render.compose.compose import compose_video
from render.compose.encode import EncodeSettings
from render.compose.plan import (
    Audio,
    ColorBackground,
    CompositionPlan,
    ImageBackground,
    Scene,
    TextLayer,
    Transition,
)
from render.compose.segments import (
    DirectorySegmentCache,
    Segment,
    compose_segmented,
    plan_segments,
    segment_key,
)
from tests.compose.conftest import FPS, NOTO_SANS, build_plan


def _plan(
    assets: dict[str, Path], name: str, *, personal: int = 1, transition: str = "fade"
) -> CompositionPlan:
    """Four 1 s scenes, scene `personal` carries the name; moving picture, fades, music."""
    text = TextLayer(f"Hi {name}!", (0.1, 0.4, 0.8, 0.2), "#FFFFFF", NOTO_SANS)
    plan = build_plan(
        (1.0, ImageBackground(assets["photo"], "zoom_in", reused=True), ()),
        (1.0, ImageBackground(assets["photo"], "pan_right", reused=True), ()),
        (1.0, ColorBackground("#2244AA"), ()),
        (1.0, ColorBackground("#AA4422"), ()),
        fade=0.25,
        audio=Audio(assets["tone"], volume=0.8),
    )
    scenes = list(plan.scenes)
    scenes[personal] = replace(scenes[personal], layers=(text,), personal=True)
    return replace(plan, scenes=tuple(scenes), transition=Transition(transition, 0.25))  # type: ignore[arg-type]


def _frames(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="gray").astype(np.int16) for f in container.decode(video=0)])


def _audio_samples(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(frame.samples for frame in container.decode(audio=0))


def test_fades_at_a_personal_scene_are_encoded_inside_its_segment(assets: dict[str, Path]) -> None:
    segments = plan_segments(_plan(assets, "Ann"))
    # 0.25 s at 24 fps: 6 frames, 3 on each side of the cuts at frames 24 and 48.
    assert segments == (Segment(0, 21, False), Segment(21, 51, True), Segment(51, 96, False))


def test_a_shared_run_shorter_than_its_fades_turns_personal() -> None:
    plan = build_plan(
        (1.0, ColorBackground("#111111"), ()),
        (0.1, ColorBackground("#222222"), ()),
        (1.0, ColorBackground("#333333"), ()),
        fade=0.1,
    )
    scenes = (replace(plan.scenes[0], personal=True), plan.scenes[1], replace(plan.scenes[2], personal=True))
    segments = plan_segments(replace(plan, scenes=scenes))
    assert segments == (Segment(0, 50, True),)  # 2.1 s at 24 fps


@pytest.mark.parametrize(("personal", "transition"), [(1, "fade"), (0, "slide"), (3, "wipe")])
def test_joined_video_is_the_full_render(
    tmp_path: Path, assets: dict[str, Path], personal: int, transition: str
) -> None:
    cache = DirectorySegmentCache(tmp_path / "cache")
    plan = _plan(assets, "Zoë", personal=personal, transition=transition)
    full = compose_video(plan, tmp_path / "full.mp4", workdir=tmp_path / "w0")
    first = compose_segmented(plan, tmp_path / "a.mp4", workdir=tmp_path / "w1", cache=cache)
    again = compose_segmented(
        _plan(assets, "Łukasz", personal=personal, transition=transition),
        tmp_path / "b.mp4",
        workdir=tmp_path / "w2",
        cache=cache,
    )
    shared = sum(not segment.personal for segment in first.segments)
    assert (first.reused, again.reused, again.encoded) == (0, shared, 1)
    # The moving pictures the personal segment shows are rendered once, then read back.
    # (Scenes 0 and 1 are pictures; scene 3's segment shows only colours.)
    assert (first.backgrounds > 0, again.backgrounds) == (personal < 2, 0)
    assert first.info.duration == full.duration == pytest.approx(4.0, abs=1 / FPS)
    assert first.info.has_audio
    assert _audio_samples(tmp_path / "a.mp4") == _audio_samples(tmp_path / "full.mp4")

    reference, joined = _frames(tmp_path / "full.mp4"), _frames(tmp_path / "a.mp4")
    assert reference.shape == joined.shape
    # Every frame, joins included, is the full render's frame up to encoder noise: nothing black,
    # frozen, shifted or doubled (a one-frame shift of the moving picture differs by far more).
    for boundary in {segment.first for segment in first.segments} - {0}:
        for index in range(boundary - 2, boundary + 2):
            assert np.abs(joined[index] - reference[index]).mean() < 2.0, index
            assert joined[index].mean() > 20  # not black
    differences = np.abs(joined - reference).mean(axis=(1, 2))
    assert differences.max() < 2.0


def test_shared_segment_keys_follow_content_not_names(tmp_path: Path, assets: dict[str, Path]) -> None:
    plan = _plan(assets, "Ann")
    shared = next(segment for segment in plan_segments(plan) if not segment.personal)
    # Another recipient: same shared key. Another colour in a shared scene: another key.
    assert segment_key(_plan(assets, "Bob"), shared, EncodeSettings()) == segment_key(
        plan, shared, EncodeSettings()
    )
    scenes = list(plan.scenes)
    scenes[0] = Scene(1.0, ColorBackground("#000000"))
    assert segment_key(replace(plan, scenes=tuple(scenes)), shared, EncodeSettings()) != segment_key(
        plan, shared, EncodeSettings()
    )
