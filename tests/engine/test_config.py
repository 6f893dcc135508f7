from __future__ import annotations

from pathlib import Path

import pytest

from render.engine.config import REPO_ROOT, EngineSettings, engine_settings, load_engine_settings
from render.engine.errors import EngineConfigError


def test_defaults() -> None:
    settings = load_engine_settings({})
    assert settings == EngineSettings(model_cache=REPO_ROOT / "var" / "models")
    assert settings.device == "auto"
    assert settings.max_batch == 16
    assert settings.compile is False
    assert settings.prompt_cache_size == 1024
    assert settings.max_wait_ms == 50
    assert settings.preload_models == ()
    assert dict(settings.model_dirs) == {}


def test_values_are_parsed(tmp_path: Path) -> None:
    settings = load_engine_settings(
        {
            "REELSMITH_MODEL_CACHE": str(tmp_path),
            "REELSMITH_DEVICE": "CPU",
            "REELSMITH_MAX_BATCH": "8",
            "REELSMITH_COMPILE": "yes",
            "REELSMITH_PROMPT_CACHE_SIZE": "0",
            "REELSMITH_MAX_WAIT_MS": "0",
            "REELSMITH_PRELOAD_MODELS": " sd-turbo, ,tiny-sd ",
            "REELSMITH_MODEL_DIR_SD_TURBO": str(tmp_path / "turbo"),
        }
    )
    assert settings.preload_models == ("sd-turbo", "tiny-sd")
    assert settings.model_cache == tmp_path.resolve()
    assert settings.device == "cpu"
    assert settings.max_batch == 8
    assert settings.compile is True
    assert settings.prompt_cache_size == 0
    assert settings.max_wait_ms == 0
    assert settings.model_dirs == {"REELSMITH_MODEL_DIR_SD_TURBO": (tmp_path / "turbo").resolve()}


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"REELSMITH_DEVICE": "tpu"}, "REELSMITH_DEVICE"),
        ({"REELSMITH_MAX_BATCH": "many"}, "REELSMITH_MAX_BATCH"),
        ({"REELSMITH_MAX_BATCH": "0"}, "REELSMITH_MAX_BATCH"),
        ({"REELSMITH_COMPILE": "maybe"}, "REELSMITH_COMPILE"),
        ({"REELSMITH_PROMPT_CACHE_SIZE": "-1"}, "REELSMITH_PROMPT_CACHE_SIZE"),
        ({"REELSMITH_MAX_WAIT_MS": "-5"}, "REELSMITH_MAX_WAIT_MS"),
    ],
)
def test_bad_values_fail_loudly_naming_the_variable(environ: dict[str, str], named: str) -> None:
    with pytest.raises(EngineConfigError, match=named):
        load_engine_settings(environ)


def test_settings_are_frozen_and_read_once(monkeypatch: pytest.MonkeyPatch) -> None:
    engine_settings.cache_clear()
    try:
        monkeypatch.setenv("REELSMITH_MAX_BATCH", "3")
        first = engine_settings()
        monkeypatch.setenv("REELSMITH_MAX_BATCH", "5")
        assert engine_settings() is first
        assert first.max_batch == 3
        with pytest.raises(AttributeError):
            first.max_batch = 4  # type: ignore[misc]  # assigning to a frozen field is the point
    finally:
        engine_settings.cache_clear()
