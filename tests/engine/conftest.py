"""Engine test fixtures: a private model cache for the session, the real tiny-sd on CPU."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from adspec.catalog import TINY_SD
from render.engine.config import engine_settings
from render.engine.pipeline import Engine, engines_clear, get_engine
from render.engine.registry import ModelSpec, model_spec
from render.engine.types import ShapeKey


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Point the engine at a fresh model cache, on CPU, offline, for the whole session."""
    cache = tmp_path_factory.mktemp("models")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("REELSMITH_MODEL_CACHE", str(cache))
        mp.setenv("REELSMITH_DEVICE", "cpu")
        mp.setenv("HF_HUB_OFFLINE", "1")
        for name in (
            "REELSMITH_MAX_BATCH",
            "REELSMITH_COMPILE",
            "REELSMITH_PROMPT_CACHE_SIZE",
            "REELSMITH_MAX_WAIT_MS",
        ):
            mp.delenv(name, raising=False)
        engine_settings.cache_clear()
        engines_clear()
        yield cache
        engines_clear()
    engine_settings.cache_clear()


@pytest.fixture(scope="session")
def tiny_spec(model_cache: Path) -> ModelSpec:
    return model_spec(TINY_SD)


@pytest.fixture(scope="session")
def engine(model_cache: Path) -> Engine:
    """The process's tiny-sd engine (built into the session's cache on first use)."""
    return get_engine(TINY_SD)


@pytest.fixture(scope="session")
def shape(tiny_spec: ModelSpec) -> ShapeKey:
    return tiny_spec.shape_key()
