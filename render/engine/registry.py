"""The model registry: the catalog's models (`adspec/catalog.py`) resolved for this machine.

`model_spec(name)` is the catalog entry plus where its files are (`ModelSpec`), and
`model_ensure_installed` builds the tiny models there. A model's directory is `<REELSMITH_MODEL_CACHE>/<name>` unless `REELSMITH_MODEL_DIR_<NAME>` names another
one. It is a diffusers `save_pretrained` directory; nothing is ever downloaded from a hub. `tiny-sd` is
built there from config on first use; the real models must be put there (from the model bucket).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from adspec.catalog import (
    CATALOG,
    TINY_SD,
    TINY_WAN,
    CudaDtype,
    ModelKind,
    Size,
    bucket_for,
)
from render.engine.config import EngineSettings, engine_settings, model_dir_env_name
from render.engine.errors import ModelNotInstalledError, UnknownModelError
from render.engine.types import ShapeKey


@dataclass(frozen=True, slots=True)
class ModelSpec:
    name: str
    pipeline_class: str  # a diffusers pipeline class name, e.g. "StableDiffusionPipeline"
    path: Path
    dtype_cuda: CudaDtype
    default_steps: int
    default_guidance: float
    width: int
    height: int
    buildable: bool  # built locally from config when its directory is missing (the tiny models)
    kind: ModelKind = "image"
    num_frames: int | None = None  # video models: frames per clip by default
    fps: int | None = None  # video models: the frame rate the model was trained at
    buckets: tuple[Size, ...] = ()  # native resolution buckets, the default (width, height) first

    def size_for(self, aspects: Sequence[float]) -> Size:
        """The native bucket for frames of these aspect ratios (a render's formats): the one that crops
        least from the worst-served format, so a 9:16-only template gets a portrait picture and one with
        9:16 and 16:9 a square one. Ties go to the earlier bucket (the model's default size first)."""
        return bucket_for(self.buckets or ((self.width, self.height),), aspects)

    def shape_key(
        self,
        *,
        steps: int | None = None,
        guidance: float | None = None,
        width: int | None = None,
        height: int | None = None,
        num_frames: int | None = None,
    ) -> ShapeKey:
        """This model's ShapeKey, its defaults filled in."""
        return ShapeKey(
            model=self.name,
            width=self.width if width is None else width,
            height=self.height if height is None else height,
            steps=self.default_steps if steps is None else steps,
            guidance=self.default_guidance if guidance is None else guidance,
            num_frames=(self.num_frames if num_frames is None else num_frames)
            if self.kind == "video"
            else None,
        )


def model_dir(name: str, *, settings: EngineSettings | None = None) -> Path:
    """Where model `name` lives: its REELSMITH_MODEL_DIR_<NAME> override, else `<model cache>/<name>`."""
    settings = settings or engine_settings()
    override = settings.model_dirs.get(model_dir_env_name(name))
    return override if override is not None else settings.model_cache / name


def model_spec(name: str, *, settings: EngineSettings | None = None) -> ModelSpec:
    """The registered model `name`, its directory resolved; raises UnknownModelError."""
    entry = CATALOG.get(name)
    if entry is None:
        raise UnknownModelError(f"unknown model {name!r}; registered: {', '.join(CATALOG)}")
    return ModelSpec(
        name=name,
        pipeline_class=entry.pipeline_class,
        path=model_dir(name, settings=settings),
        dtype_cuda=entry.dtype_cuda,
        default_steps=entry.default_steps,
        default_guidance=entry.default_guidance,
        width=entry.width,
        height=entry.height,
        buildable=entry.buildable,
        kind=entry.kind,
        num_frames=entry.num_frames,
        fps=entry.fps,
        buckets=entry.buckets,
    )


def model_is_installed(spec: ModelSpec) -> bool:
    return (spec.path / "model_index.json").is_file()


def model_ensure_installed(spec: ModelSpec) -> Path:
    """Return the model's directory, building it first if it is buildable and missing or outdated.

    A buildable model in the model cache is (re)built unless the directory holds this code's build (the
    builders check their marker, render/engine/tiny.py); one that REELSMITH_MODEL_DIR_<NAME> points at is
    somebody's own and used as it is. Raises ModelNotInstalledError, naming the directory, for a real model
    that is not there.
    """
    # Ours to (re)build: a buildable model in the cache, not a directory somebody named.
    ours = spec.buildable and model_dir_env_name(spec.name) not in engine_settings().model_dirs
    if model_is_installed(spec) and not ours:
        return spec.path
    if not spec.buildable:
        raise ModelNotInstalledError(
            f"model {spec.name!r} is not installed: {spec.path} has no model_index.json. Put the model's "
            f"diffusers directory there, or point {model_dir_env_name(spec.name)} at it."
        )
    # Imported on use, not at the top: tiny imports torch, and the Django side reads this registry
    # (render/planning.py) in processes that never load a model.
    from render.engine import tiny

    builders: dict[str, Callable[[Path], None]] = {TINY_SD: tiny.build_tiny_sd, TINY_WAN: tiny.build_tiny_wan}
    builder = builders.get(spec.name)
    if builder is None:
        raise ModelNotInstalledError(f"model {spec.name!r} is marked buildable but has no builder")
    builder(spec.path)
    return spec.path
