from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from adspec.catalog import SD_TURBO, SDXL_TURBO, TINY_SD, crop_loss, model_names
from render.engine.config import EngineSettings, engine_settings, load_engine_settings
from render.engine.errors import ModelNotInstalledError, UnknownModelError
from render.engine.pipeline import Engine
from render.engine.registry import model_ensure_installed, model_spec
from render.engine.tiny import build_tiny_sd


def _settings(tmp_path: Path, **environ: str) -> EngineSettings:
    return load_engine_settings(
        {"REELSMITH_MODEL_CACHE": str(tmp_path), "REELSMITH_DEVICE": "cpu", **environ}
    )


def test_registered_models(tmp_path: Path) -> None:
    assert set(model_names()) >= {TINY_SD, SD_TURBO, SDXL_TURBO}
    tiny = model_spec(TINY_SD, settings=_settings(tmp_path))
    assert (tiny.width, tiny.height, tiny.default_steps, tiny.buildable) == (64, 64, 2, True)
    turbo = model_spec(SD_TURBO, settings=_settings(tmp_path))
    assert (turbo.pipeline_class, turbo.width, turbo.default_steps, turbo.default_guidance) == (
        "StableDiffusionPipeline",
        512,
        1,
        0.0,
    )
    xl = model_spec(SDXL_TURBO, settings=_settings(tmp_path))
    assert xl.pipeline_class == "StableDiffusionXLPipeline"
    assert not turbo.buildable
    assert not xl.buildable


def test_unknown_model() -> None:
    with pytest.raises(UnknownModelError, match="no-such-model"):
        model_spec("no-such-model")


def test_model_directory_is_cache_slash_name_unless_overridden(tmp_path: Path) -> None:
    assert model_spec(SD_TURBO, settings=_settings(tmp_path)).path == tmp_path.resolve() / SD_TURBO
    elsewhere = tmp_path / "bucket" / "turbo"
    settings = _settings(tmp_path, REELSMITH_MODEL_DIR_SD_TURBO=str(elsewhere))
    assert model_spec(SD_TURBO, settings=settings).path == elsewhere.resolve()
    assert model_spec(SDXL_TURBO, settings=settings).path == tmp_path.resolve() / SDXL_TURBO


def test_missing_real_model_names_its_directory(tmp_path: Path) -> None:
    spec = model_spec(SD_TURBO, settings=_settings(tmp_path))
    with pytest.raises(ModelNotInstalledError) as caught:
        model_ensure_installed(spec)
    assert str(spec.path) in str(caught.value)
    assert "REELSMITH_MODEL_DIR_SD_TURBO" in str(caught.value)
    # Loading goes through the same check, before diffusers is asked for anything.
    with pytest.raises(ModelNotInstalledError, match=str(spec.path)):
        Engine(spec, settings=_settings(tmp_path))


def test_empty_directory_is_not_installed(tmp_path: Path) -> None:
    spec = model_spec(SDXL_TURBO, settings=_settings(tmp_path))
    spec.path.mkdir(parents=True)
    with pytest.raises(ModelNotInstalledError, match=str(spec.path)):
        model_ensure_installed(spec)


def test_shape_key_fills_defaults(tmp_path: Path) -> None:
    spec = model_spec(SD_TURBO, settings=_settings(tmp_path))
    key = spec.shape_key(steps=4)
    assert (key.model, key.width, key.height, key.steps, key.guidance) == (SD_TURBO, 512, 512, 4, 0.0)
    assert replace(key, steps=1) == spec.shape_key()


def test_a_tiny_model_somebody_points_at_is_used_as_it_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """REELSMITH_MODEL_DIR_TINY_SD names somebody's own directory: it is never rebuilt or replaced, even when
    it is not this code's build (in the model cache it would be)."""
    theirs = tmp_path / "their-tiny-sd"
    build_tiny_sd(theirs, layout="sd1")  # another build than this code makes
    before = (theirs / "unet" / "config.json").read_bytes()
    monkeypatch.setenv("REELSMITH_MODEL_DIR_TINY_SD", str(theirs))
    engine_settings.cache_clear()
    try:
        assert model_ensure_installed(model_spec(TINY_SD)) == theirs.resolve()
    finally:
        monkeypatch.delenv("REELSMITH_MODEL_DIR_TINY_SD")
        engine_settings.cache_clear()
    assert (theirs / "unet" / "config.json").read_bytes() == before


@pytest.mark.parametrize(
    ("model", "aspects", "size"),
    [
        (SD_TURBO, [9 / 16], (384, 640)),
        (SD_TURBO, [16 / 9], (640, 384)),
        (SD_TURBO, [4 / 5], (448, 576)),
        (SD_TURBO, [1.0], (512, 512)),
        (SD_TURBO, [9 / 16, 16 / 9], (512, 512)),  # both served alike: the square crops least from either
        (SD_TURBO, [], (512, 512)),
        (TINY_SD, [9 / 16], (48, 80)),
        (TINY_SD, [9 / 16, 1.0, 4 / 5], (56, 72)),
        ("wan2.1-t2v-1.3b", [9 / 16], (480, 832)),
        ("wan2.1-t2v-1.3b", [1.0], (832, 480)),  # a tie goes to the model's default size
        ("tiny-wan", [9 / 16], (48, 80)),
    ],
)
def test_the_bucket_for_a_render_s_formats(
    tmp_path: Path, model: str, aspects: list[float], size: tuple[int, int]
) -> None:
    spec = model_spec(model, settings=_settings(tmp_path))
    assert spec.size_for(aspects) == size
    assert size in spec.buckets
    assert spec.buckets[0] == (spec.width, spec.height)


def test_crop_loss() -> None:
    assert crop_loss((512, 512), 1.0) == 0.0
    assert crop_loss((384, 640), 9 / 16) == pytest.approx(1 - (9 / 16) / 0.6)
    assert crop_loss((640, 384), 9 / 16) == pytest.approx(1 - (9 / 16) / (640 / 384))


def test_tiny_sd_makes_pictures_at_every_bucket(model_cache: Path) -> None:
    from render.engine.pipeline import get_engine
    from render.engine.types import GenerationRequest

    engine = get_engine(TINY_SD)
    for width, height in engine.spec.buckets:
        shape = engine.spec.shape_key(width=width, height=height)
        [result] = engine.run_batch([GenerationRequest(key="b", shape=shape, prompt="a kitchen", seed=1)])
        assert result.image is not None, result.error
        assert result.image.size == (width, height)
