"""The model registry: which models the engine serves, how they load, and what they default to.

A model's directory is `<REELSMITH_MODEL_CACHE>/<name>` unless `REELSMITH_MODEL_DIR_<NAME>` names another
one. It is a diffusers `save_pretrained` directory; nothing is ever downloaded from a hub. `tiny-sd` is
built there from config on first use; the real models must be put there (from the model bucket).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from render.engine.config import EngineSettings, engine_settings, model_dir_env_name
from render.engine.errors import ModelNotInstalledError, UnknownModelError
from render.engine.types import ShapeKey

CudaDtype = Literal["bfloat16", "float16"]
Kind = Literal["image", "video"]

TINY_SD = "tiny-sd"
SD_TURBO = "sd-turbo"
SDXL_TURBO = "sdxl-turbo"
TINY_WAN = "tiny-wan"
WAN_T2V = "wan2.1-t2v-1.3b"

# Wan 2.1's VAE compresses time 4x: clips are 1 + 4k frames (diffusers WanPipeline rounds others down).
WAN_FRAME_MULTIPLE = 4

Size = tuple[int, int]  # (width, height)

# Native resolution buckets of the 512-pixel SD models (sd-turbo, sdxl-turbo: both trained at 512^2):
# kohya-ss sd-scripts' aspect-ratio bucketing (library/model_util.py `make_bucket_resolutions`): sides in
# steps of 64, area at most 512^2, from square out to 320x768. 384x640 (0.6) is the bucket for 9:16.
SD_512_BUCKETS: tuple[Size, ...] = (
    (512, 512),
    (448, 576),
    (576, 448),
    (384, 640),
    (640, 384),
    (320, 768),
    (768, 320),
)
# tiny-sd: the same shapes at 1/8 scale (its native 64^2), sides multiples of 8 (SIZE_MULTIPLE).
TINY_SD_BUCKETS: tuple[Size, ...] = tuple((w // 8, h // 8) for w, h in SD_512_BUCKETS)
# Wan2.1-T2V-1.3B supports 480P only, landscape and portrait (Wan-Video/Wan2.1 wan/configs
# SUPPORTED_SIZES["t2v-1.3B"]: "480*832", "832*480").
WAN_480P_BUCKETS: tuple[Size, ...] = ((832, 480), (480, 832))
# tiny-wan: square plus the same two orientations, sides multiples of 16 (8x VAE, 2x2 patches).
TINY_WAN_BUCKETS: tuple[Size, ...] = ((64, 64), (48, 80), (80, 48))


def crop_loss(size: Size, aspect: float) -> float:
    """The fraction of a `size` picture cut away when it is scaled and cropped to cover a frame of `aspect`
    (width / height), as the compositor does."""
    ratio = size[0] / size[1]
    return 1.0 - min(ratio, aspect) / max(ratio, aspect)


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
    kind: Kind = "image"
    num_frames: int | None = None  # video models: frames per clip by default
    fps: int | None = None  # video models: the frame rate the model was trained at
    buckets: tuple[Size, ...] = ()  # native resolution buckets, the default (width, height) first

    def size_for(self, aspects: Sequence[float]) -> Size:
        """The native bucket for frames of these aspect ratios (a render's formats): the one that crops
        least from the worst-served format, so a 9:16-only template gets a portrait picture and one with
        9:16 and 16:9 a square one. Ties go to the earlier bucket (the model's default size first)."""
        buckets = self.buckets or ((self.width, self.height),)
        if not aspects:
            return buckets[0]
        return min(buckets, key=lambda size: max(crop_loss(size, aspect) for aspect in aspects))

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


@dataclass(frozen=True, slots=True)
class _Entry:
    pipeline_class: str
    dtype_cuda: CudaDtype
    default_steps: int
    default_guidance: float
    width: int
    height: int
    buildable: bool = False
    kind: Kind = "image"
    num_frames: int | None = None
    fps: int | None = None
    buckets: tuple[Size, ...] = ()


_REGISTRY: dict[str, _Entry] = {
    # Random weights, for tests, the embedded demo and CPU benchmarks. 64^2 with 2 steps: the size of
    # diffusers' own SD fast tests. Guidance 0 like the turbo models, so one UNet pass per step.
    TINY_SD: _Entry(
        "StableDiffusionPipeline", "bfloat16", 2, 0.0, 64, 64, buildable=True, buckets=TINY_SD_BUCKETS
    ),
    # stabilityai/sd-turbo model card: 512^2, 1 step (up to 4), guidance_scale=0.0 (trained without CFG).
    SD_TURBO: _Entry("StableDiffusionPipeline", "bfloat16", 1, 0.0, 512, 512, buckets=SD_512_BUCKETS),
    # stabilityai/sdxl-turbo model card: 512^2, 1 step, guidance_scale=0.0. bf16, not fp16: the SDXL VAE
    # overflows in fp16 (diffusers upcasts it, `force_upcast`), bf16 has fp32's range.
    SDXL_TURBO: _Entry("StableDiffusionXLPipeline", "bfloat16", 1, 0.0, 512, 512, buckets=SD_512_BUCKETS),
    # Wan-AI/Wan2.1-T2V-1.3B-Diffusers model card: 832x480 (480p), 81 frames at 16 fps, guidance 5.0; 50
    # sampling steps (the Wan repository's default for text-to-video).
    WAN_T2V: _Entry(
        "WanPipeline",
        "bfloat16",
        50,
        5.0,
        832,
        480,
        kind="video",
        num_frames=81,
        fps=16,
        buckets=WAN_480P_BUCKETS,
    ),
    # Random weights, for CPU tests: the sizes of diffusers' own Wan fast tests (render/engine/tiny.py), 64^2,
    # 9 frames (3 latent frames), 2 steps without guidance, 8 fps.
    TINY_WAN: _Entry(
        "WanPipeline",
        "bfloat16",
        2,
        0.0,
        64,
        64,
        buildable=True,
        kind="video",
        num_frames=9,
        fps=8,
        buckets=TINY_WAN_BUCKETS,
    ),
}


def model_names() -> tuple[str, ...]:
    return tuple(_REGISTRY)


def model_dir(name: str, *, settings: EngineSettings | None = None) -> Path:
    """Where model `name` lives: its REELSMITH_MODEL_DIR_<NAME> override, else `<model cache>/<name>`."""
    settings = settings or engine_settings()
    override = settings.model_dirs.get(model_dir_env_name(name))
    return override if override is not None else settings.model_cache / name


def model_spec(name: str, *, settings: EngineSettings | None = None) -> ModelSpec:
    """The registered model `name`, its directory resolved; raises UnknownModelError."""
    entry = _REGISTRY.get(name)
    if entry is None:
        raise UnknownModelError(f"unknown model {name!r}; registered: {', '.join(_REGISTRY)}")
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
    from render.engine import tiny

    builders: dict[str, Callable[[Path], None]] = {TINY_SD: tiny.build_tiny_sd, TINY_WAN: tiny.build_tiny_wan}
    builder = builders.get(spec.name)
    if builder is None:
        raise ModelNotInstalledError(f"model {spec.name!r} is marked buildable but has no builder")
    builder(spec.path)
    return spec.path
