"""tiny-wan: the text-to-video model entry, built from config with random weights, on CPU."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from adspec.catalog import TINY_WAN, WAN_T2V
from render.engine.pipeline import get_engine
from render.engine.registry import ModelSpec, model_is_installed, model_spec
from render.engine.types import GenerationRequest, ShapeKey


@pytest.fixture(scope="module")
def video_spec(model_cache: object) -> ModelSpec:
    return model_spec(TINY_WAN)


def _clip_requests(shape: ShapeKey, n: int) -> list[GenerationRequest]:
    return [
        GenerationRequest(key=f"clip{i}", shape=shape, prompt=f"a shop window {i}", seed=i) for i in range(n)
    ]


def test_registry_has_a_real_and_a_tiny_video_model(video_spec: ModelSpec) -> None:
    real = model_spec(WAN_T2V)
    assert (real.kind, real.pipeline_class, real.num_frames, real.fps) == ("video", "WanPipeline", 81, 16)
    assert (real.width, real.height) == (832, 480)
    assert not real.buildable
    assert video_spec.kind == "video"
    assert video_spec.buildable
    assert video_spec.shape_key().num_frames == 9
    assert model_spec("tiny-sd").shape_key().num_frames is None


def test_tiny_video_model_makes_one_clip_per_request_reproducibly(video_spec: ModelSpec) -> None:
    engine = get_engine(TINY_WAN)
    assert model_is_installed(video_spec)  # built on first use, loaded through from_pretrained
    shape = video_spec.shape_key()
    results = engine.run_batch(_clip_requests(shape, 3))
    assert [r.key for r in results] == ["clip0", "clip1", "clip2"]
    for result in results:
        assert result.ok, result.error
        assert result.image is None
        assert result.frames is not None
        assert len(result.frames) == 9
        assert {frame.size for frame in result.frames} == {(64, 64)}
        assert {frame.mode for frame in result.frames} == {"RGB"}
    again = engine.run_batch(_clip_requests(shape, 3))
    for a, b in zip(results, again, strict=True):
        assert a.frames is not None
        assert b.frames is not None
        assert all(
            np.array_equal(np.asarray(x), np.asarray(y)) for x, y in zip(a.frames, b.frames, strict=True)
        )
    first, second = (r.frames for r in results[:2])
    assert first is not None
    assert second is not None
    assert not np.array_equal(np.asarray(first[0]), np.asarray(second[0]))


def test_clip_length_is_checked(video_spec: ModelSpec) -> None:
    engine = get_engine(TINY_WAN)
    with pytest.raises(ValueError, match="1 \\+ 4k frames"):
        engine.run_batch(_clip_requests(replace(video_spec.shape_key(), num_frames=8), 1))
    with pytest.raises(ValueError, match="makes pictures, not clips"):
        get_engine("tiny-sd").run_batch(
            _clip_requests(replace(model_spec("tiny-sd").shape_key(), num_frames=9), 1)
        )
