"""The model catalog: every model a spec may name, what it makes, at which sizes, and how it loads.

Pure data (no torch, no diffusers): the validator reads model names, kinds and clip lengths from here, the
planner the native sizes, and the engine (`render/engine/registry.py`) resolves each entry into a
loadable `ModelSpec` (its directory, the diffusers class, the CUDA dtype). One table: a model is added here
and nowhere else.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

CudaDtype = Literal["bfloat16", "float16"]
ModelKind = Literal["image", "video"]

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
# tiny-sd: the same shapes at 1/8 scale (its native 64^2), sides multiples of 8 (the SD pipelines' size
# multiple, render/engine/pipeline.py SIZE_MULTIPLE).
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


def bucket_for(buckets: Sequence[Size], aspects: Sequence[float]) -> Size:
    """The bucket for frames of these aspect ratios (a render's formats): the one that crops least from the
    worst-served format, so a 9:16-only template gets a portrait picture and one with 9:16 and 16:9 a
    square one. Ties go to the earlier bucket (a model's default size first)."""
    if not aspects:
        return buckets[0]
    return min(buckets, key=lambda size: max(crop_loss(size, aspect) for aspect in aspects))


@dataclass(frozen=True, slots=True)
class CatalogModel:
    """One model: what it makes and its defaults (what a spec sees), and how it loads (what the engine
    resolves: a diffusers pipeline class name, the dtype on CUDA, whether it is built locally)."""

    pipeline_class: str  # a diffusers pipeline class name, e.g. "StableDiffusionPipeline"
    dtype_cuda: CudaDtype
    default_steps: int
    default_guidance: float
    width: int
    height: int
    buildable: bool = False  # built locally from config when its directory is missing (the tiny models)
    kind: ModelKind = "image"
    num_frames: int | None = None  # video models: frames per clip by default
    fps: int | None = None  # video models: the frame rate the model was trained at
    buckets: tuple[Size, ...] = ()  # native resolution buckets, the default (width, height) first


CATALOG: Mapping[str, CatalogModel] = MappingProxyType(
    {
        # Random weights, for tests, the embedded demo and CPU benchmarks. 64^2 with 2 steps: the size of
        # diffusers' own SD fast tests. Guidance 0 like the turbo models, so one UNet pass per step.
        TINY_SD: CatalogModel(
            "StableDiffusionPipeline", "bfloat16", 2, 0.0, 64, 64, buildable=True, buckets=TINY_SD_BUCKETS
        ),
        # stabilityai/sd-turbo model card: 512^2, 1 step (up to 4), guidance_scale=0.0 (trained without CFG).
        SD_TURBO: CatalogModel(
            "StableDiffusionPipeline", "bfloat16", 1, 0.0, 512, 512, buckets=SD_512_BUCKETS
        ),
        # stabilityai/sdxl-turbo model card: 512^2, 1 step, guidance_scale=0.0. bf16, not fp16: the SDXL
        # VAE overflows in fp16 (diffusers upcasts it, `force_upcast`), bf16 has fp32's range.
        SDXL_TURBO: CatalogModel(
            "StableDiffusionXLPipeline", "bfloat16", 1, 0.0, 512, 512, buckets=SD_512_BUCKETS
        ),
        # Wan-AI/Wan2.1-T2V-1.3B-Diffusers model card: 832x480 (480p), 81 frames at 16 fps, guidance 5.0;
        # 50 sampling steps (the Wan repository's default for text-to-video).
        WAN_T2V: CatalogModel(
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
        # Random weights, for CPU tests: the sizes of diffusers' own Wan fast tests (render/engine/tiny.py),
        # 64^2, 9 frames (3 latent frames), 2 steps without guidance, 8 fps.
        TINY_WAN: CatalogModel(
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
)


def model_names() -> tuple[str, ...]:
    return tuple(CATALOG)


def video_model_names() -> list[str]:
    return [name for name, model in CATALOG.items() if model.kind == "video"]
