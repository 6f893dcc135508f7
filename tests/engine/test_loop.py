"""The engine's own denoising loop gives the pipeline's pictures (render/engine/pipeline.py `_denoise`)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest
import torch

from render.engine.pipeline import Engine
from render.engine.types import ShapeKey
from tests.engine.factories import make_requests


def _pipeline_pixels(engine: Engine, shape: ShapeKey, prompts: list[str], seeds: list[int]) -> np.ndarray:
    embeds = torch.cat([engine.embed_text(p).hidden for p in prompts])
    kwargs: dict[str, torch.Tensor] = {}
    if shape.guidance > 1.0:
        kwargs["negative_prompt_embeds"] = torch.cat(
            [engine.embed_text("", negative=True).hidden] * len(prompts)
        )
    with torch.inference_mode():
        out = engine.pipe(
            prompt_embeds=embeds,
            **kwargs,
            height=shape.height,
            width=shape.width,
            num_inference_steps=shape.steps,
            guidance_scale=shape.guidance,
            generator=[torch.Generator("cpu").manual_seed(s) for s in seeds],
            output_type="pil",
        )
    return np.stack([np.asarray(image) for image in out.images])


@pytest.mark.parametrize("n", [1, 4])
@pytest.mark.parametrize(("steps", "guidance"), [(2, 0.0), (3, 5.0)])
def test_engine_loop_matches_the_pipelines_call(
    engine: Engine, shape: ShapeKey, n: int, steps: int, guidance: float
) -> None:
    shape = ShapeKey(shape.model, shape.width, shape.height, steps, guidance)
    requests = make_requests(shape, n, tag=f"loop{steps}")
    assert engine._direct_loop
    ours = np.stack([np.asarray(r.image) for r in engine.run_batch(requests)])
    theirs = _pipeline_pixels(engine, shape, [r.prompt for r in requests], [r.seed for r in requests])
    # Same operations in the same order on the same shapes: bit-identical on CPU.
    assert ours.dtype == theirs.dtype == np.uint8
    assert np.array_equal(ours, theirs)


def test_latents_buffers_are_reused_per_shape(engine: Engine, shape: ShapeKey) -> None:
    engine.run_batch(make_requests(shape, 2, tag="buf"))
    buffer = engine._latents_buffers[(2, shape.height, shape.width)]
    engine.run_batch(make_requests(shape, 2, tag="buf2"))
    assert engine._latents_buffers[(2, shape.height, shape.width)] is buffer


def test_direct_text_encoding_matches_encode_prompt(engine: Engine) -> None:
    text = "portrait of a smiling woman at her desk"
    engine.prompt_cache.clear()
    ours = engine.embed_text(text).hidden
    with torch.inference_mode():
        theirs, _ = engine.pipe.encode_prompt(
            prompt=text, device=engine.device, num_images_per_prompt=1, do_classifier_free_guidance=False
        )
    assert torch.equal(ours, theirs)


def test_warm_up_runs_one_batch_per_bucket(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine, "settings", replace(engine.settings, max_batch=8))
    sizes: list[int] = []
    real = engine._denoise

    def spy(padded: Any, shape: ShapeKey, embeds: Any, generators: Any) -> Any:
        sizes.append(len(generators))
        return real(padded, shape, embeds, generators)

    monkeypatch.setattr(engine, "_denoise", spy)
    assert engine.warm_up() == [1, 2, 4, 8]
    assert sizes == [1, 2, 4, 8]
