"""Loading a registered model's diffusers pipeline onto the engine's device, from its local directory only.

diffusers is imported here on first load, not at import: importing the engine loads no model and not even
diffusers (the Django side imports the registry; a worker loads in its child process).
"""

from __future__ import annotations

import importlib
import inspect
import logging
from typing import Any

import torch

from adspec.catalog import ModelKind
from render.engine.config import EngineSettings
from render.engine.errors import EngineConfigError
from render.engine.registry import ModelSpec, model_ensure_installed

logger = logging.getLogger(__name__)

# Compiled graphs kept per module: 7 buckets x a few sizes x guided or not.
RECOMPILE_LIMIT = 64

# The img2img pipeline made from each text-to-image pipeline's components (diffusers names).
IMG2IMG_PIPELINES = {
    "StableDiffusionPipeline": "StableDiffusionImg2ImgPipeline",
    "StableDiffusionXLPipeline": "StableDiffusionXLImg2ImgPipeline",
}


def resolve_device(settings: EngineSettings) -> torch.device:
    if settings.device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if settings.device == "cuda" and not torch.cuda.is_available():
        raise EngineConfigError("REELSMITH_DEVICE=cuda but torch sees no CUDA device")
    return torch.device(settings.device)


def load_pipeline(spec: ModelSpec, *, device: torch.device, dtype: torch.dtype) -> Any:
    """`spec`'s pipeline in `dtype`, read from its directory (not yet moved to `device`)."""
    # 1. The directory: tiny-sd is built there on first use; a real model must already be there.
    path = model_ensure_installed(spec)
    # 2. The class, by name, from diffusers (its import is the slow part: done here, not at import).
    diffusers = importlib.import_module("diffusers")
    pipeline_class = getattr(diffusers, spec.pipeline_class)
    extra: dict[str, Any] = {}
    if "safety_checker" in inspect.signature(pipeline_class.__init__).parameters:
        extra = {"safety_checker": None, "requires_safety_checker": False}
    # 3. Load from the local directory only. diffusers 0.42 names the argument `dtype` and warns on
    #    the older `torch_dtype` (diffusers/utils/deprecation_utils.py).
    logger.info("loading %s from %s (%s, %s)", spec.name, path, device, dtype)
    return pipeline_class.from_pretrained(path, dtype=dtype, local_files_only=True, **extra)


def prepare_pipeline(pipe: Any, *, kind: ModelKind, device: torch.device, compile: bool) -> None:
    """Move `pipe` to `device`, in the memory format and (with `compile`) compiled as it runs fastest there."""
    pipe.to(device)
    pipe.set_progress_bar_config(disable=True)
    video = kind == "video"
    if device.type == "cuda" and not video:
        # The UNet and VAE are convolution-heavy: NHWC lets cuDNN use its tensor-core kernels without
        # transposes ("Accelerating Generative AI with PyTorch II", pytorch.org blog, 2024). diffusers
        # already runs attention through SDPA (AttnProcessor2_0) on torch >= 2. (Wan's transformer is
        # attention and matmuls, its VAE 3-D convolutions: channels_last does not apply.)
        pipe.unet.to(memory_format=torch.channels_last)
        pipe.vae.to(memory_format=torch.channels_last)
    if compile and video:
        mode = "max-autotune-no-cudagraphs" if device.type == "cuda" else None
        pipe.transformer = torch.compile(pipe.transformer, mode=mode, dynamic=False)
    elif compile:
        # One graph per padded batch size (batching.BATCH_BUCKETS), so no dynamic shapes. On CUDA,
        # autotuned kernels without CUDA graphs: graphs would pin a memory pool per bucket.
        mode = "max-autotune-no-cudagraphs" if device.type == "cuda" else None
        # Dynamo recompiles per new shape and gives up (runs eager) after `recompile_limit` (8) of them;
        # seven buckets, times sizes, times guided/unguided, need more.
        torch._dynamo.config.recompile_limit = max(torch._dynamo.config.recompile_limit, RECOMPILE_LIMIT)
        pipe.unet = torch.compile(pipe.unet, mode=mode, dynamic=False)
        pipe.vae.decoder = torch.compile(pipe.vae.decoder, mode=mode, dynamic=False)


def img2img_pipeline(pipe: Any) -> Any:
    """The img2img counterpart of a loaded pipeline, sharing its modules (diffusers `from_pipe`)."""
    diffusers = importlib.import_module("diffusers")
    img2img_class = getattr(diffusers, IMG2IMG_PIPELINES[type(pipe).__name__])
    img2img = img2img_class.from_pipe(pipe)
    img2img.set_progress_bar_config(disable=True)
    return img2img
