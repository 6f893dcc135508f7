"""The engine's settings: one typed, frozen table read once from the environment.

Shaped like vLLM's vllm/envs.py: every variable the engine reads is named here, with its default and how
it is parsed, and nowhere else reads `os.environ`. A bad value fails loudly, naming the variable.

| variable | default | meaning |
| --- | --- | --- |
| REELSMITH_MODEL_CACHE | <repo root>/var/models | where model directories live (`<cache>/<model name>`) |
| REELSMITH_MODEL_DIR_<NAME> | unset | one model's directory, overriding the cache (`tiny-sd` -> `TINY_SD`) |
| REELSMITH_DEVICE | auto | `auto` (CUDA when available), `cpu` or `cuda` |
| REELSMITH_MAX_BATCH | 16 | most requests in one pipeline call; bigger batches are split |
| REELSMITH_COMPILE | off | `torch.compile` the UNet and VAE decoder (1, true, yes, on) |
| REELSMITH_PROMPT_CACHE_SIZE | 1024 | text-encoder outputs kept per engine (0 turns the cache off) |
| REELSMITH_MAX_WAIT_MS | 50 | how long a generate task lingers for a batch to fill, from its oldest request (0: never) |
| REELSMITH_PRELOAD_MODELS | unset | models a worker process loads (and, compiled, warms up) when it starts, comma-separated |
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Literal, cast

from render.engine.errors import EngineConfigError

Device = Literal["auto", "cpu", "cuda"]

# render/engine/config.py -> parents[2] is the repository root.
REPO_ROOT = Path(__file__).resolve().parents[2]

MODEL_DIR_PREFIX = "REELSMITH_MODEL_DIR_"
_DEVICES: tuple[Device, ...] = ("auto", "cpu", "cuda")
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"", "0", "false", "no", "off"})

# Defaults. 16 requests per pipeline call: batching gains 1.3-2x for UNets at <=1024^2 (docs/performance.md,
# "What pays") and 16 SD-Turbo 512^2 images fit easily in 80 GB; deployments with more
# memory raise it (the padding buckets go to 64). 1024 cached prompt embeddings of SD-Turbo
# (77 tokens x 1024 wide x 2 bytes = 154 KiB each) are ~160 MiB of GPU memory.
DEFAULT_MAX_BATCH = 16
DEFAULT_PROMPT_CACHE_SIZE = 1024
# Batching window, measured from the oldest pending request of the shape. 50 ms is a few percent of an
# interactive render's seconds of compose time, and about one SD-Turbo batch of 16 on an H100 (~8 ms per
# 512^2 image at 50 % of the matmul ceiling, docs/performance.md), so a burst arriving within one batch
# time shares a call. Ray Serve's @serve.batch defaults to 10 ms; GPU batches here are slower.
DEFAULT_MAX_WAIT_MS = 50


@dataclass(frozen=True, slots=True)
class EngineSettings:
    model_cache: Path
    device: Device = "auto"
    max_batch: int = DEFAULT_MAX_BATCH
    compile: bool = False
    prompt_cache_size: int = DEFAULT_PROMPT_CACHE_SIZE
    max_wait_ms: int = DEFAULT_MAX_WAIT_MS
    preload_models: tuple[str, ...] = ()
    # REELSMITH_MODEL_DIR_<NAME> overrides, keyed by the variable's full name (see model_dir_env_name).
    model_dirs: Mapping[str, Path] = field(default_factory=lambda: MappingProxyType({}))


def model_dir_env_name(model_name: str) -> str:
    """`tiny-sd` -> `REELSMITH_MODEL_DIR_TINY_SD`."""
    return MODEL_DIR_PREFIX + model_name.upper().replace("-", "_").replace(".", "_")


def _int(environ: Mapping[str, str], name: str, default: int, *, minimum: int) -> int:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise EngineConfigError(f"{name}={raw!r} is not an integer") from None
    if value < minimum:
        raise EngineConfigError(f"{name}={value} is below the minimum of {minimum}")
    return value


def _bool(environ: Mapping[str, str], name: str) -> bool:
    raw = environ.get(name, "").strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise EngineConfigError(f"{name}={raw!r} is not a boolean (use 1/0, true/false, yes/no, on/off)")


def _device(environ: Mapping[str, str]) -> Device:
    raw = environ.get("REELSMITH_DEVICE", "").strip().lower() or "auto"
    if raw not in _DEVICES:
        raise EngineConfigError(f"REELSMITH_DEVICE={raw!r} is not one of {', '.join(_DEVICES)}")
    return cast(Device, raw)


def _path(raw: str) -> Path:
    return Path(raw).expanduser().resolve()


def load_engine_settings(environ: Mapping[str, str]) -> EngineSettings:
    """Parse the engine's variables out of `environ` (pure: tests pass a dict)."""
    cache_raw = environ.get("REELSMITH_MODEL_CACHE", "").strip()
    model_dirs = {
        name: _path(value)
        for name, value in environ.items()
        if name.startswith(MODEL_DIR_PREFIX) and value.strip()
    }
    return EngineSettings(
        model_cache=_path(cache_raw) if cache_raw else REPO_ROOT / "var" / "models",
        device=_device(environ),
        max_batch=_int(environ, "REELSMITH_MAX_BATCH", DEFAULT_MAX_BATCH, minimum=1),
        compile=_bool(environ, "REELSMITH_COMPILE"),
        prompt_cache_size=_int(environ, "REELSMITH_PROMPT_CACHE_SIZE", DEFAULT_PROMPT_CACHE_SIZE, minimum=0),
        max_wait_ms=_int(environ, "REELSMITH_MAX_WAIT_MS", DEFAULT_MAX_WAIT_MS, minimum=0),
        preload_models=tuple(
            name.strip() for name in environ.get("REELSMITH_PRELOAD_MODELS", "").split(",") if name.strip()
        ),
        model_dirs=MappingProxyType(model_dirs),
    )


@functools.cache
def engine_settings() -> EngineSettings:
    """The process's settings, read from `os.environ` on first call. Tests call `.cache_clear()`."""
    return load_engine_settings(os.environ)
