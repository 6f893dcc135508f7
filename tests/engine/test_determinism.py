"""Same inputs, same picture. See render/engine/pipeline.py's docstring for how far bits agree and why."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from render.engine.config import EngineSettings
from render.engine.pipeline import Engine
from render.engine.registry import ModelSpec
from render.engine.text_encoding import RowWise
from render.engine.types import GenerationRequest, GenerationResult, ShapeKey
from tests.engine.factories import make_requests

# Across padded batch sizes the CPU kernels sum in another order: measured max difference ~1e-6 on the
# [0, 1] float image, which 8-bit rounding turns into at most one level (usually none).
MAX_UINT8_DIFFERENCE = 1


def _pixels(result: GenerationResult) -> np.ndarray:
    assert result.image is not None, result.error
    return np.asarray(result.image).astype(np.int16)


def _x(shape: ShapeKey) -> GenerationRequest:
    return GenerationRequest(key="x", shape=shape, prompt="a cozy living room with plants", seed=1234)


def test_same_request_same_picture(engine: Engine, shape: ShapeKey) -> None:
    first = engine.run_batch([_x(shape)])[0]
    engine.prompt_cache.clear()
    second = engine.run_batch([_x(shape)])[0]
    assert np.array_equal(_pixels(first), _pixels(second))


def test_bit_identical_within_a_bucket_whatever_the_companions(engine: Engine, shape: ShapeKey) -> None:
    x = _x(shape)
    others_a = make_requests(shape, 7, tag="a", seed0=10)
    others_b = make_requests(shape, 7, tag="b", seed0=99)
    first = engine.run_batch([x, *others_a])[0]
    at_four = engine.run_batch([*others_b[:4], x, *others_b[4:]])[4]
    assert np.array_equal(_pixels(first), _pixels(at_four))


def test_close_across_buckets(engine: Engine, shape: ShapeKey) -> None:
    x = _x(shape)
    alone = _pixels(engine.run_batch([x])[0])
    in_eight = _pixels(engine.run_batch([*make_requests(shape, 7, tag="c"), x])[7])
    in_two = _pixels(engine.run_batch([x, *make_requests(shape, 1, tag="d")])[0])
    for other in (in_eight, in_two):
        assert np.abs(alone - other).max() <= MAX_UINT8_DIFFERENCE


def test_float_output_across_buckets_agrees_to_1e5(engine: Engine, shape: ShapeKey) -> None:
    """The same comparison before 8-bit rounding, on the pipeline directly with the engine's inputs."""
    pipe = engine.pipe
    texts = ["a cozy living room with plants", *(f"other prompt {i}" for i in range(7))]
    embeds = torch.cat([engine.embed_text(t).hidden for t in texts])

    def run(n: int) -> np.ndarray:
        generators = [torch.Generator("cpu").manual_seed(1234 + i) for i in range(n)]
        with torch.inference_mode():
            out = pipe(
                prompt_embeds=embeds[:n],
                height=shape.height,
                width=shape.width,
                num_inference_steps=shape.steps,
                guidance_scale=shape.guidance,
                generator=generators,
                output_type="np",
            )
        return np.asarray(out.images[0])

    assert np.abs(run(1) - run(8)).max() < 1e-5


def test_prompt_cache_does_not_change_pictures(tiny_spec: ModelSpec, shape: ShapeKey) -> None:
    requests = make_requests(shape, 5, tag="cache")
    requests[3] = replace(requests[3], prompt=requests[0].prompt)  # a repeated text inside the batch
    with_cache = Engine(tiny_spec, settings=EngineSettings(model_cache=tiny_spec.path.parent, device="cpu"))
    without = Engine(
        tiny_spec,
        settings=EngineSettings(model_cache=tiny_spec.path.parent, device="cpu", prompt_cache_size=0),
    )
    cold = with_cache.run_batch(requests)
    warm = with_cache.run_batch(requests)  # every text from the cache now
    uncached = without.run_batch(requests)
    assert with_cache.prompt_cache.info().hits > 0
    assert without.prompt_cache.info().size == 0
    for a, b, c in zip(cold, warm, uncached, strict=True):
        assert np.array_equal(_pixels(a), _pixels(b))
        assert np.array_equal(_pixels(a), _pixels(c))


def test_matches_diffusers_own_text_encoding(engine: Engine, shape: ShapeKey) -> None:
    """A single request equals the plain pipeline fed the prompt string (diffusers encodes it itself)."""
    x = _x(shape)
    ours = engine.run_batch([x])[0]
    with torch.inference_mode():
        theirs = engine.pipe(
            prompt=x.prompt,
            height=shape.height,
            width=shape.width,
            num_inference_steps=shape.steps,
            guidance_scale=shape.guidance,
            generator=[torch.Generator("cpu").manual_seed(x.seed)],
        ).images[0]
    assert np.array_equal(_pixels(ours), np.asarray(theirs).astype(np.int16))


def test_text_embedding_does_not_depend_on_history(engine: Engine) -> None:
    engine.prompt_cache.clear()
    first = engine.embed_text("portrait of a smiling woman").hidden.clone()
    for i in range(3):
        engine.embed_text(f"unrelated {i}")
    engine.prompt_cache.clear()
    assert torch.equal(first, engine.embed_text("portrait of a smiling woman").hidden)


def test_batched_text_encoding_gives_each_text_its_bits_alone(engine: Engine) -> None:
    """A batch's new texts share one encoder call on this CPU, and each gets exactly the embedding it gets
    encoded alone, whatever the batch size, its companions and its position."""
    assert engine.batched_text_encoding
    texts = [f"customer {i} in a bright kitchen, {'soft ' * i}light" for i in range(16)]
    engine.prompt_cache.clear()
    alone = [engine.embed_text(text).hidden.clone() for text in texts]
    for size in (2, 3, 5, 16):
        for order in (texts[:size], texts[:size][::-1]):
            engine.prompt_cache.clear()
            together = engine.embed_texts(order)
            for text, embedding in zip(order, together, strict=True):
                assert torch.equal(embedding.hidden, alone[texts.index(text)]), (size, text)
                assert embedding.hidden._base is None  # its own storage: caching it keeps no batch alive


def test_batched_text_encoding_is_off_when_the_encoder_is_not_batch_invariant(
    tiny_spec: ModelSpec, shape: ShapeKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where batching would change bits (a kernel that rounds by batch size, simulated here), the engine
    keeps one text per encoder call and puts the encoder back as it was."""
    settings = EngineSettings(model_cache=tiny_spec.path.parent, device="cpu")
    real = Engine._encode_clip_batch

    def drifting(self: Engine, texts: list[str]) -> torch.Tensor:
        hidden = real(self, texts)
        if len(texts) == 1:
            return hidden
        return torch.nextafter(hidden, torch.full_like(hidden, float("inf")))  # batched: one ulp off

    monkeypatch.setattr(Engine, "_encode_clip_batch", drifting)
    engine = Engine(tiny_spec, settings=settings)
    assert not engine.batched_text_encoding
    assert not any(isinstance(m, RowWise) for m in engine.pipe.text_encoder.modules())
    calls: list[int] = []

    def counting(self: Engine, texts: list[str]) -> torch.Tensor:
        calls.append(len(texts))
        return real(self, texts)

    monkeypatch.setattr(Engine, "_encode_clip_batch", counting)
    results = engine.run_batch(make_requests(shape, 4, tag="inv"))
    assert all(r.ok for r in results)
    assert calls == [1, 1, 1, 1]  # one text per encoder call
