"""Engine.run_batch on the real tiny-sd, on CPU."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from adspec.catalog import TINY_SD
from render.engine import pipeline
from render.engine.batching import BATCH_BUCKETS, bucket_size
from render.engine.config import EngineSettings, engine_settings
from render.engine.pipeline import Engine, get_engine, preload_engines
from render.engine.registry import ModelSpec
from render.engine.types import GenerationRequest, ShapeKey
from tests.engine.factories import make_requests


def _pixels(result: Any) -> np.ndarray:
    assert result.image is not None, result.error
    return np.asarray(result.image)


def test_get_engine_is_one_per_model_per_process(engine: Engine) -> None:
    assert get_engine(TINY_SD) is engine
    assert engine.device == torch.device("cpu")
    assert engine.dtype == torch.float32
    assert engine.pipe.safety_checker is None


def test_one_rgb_result_per_request_in_order(engine: Engine, shape: ShapeKey) -> None:
    requests = make_requests(shape, 5, tag="order")
    results = engine.run_batch(requests)
    assert [r.key for r in results] == [r.key for r in requests]
    for result in results:
        assert result.ok
        assert result.image is not None
        assert result.image.mode == "RGB"
        assert result.image.size == (shape.width, shape.height)
    # Different prompts and seeds, different pictures.
    assert len({_pixels(r).tobytes() for r in results}) == len(results)


def test_empty_batch(engine: Engine) -> None:
    assert engine.run_batch([]) == []


def test_padding_never_leaks(engine: Engine, shape: ShapeKey, monkeypatch: pytest.MonkeyPatch) -> None:
    sizes: list[int] = []
    real = engine._denoise

    def spy(padded: Any, shape: ShapeKey, embeds: Any, generators: Any) -> Any:
        sizes.append(len(generators))
        pixels = real(padded, shape, embeds, generators)
        assert len(pixels) == sizes[-1]
        return pixels

    monkeypatch.setattr(engine, "_denoise", spy)
    requests = make_requests(shape, 3, tag="pad")
    results = engine.run_batch(requests)
    assert sizes == [4]  # 3 padded to the bucket of 4
    assert len(results) == 3
    assert [r.key for r in results] == ["pad0", "pad1", "pad2"]
    # The padding repeats the last request: its picture is the last result's, never an extra result.
    assert len({_pixels(r).tobytes() for r in results}) == 3


def test_batches_above_max_batch_are_split(
    engine: Engine, shape: ShapeKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine, "settings", replace(engine.settings, max_batch=4))
    sizes: list[int] = []
    real = engine._denoise

    def spy(padded: Any, shape: ShapeKey, embeds: Any, generators: Any) -> Any:
        sizes.append(len(generators))
        return real(padded, shape, embeds, generators)

    monkeypatch.setattr(engine, "_denoise", spy)
    requests = make_requests(shape, 9, tag="split")
    results = engine.run_batch(requests)
    assert sizes == [4, 4, 1]
    assert [r.key for r in results] == [r.key for r in requests]
    assert all(r.ok for r in results)


@pytest.mark.parametrize(
    ("n", "max_batch", "expected"),
    [
        (1, 16, 1),
        (2, 16, 2),
        (3, 16, 4),
        (5, 16, 8),
        (9, 16, 16),
        (16, 16, 16),
        (33, 64, 64),
        (5, 6, 6),
        (12, 12, 12),
    ],
)
def test_bucket_size(n: int, max_batch: int, expected: int) -> None:
    assert bucket_size(n, max_batch) == expected


def test_bucket_size_rejects_out_of_range() -> None:
    with pytest.raises(ValueError, match="outside"):
        bucket_size(17, 16)
    assert BATCH_BUCKETS[-1] == 64


def test_mismatched_shape_keys_are_rejected(engine: Engine, shape: ShapeKey) -> None:
    odd = GenerationRequest(key="odd-one", shape=replace(shape, steps=3), prompt="x", seed=1)
    with pytest.raises(ValueError, match="odd-one") as caught:
        engine.run_batch([*make_requests(shape, 2, tag="ok"), odd])
    assert "steps=3" in str(caught.value)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"model": "sd-turbo"}, "sd-turbo"),
        ({"width": 60}, "60x64"),
        ({"steps": 0}, "steps=0"),
        ({"scheduler": "lcm"}, "lcm"),
    ],
)
def test_bad_shape_is_rejected_naming_the_request(
    engine: Engine, shape: ShapeKey, change: dict[str, Any], message: str
) -> None:
    bad = GenerationRequest(key="bad-key", shape=replace(shape, **change), prompt="x", seed=1)
    with pytest.raises(ValueError, match="bad-key") as caught:
        engine.run_batch([bad])
    assert message in str(caught.value)


def test_bad_seed_is_rejected(engine: Engine, shape: ShapeKey) -> None:
    with pytest.raises(ValueError, match="seed -1"):
        engine.run_batch([GenerationRequest(key="neg", shape=shape, prompt="x", seed=-1)])


def test_prompt_cache_counts_and_bounds(tiny_spec: ModelSpec, shape: ShapeKey) -> None:
    settings = EngineSettings(model_cache=tiny_spec.path.parent, device="cpu", prompt_cache_size=3)
    engine = Engine(tiny_spec, settings=settings)
    engine.run_batch(make_requests(shape, 2, tag="lru"))  # 2 prompts, 2 misses
    engine.run_batch(make_requests(shape, 2, tag="lru"))  # 2 hits
    info = engine.prompt_cache.info()
    assert (info.hits, info.misses, info.size, info.capacity) == (2, 2, 2, 3)
    engine.run_batch(make_requests(shape, 4, tag="other"))  # 4 more texts through a cache of 3
    assert engine.prompt_cache.info().size == 3


def test_guidance_uses_the_negative_prompt(engine: Engine, shape: ShapeKey) -> None:
    guided = replace(shape, guidance=4.0)
    plain = GenerationRequest(key="plain", shape=guided, prompt="a red car", seed=5)
    negative = replace(plain, key="negative", negative_prompt="blurry, low quality")
    results = engine.run_batch([plain, negative])
    assert all(r.ok for r in results)
    assert not np.array_equal(_pixels(results[0]), _pixels(results[1]))
    # Without guidance the negative prompt is not used at all.
    unguided = engine.run_batch([replace(plain, shape=shape), replace(negative, shape=shape)])
    assert np.array_equal(_pixels(unguided[0]), _pixels(unguided[1]))


# Importing torch._dynamo touches torch.jit.script_method, deprecated in torch 2.13 (torch/jit/_script.py).
@pytest.mark.filterwarnings("ignore:`torch.jit.script_method` is deprecated:DeprecationWarning")
def test_compile_setting_wraps_unet_and_decoder(tiny_spec: ModelSpec) -> None:
    # Wrapping is lazy (nothing compiles until the first call), so this is cheap; compiled runs are
    # benchmarked, not tested (tens of seconds per shape on this CPU).
    settings = EngineSettings(model_cache=tiny_spec.path.parent, device="cpu", compile=True)
    engine = Engine(tiny_spec, settings=settings)
    assert isinstance(engine.pipe.unet, torch._dynamo.eval_frame.OptimizedModule)
    assert isinstance(engine.pipe.vae.decoder, torch._dynamo.eval_frame.OptimizedModule)


def test_nothing_loads_at_import() -> None:
    import subprocess
    import sys

    code = (
        "import sys, render.engine.pipeline, render.engine.registry;"
        "assert 'diffusers' not in sys.modules, 'diffusers imported at import time';"
        "from render.engine import pipeline; assert pipeline._engines == {}"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[2])


def test_preload_loads_the_named_models_and_skips_what_cannot_load(
    model_cache: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """What a GPU worker child does as it starts (render.tasks.preload_models): a model that cannot load is
    logged with its reason and skipped, the others are loaded and then served warm."""
    monkeypatch.setenv("REELSMITH_PRELOAD_MODELS", "sd-turbo,tiny-sd")
    monkeypatch.setattr(pipeline, "_engines", {})  # this process's engines, as a fresh worker child has them
    engine_settings.cache_clear()
    try:
        with caplog.at_level(logging.INFO, logger="render.engine.pipeline"):
            assert preload_engines() == [TINY_SD]
        assert "could not preload model sd-turbo" in caplog.text
        assert "is not installed" in caplog.text  # the reason, naming the directory
        assert "preloaded model tiny-sd" in caplog.text
        assert list(pipeline._engines) == [TINY_SD]  # loaded: the first batch finds it warm
    finally:
        monkeypatch.delenv("REELSMITH_PRELOAD_MODELS")
        engine_settings.cache_clear()


def test_worker_children_preload_on_start(model_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The Celery signal handler is connected and runs the preload only when models are named."""
    from celery.signals import worker_process_init

    import render.tasks  # noqa: F401  (importing it connects the handler, as the worker's autodiscovery does)

    called: list[bool] = []

    def preload() -> list[str]:
        called.append(True)
        return []

    monkeypatch.setattr("render.engine.pipeline.preload_engines", preload)
    worker_process_init.send(sender=None)
    assert called == []  # nothing named: a CPU worker never imports torch for this
    monkeypatch.setenv("REELSMITH_PRELOAD_MODELS", "tiny-sd")
    engine_settings.cache_clear()
    try:
        worker_process_init.send(sender=None)
    finally:
        monkeypatch.delenv("REELSMITH_PRELOAD_MODELS")
        engine_settings.cache_clear()
    assert called == [True]
