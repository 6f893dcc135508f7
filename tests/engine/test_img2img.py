"""img2img variants of a base picture, through the img2img pipeline made from the same components."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest
import torch

from render.engine.pipeline import Engine
from render.engine.types import GenerationRequest, ShapeKey


def _unet_calls(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Batch sizes of every UNet forward (hooked on the module both pipelines share)."""
    calls: list[int] = []
    handle = engine.pipe.unet.register_forward_pre_hook(lambda module, args: calls.append(len(args[0])))
    monkeypatch.setattr(engine, "_unet_hook", handle, raising=False)
    return calls


@pytest.fixture
def base(engine: Engine, shape: ShapeKey) -> Any:
    [result] = engine.run_batch([GenerationRequest(key="base", shape=shape, prompt="a shop front", seed=3)])
    assert result.image is not None
    return result.image


def _variants(shape: ShapeKey, base: Any, n: int, strength: float, steps: int) -> list[GenerationRequest]:
    variant_shape = replace(shape, steps=steps, strength=strength)
    return [
        GenerationRequest(
            key=f"v{i}", shape=variant_shape, prompt=f"a shop front for {i}", seed=i, init_image=base
        )
        for i in range(n)
    ]


def test_variants_share_components_and_cost_strength_of_a_generation(
    engine: Engine, shape: ShapeKey, base: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _unet_calls(engine, monkeypatch)
    try:
        results = engine.run_batch(_variants(shape, base, 3, strength=0.5, steps=4))
    finally:
        engine._unet_hook.remove()  # type: ignore[attr-defined]
    assert engine.img2img_pipe.unet is engine.pipe.unet  # from_pipe: the same modules, not a copy
    assert [r.key for r in results] == ["v0", "v1", "v2"]
    assert all(r.ok for r in results)
    assert calls == [4, 4]  # int(4 steps x 0.5) = 2 UNet passes on the padded batch of 4, not 4 passes
    pixels = [np.asarray(r.image) for r in results]
    assert pixels[0].shape == np.asarray(base).shape
    assert not np.array_equal(pixels[0], pixels[1])


def test_variants_are_reproducible(engine: Engine, shape: ShapeKey, base: Any) -> None:
    first = engine.run_batch(_variants(shape, base, 2, strength=0.35, steps=3))
    again = engine.run_batch(_variants(shape, base, 2, strength=0.35, steps=3))
    for a, b in zip(first, again, strict=True):
        assert np.array_equal(np.asarray(a.image), np.asarray(b.image))


def test_variants_match_the_img2img_pipeline_fed_prompt_strings(
    engine: Engine, shape: ShapeKey, base: Any
) -> None:
    [ours] = engine.run_batch(_variants(shape, base, 1, strength=0.5, steps=2))
    with torch.inference_mode():
        theirs = engine.img2img_pipe(
            prompt="a shop front for 0",
            image=[base],
            strength=0.5,
            num_inference_steps=2,
            guidance_scale=shape.guidance,
            generator=[torch.Generator("cpu").manual_seed(0)],
        ).images[0]
    assert np.array_equal(np.asarray(ours.image), np.asarray(theirs))


def test_img2img_inputs_are_checked(engine: Engine, shape: ShapeKey, base: Any) -> None:
    with pytest.raises(ValueError, match="needs both a strength and an init image"):
        engine.run_batch([GenerationRequest(key="x", shape=replace(shape, strength=0.5), prompt="p", seed=1)])
    with pytest.raises(ValueError, match="run no denoising step"):
        engine.run_batch(_variants(shape, base, 1, strength=0.35, steps=2))
