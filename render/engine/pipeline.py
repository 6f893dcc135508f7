"""The engine: load a registered diffusers pipeline once, then turn batches of requests into pictures.

Shaped like a serving loop (Ray Serve's batching, vLLM's engine step): `get_engine(name)` loads on first
use in the worker process and keeps the model warm; `Engine.run_batch(requests)` returns exactly one
`GenerationResult` per request, in order. A batch that runs out of GPU memory is split in half and
retried; a sticky CUDA failure raises `FatalEngineError` so the worker exits; any other failure marks
every member of that batch failed with a short reason.

Determinism. A picture is a function of (model, prompt, negative prompt, seed, size, steps, guidance):
each request brings its own `torch.Generator(device).manual_seed(seed)` for its initial noise, and a
text's embedding never depends on which other texts were encoded alongside it or on whether it came from
the prompt cache: a batch's new texts go through the text encoder together only when the engine has
checked, at load, that doing so gives every text exactly the bits it gets alone (`_check_batch_invariance`;
else one text per encoder call). How far pictures are bit-identical, measured on CPU with torch 2.13
(tests/engine/test_determinism.py):

- Bit-identical for the same padded batch size, whatever the other members are and wherever the request
  sits in the batch: every kernel computes each row the same way for a given shape.
- Across padded batch sizes, equal to within ~1e-6 in [0, 1] (at most 1/255 after 8-bit quantisation,
  usually none) but not bit-identical: the kernels change algorithm with the batch size. ATen sends a
  batch-1 fp32 convolution of a small input to its THNN im2col path and batches of 2+ to oneDNN
  (aten/src/ATen/native/Convolution.cpp, `use_mkldnn`), and the BLAS sgemm (MKL in the x86 wheels) picks
  other code paths for very small M (here the time-embedding Linear: M = batch size), so the float sums
  run in another order. On this machine sizes 1, 2-3 and 4+ form three classes that agree bitwise inside
  each class. All of this is for one thread count (2 here): parallel reductions split by thread.
- On CUDA the same is expected in kind (cuBLAS/cuDNN pick algorithms per shape; untested here, no GPU);
  nothing here forces deterministic algorithms, which would cost speed.

A stored picture is reused by content hash, so once generated the same inputs always give the same bytes.
"""

from __future__ import annotations

import gc
import importlib
import inspect
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import torch
from PIL import Image

from render.engine.config import EngineSettings, engine_settings
from render.engine.errors import EngineConfigError, FatalEngineError
from render.engine.registry import WAN_FRAME_MULTIPLE, ModelSpec, model_ensure_installed, model_spec
from render.engine.types import GenerationRequest, GenerationResult, ShapeKey

logger = logging.getLogger(__name__)

ErrorKind = Literal["oom", "fatal", "failed"]

# Padded batch sizes. Powers of two up to 64 (the UNet batch MLPerf's SDXL submission runs, docs
# PERFORMANCE.md) keep the number of distinct shapes, hence compiled graphs, at seven.
BATCH_BUCKETS: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64)

# Compiled graphs kept per module: 7 buckets x a few sizes x guided or not.
RECOMPILE_LIMIT = 64

# The SD pipelines refuse sizes that are not multiples of 8 (StableDiffusionPipeline.check_inputs).
SIZE_MULTIPLE = 8

# Pipelines whose text-to-image path `Engine._denoise` reproduces (SD 1.x/2.x: one text encoder, no extra
# conditioning). Others (SDXL) go through the pipeline's own __call__.
DIRECT_LOOP_PIPELINES = frozenset({"StableDiffusionPipeline"})

# The img2img pipeline made from each text-to-image pipeline's components (diffusers names).
IMG2IMG_PIPELINES = {
    "StableDiffusionPipeline": "StableDiffusionImg2ImgPipeline",
    "StableDiffusionXLPipeline": "StableDiffusionXLImg2ImgPipeline",
}

# torch.Generator.manual_seed takes a 64-bit seed.
MAX_SEED = 2**64 - 1

# Short reasons only: they are stored on Generation rows and shown to people.
MAX_REASON_CHARS = 200

# Messages of CUDA errors that leave the context unusable ("sticky": every later call fails the same
# way, and the process must be restarted). CUDA Runtime API, cudaError_t: cudaErrorIllegalAddress,
# cudaErrorAssert, cudaErrorLaunchFailure, cudaErrorECCUncorrectable, cudaErrorMisalignedAddress,
# cudaErrorIllegalInstruction, cudaErrorHardwareStackError; the strings are cudaGetErrorString's.
STICKY_CUDA_MARKERS: tuple[str, ...] = (
    "illegal memory access",
    "device-side assert",
    "unspecified launch failure",
    "ecc error",  # "uncorrectable ECC error encountered"
    "misaligned address",
    "illegal instruction",
    "hardware stack error",
)


def classify_error(exc: BaseException) -> ErrorKind:
    """What a failed batch should do next: "oom" split and retry, "fatal" end the worker, "failed" report."""
    message = str(exc).lower()
    if any(marker in message for marker in STICKY_CUDA_MARKERS):
        return "fatal"
    if isinstance(exc, torch.cuda.OutOfMemoryError):
        return "oom"
    # Allocator failures outside the caching allocator (cuBLAS workspaces, cuDNN, NCCL) arrive as a plain
    # RuntimeError "CUDA error: out of memory"; CPU allocations fail with "DefaultCPUAllocator: can't
    # allocate memory", which splitting helps just as much.
    if isinstance(exc, RuntimeError) and ("out of memory" in message or "can't allocate memory" in message):
        return "oom"
    return "failed"


def short_reason(exc: BaseException) -> str:
    """`ExceptionType: first line of the message`, cut to MAX_REASON_CHARS."""
    lines = str(exc).strip().splitlines()
    first = lines[0] if lines else ""
    reason = f"{type(exc).__name__}: {first}" if first else type(exc).__name__
    return reason if len(reason) <= MAX_REASON_CHARS else reason[: MAX_REASON_CHARS - 3] + "..."


def bucket_size(n: int, max_batch: int) -> int:
    """The padded size for `n` requests: the smallest bucket >= n, never above `max_batch`."""
    if not 1 <= n <= max_batch:
        raise ValueError(f"batch of {n} is outside 1..{max_batch}")
    for size in BATCH_BUCKETS:
        if n <= size <= max_batch:
            return size
    return max_batch  # max_batch is not a bucket (say 12) and n is above the last bucket under it


def resolve_device(settings: EngineSettings) -> torch.device:
    if settings.device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if settings.device == "cuda" and not torch.cuda.is_available():
        raise EngineConfigError("REELSMITH_DEVICE=cuda but torch sees no CUDA device")
    return torch.device(settings.device)


@dataclass(frozen=True, slots=True)
class TextEmbedding:
    """One text's encoder output, batch dimension 1. `pooled` is SDXL's pooled projection, else None."""

    hidden: torch.Tensor
    pooled: torch.Tensor | None = None


@dataclass(frozen=True, slots=True)
class PromptCacheInfo:
    hits: int
    misses: int
    size: int
    capacity: int


class PromptEmbeddingCache:
    """LRU of text-encoder outputs keyed by (model, text). Not thread-safe: one per single-threaded engine."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._entries: OrderedDict[tuple[str, str], TextEmbedding] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, key: tuple[str, str]) -> TextEmbedding | None:
        entry = self._entries.get(key)
        if entry is None:
            self.misses += 1
            return None
        self.hits += 1
        self._entries.move_to_end(key)
        return entry

    def put(self, key: tuple[str, str], value: TextEmbedding) -> None:
        if self.capacity <= 0:
            return
        self._entries[key] = value
        self._entries.move_to_end(key)
        while len(self._entries) > self.capacity:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()

    def info(self) -> PromptCacheInfo:
        return PromptCacheInfo(self.hits, self.misses, len(self._entries), self.capacity)


class Engine:
    """One loaded pipeline and its prompt cache. Build with `get_engine(name)`; not thread-safe."""

    def __init__(
        self,
        spec: ModelSpec,
        *,
        settings: EngineSettings | None = None,
        pipeline: Any | None = None,
    ) -> None:
        """Load `spec`'s pipeline, or adopt `pipeline` (benchmarks build full-size ones from config)."""
        self.spec = spec
        self.settings = settings or engine_settings()
        self.device = resolve_device(self.settings)
        # fp32 on CPU, the registry's bf16/fp16 on CUDA (docs ARCHITECTURE.md "The hot path").
        self.dtype = torch.float32 if self.device.type == "cpu" else getattr(torch, spec.dtype_cuda)
        self.prompt_cache = PromptEmbeddingCache(self.settings.prompt_cache_size)
        self.pipe = self._load() if pipeline is None else pipeline
        self._prepare(self.pipe)
        # Looked up once, not per call: the VAE's downsampling factor, whether the scheduler's step takes
        # a generator (prepare_extra_step_kwargs inspects its signature on every call), latents buffers.
        self._vae_scale_factor = 2 ** (len(getattr(self.pipe.vae.config, "block_out_channels", (0,))) - 1)
        self._step_takes_generator = "generator" in inspect.signature(self.pipe.scheduler.step).parameters
        self._latents_buffers: dict[tuple[int, int, int], torch.Tensor] = {}
        self._img2img: Any | None = None
        # False sends text-to-image through the pipeline's own __call__ (the benchmark compares the two).
        self.direct_loop_enabled = True
        # Peak device memory of the last run_batch on CUDA (None on CPU, where torch does not track it).
        self.last_peak_memory_bytes: int | None = None
        encoder_config = getattr(getattr(self.pipe, "text_encoder", None), "config", None)
        self._encoder_uses_mask = bool(getattr(encoder_config, "use_attention_mask", False))
        # Whether a batch's new texts may share one text-encoder call (checked here, once).
        self.batched_text_encoding = self._direct_text_encoder and self._check_batch_invariance()

    # -- loading -------------------------------------------------------------------------------------

    def _load(self) -> Any:
        # 1. The directory: tiny-sd is built there on first use; a real model must already be there.
        path = model_ensure_installed(self.spec)
        # 2. The class, by name, from diffusers (its import is the slow part: done here, not at import).
        diffusers = importlib.import_module("diffusers")
        pipeline_class = getattr(diffusers, self.spec.pipeline_class)
        extra: dict[str, Any] = {}
        if "safety_checker" in inspect.signature(pipeline_class.__init__).parameters:
            extra = {"safety_checker": None, "requires_safety_checker": False}
        # 3. Load from the local directory only. diffusers 0.42 names the argument `dtype` and warns on
        #    the older `torch_dtype` (diffusers/utils/deprecation_utils.py).
        logger.info("loading %s from %s (%s, %s)", self.spec.name, path, self.device, self.dtype)
        return pipeline_class.from_pretrained(path, dtype=self.dtype, local_files_only=True, **extra)

    def _prepare(self, pipe: Any) -> None:
        pipe.to(self.device)
        pipe.set_progress_bar_config(disable=True)
        video = self.spec.kind == "video"
        if self.device.type == "cuda" and not video:
            # The UNet and VAE are convolution-heavy: NHWC lets cuDNN use its tensor-core kernels without
            # transposes ("Accelerating Generative AI with PyTorch II", pytorch.org blog, 2024). diffusers
            # already runs attention through SDPA (AttnProcessor2_0) on torch >= 2. (Wan's transformer is
            # attention and matmuls, its VAE 3-D convolutions: channels_last does not apply.)
            pipe.unet.to(memory_format=torch.channels_last)
            pipe.vae.to(memory_format=torch.channels_last)
        if self.settings.compile and video:
            mode = "max-autotune-no-cudagraphs" if self.device.type == "cuda" else None
            pipe.transformer = torch.compile(pipe.transformer, mode=mode, dynamic=False)
        elif self.settings.compile:
            # One graph per padded batch size (BATCH_BUCKETS), so no dynamic shapes. On CUDA, autotuned
            # kernels without CUDA graphs: graphs would pin a memory pool per bucket.
            mode = "max-autotune-no-cudagraphs" if self.device.type == "cuda" else None
            # Dynamo recompiles per new shape and gives up (runs eager) after `recompile_limit` (8) of them;
            # seven buckets, times sizes, times guided/unguided, need more.
            torch._dynamo.config.recompile_limit = max(torch._dynamo.config.recompile_limit, RECOMPILE_LIMIT)
            pipe.unet = torch.compile(pipe.unet, mode=mode, dynamic=False)
            pipe.vae.decoder = torch.compile(pipe.vae.decoder, mode=mode, dynamic=False)

    # -- the batch ------------------------------------------------------------------------------------

    def run_batch(self, requests: Sequence[GenerationRequest]) -> list[GenerationResult]:
        """Exactly one result per request, in order. Raises ValueError on bad input, FatalEngineError."""
        if not requests:
            return []
        shape = self.check_inputs(requests)
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
        results: list[GenerationResult] = []
        step = self.settings.max_batch
        for start in range(0, len(requests), step):
            results.extend(self._run_chunk(list(requests[start : start + step]), shape))
        if self.device.type == "cuda":
            # The GPU worker records this on the batch's row; /metrics reads it from there (metrics are
            # DB-backed, and the scraping process has no view of the worker's device).
            self.last_peak_memory_bytes = int(torch.cuda.max_memory_allocated(self.device))
        return results

    def warm_up(self) -> list[int]:
        """One batch per padding bucket up to max_batch, at the model's default shape, so that compiled graphs
        (one per bucket, `dynamic=False`) and autotuned kernels are built before the first real request.
        `get_engine` calls it when REELSMITH_COMPILE is on. Returns the batch sizes run."""
        shape = self.spec.shape_key()
        sizes = [size for size in BATCH_BUCKETS if size <= self.settings.max_batch]
        if self.spec.kind == "video":
            sizes = sizes[:1]  # a clip batch is the expensive part already; one graph for batch 1
        for size in sizes:
            self.run_batch(
                [GenerationRequest(key=f"warm-up-{i}", shape=shape, prompt="", seed=i) for i in range(size)]
            )
        return sizes

    def check_inputs(self, requests: Sequence[GenerationRequest]) -> ShapeKey:
        """Raise ValueError naming the offending request; return the batch's shared ShapeKey."""
        shape = requests[0].shape
        if shape.model != self.spec.name:
            raise ValueError(
                f"request {requests[0].key!r} is for model {shape.model!r}, this engine serves {self.spec.name!r}"
            )
        if shape.scheduler != "default":
            raise ValueError(f"request {requests[0].key!r}: scheduler {shape.scheduler!r} is not supported")
        if (
            shape.width <= 0
            or shape.height <= 0
            or shape.width % SIZE_MULTIPLE
            or shape.height % SIZE_MULTIPLE
        ):
            raise ValueError(
                f"request {requests[0].key!r}: size {shape.width}x{shape.height} is not a positive multiple "
                f"of {SIZE_MULTIPLE}"
            )
        if shape.steps < 1 or shape.guidance < 0:
            raise ValueError(
                f"request {requests[0].key!r}: steps={shape.steps} guidance={shape.guidance} are out of range"
            )
        for request in requests:
            if request.shape != shape:
                raise ValueError(
                    f"request {request.key!r} has shape key {request.shape}, but the batch's is {shape}: "
                    "one batch, one shape key"
                )
            if not 0 <= request.seed <= MAX_SEED:
                raise ValueError(f"request {request.key!r}: seed {request.seed} is outside 0..2**64-1")
            if (request.init_image is None) != (shape.strength is None):
                raise ValueError(f"request {request.key!r}: img2img needs both a strength and an init image")
        if self.spec.kind == "video":
            frames = shape.num_frames
            if frames is None or frames < 1 or (frames - 1) % WAN_FRAME_MULTIPLE:
                raise ValueError(
                    f"request {requests[0].key!r}: a clip has 1 + {WAN_FRAME_MULTIPLE}k frames, not {frames}"
                )
            if shape.strength is not None:
                raise ValueError(f"request {requests[0].key!r}: video models do not take img2img requests")
        elif shape.num_frames is not None:
            raise ValueError(f"request {requests[0].key!r}: {self.spec.name} makes pictures, not clips")
        if shape.strength is not None:
            if not 0.0 < shape.strength <= 1.0:
                raise ValueError(f"request {requests[0].key!r}: strength {shape.strength} is outside (0, 1]")
            if int(shape.steps * shape.strength) < 1:
                raise ValueError(
                    f"request {requests[0].key!r}: {shape.steps} steps at strength {shape.strength} run no "
                    "denoising step (img2img runs int(steps * strength))"
                )
        return shape

    def _run_chunk(self, chunk: list[GenerationRequest], shape: ShapeKey) -> list[GenerationResult]:
        """Run up to max_batch requests; on OOM split in half and retry each half."""
        error: BaseException | None = None
        try:
            if self.spec.kind == "video":
                clips = self._generate_video(chunk, shape)
            else:
                images = self._generate(chunk, shape)
        except Exception as exc:
            error = exc
        if error is None and self.spec.kind == "video":
            return [GenerationResult(key=r.key, frames=clip) for r, clip in zip(chunk, clips, strict=True)]
        if error is None:
            return [GenerationResult(key=r.key, image=image) for r, image in zip(chunk, images, strict=True)]

        kind = classify_error(error)
        if kind == "fatal":
            raise FatalEngineError(
                f"sticky device failure, the worker must restart: {short_reason(error)}"
            ) from error
        if kind == "oom" and len(chunk) > 1:
            logger.warning("out of memory at batch %d of %s; splitting", len(chunk), shape)
            # Drop the traceback (it holds the failed call's activations) before retrying.
            del error
            self._release_memory()
            half = (len(chunk) + 1) // 2
            return self._run_chunk(chunk[:half], shape) + self._run_chunk(chunk[half:], shape)
        reason = short_reason(error)
        if kind == "oom":
            reason = f"out of memory even alone: {reason}"
            self._release_memory()
        logger.warning("batch of %d failed: %s", len(chunk), reason)
        return [GenerationResult(key=r.key, error=reason) for r in chunk]

    def _generate(self, chunk: list[GenerationRequest], shape: ShapeKey) -> list[Image.Image]:
        # 1. Pad to a bucket size by repeating the last request, so compiled graphs are reused.
        size = bucket_size(len(chunk), self.settings.max_batch)
        padded = chunk + [chunk[-1]] * (size - len(chunk))

        with torch.inference_mode():
            # 2. Text embeddings, one text at a time, through the prompt cache. The pipeline only uses the
            #    negative prompt under classifier-free guidance (guidance_scale > 1, StableDiffusionPipeline).
            guided = shape.guidance > 1.0
            embeds = self._embed_call_kwargs(padded, guided)

            # 3. Per-item noise: one generator per request, seeded by the request alone.
            generators = [torch.Generator(self.device).manual_seed(r.seed) for r in padded]

            # 4. One batched denoising run. img2img variants: the img2img pipeline made from the same
            #    components (`from_pipe`: no second copy of the weights). Text-to-image: our own loop for SD
            #    1.x/2.x, the pipeline's generic __call__ for the rest (SDXL's extra conditioning).
            if shape.strength is not None:
                output = self.img2img_pipe(
                    **embeds,
                    image=[r.init_image for r in padded],
                    strength=shape.strength,
                    num_inference_steps=shape.steps,
                    guidance_scale=shape.guidance,
                    generator=generators,
                    output_type="pil",
                )
            elif self._direct_loop:
                pixels = self._denoise(padded, shape, embeds, generators)[: len(chunk)].cpu()
                return [Image.fromarray(row) for row in pixels.numpy()]
            else:
                output = self.pipe(
                    **embeds,
                    height=shape.height,
                    width=shape.width,
                    num_inference_steps=shape.steps,
                    guidance_scale=shape.guidance,
                    generator=generators,
                    output_type="pil",
                )

        # 5. Drop the padding.
        pil: list[Image.Image] = list(output.images)[: len(chunk)]
        return [image if image.mode == "RGB" else image.convert("RGB") for image in pil]

    def _generate_video(
        self, chunk: list[GenerationRequest], shape: ShapeKey
    ) -> list[tuple[Image.Image, ...]]:
        """One batched call of a text-to-video pipeline (WanPipeline): one clip of PIL frames per request.

        Prompts go in as strings: the pipeline's T5 encoding (trimmed to each text's length, zero-padded)
        is its own, and next to a clip's cost the text encoder is noise, so no prompt cache here.
        """
        size = bucket_size(len(chunk), self.settings.max_batch)
        padded = chunk + [chunk[-1]] * (size - len(chunk))
        guided = shape.guidance > 1.0
        with torch.inference_mode():
            generators = [torch.Generator(self.device).manual_seed(r.seed) for r in padded]
            output = self.pipe(
                prompt=[r.prompt for r in padded],
                negative_prompt=[r.negative_prompt for r in padded] if guided else None,
                height=shape.height,
                width=shape.width,
                num_frames=shape.num_frames,
                num_inference_steps=shape.steps,
                guidance_scale=shape.guidance,
                generator=generators,
                output_type="pt",
            )
            # (B, F, C, H, W) in [0, 1] -> uint8 frames, rounded as VaeImageProcessor.numpy_to_pil does.
            pixels = (
                (output.frames[: len(chunk)].permute(0, 1, 3, 4, 2).float() * 255).round().to(torch.uint8)
            )
        return [tuple(Image.fromarray(frame) for frame in clip) for clip in pixels.cpu().numpy()]

    # -- the denoising loop ---------------------------------------------------------------------------

    @property
    def img2img_pipe(self) -> Any:
        """The img2img counterpart of the loaded pipeline, sharing its modules (diffusers `from_pipe`)."""
        if self._img2img is None:
            diffusers = importlib.import_module("diffusers")
            img2img_class = getattr(diffusers, IMG2IMG_PIPELINES[type(self.pipe).__name__])
            self._img2img = img2img_class.from_pipe(self.pipe)
            self._img2img.set_progress_bar_config(disable=True)
        return self._img2img

    @property
    def _direct_loop(self) -> bool:
        """SD 1.x/2.x pipelines run through `_denoise`; anything else through the pipeline's __call__."""
        return self.direct_loop_enabled and type(self.pipe).__name__ in DIRECT_LOOP_PIPELINES

    def _latents_buffer(self, batch: int, height: int, width: int) -> torch.Tensor:
        """A reused (batch, C, h, w) buffer per shape: the initial noise is written into it in place."""
        key = (batch, height, width)
        buffer = self._latents_buffers.get(key)
        if buffer is None:
            unet_config = self.pipe.unet.config
            buffer = torch.empty(
                batch,
                unet_config.in_channels,
                height // self._vae_scale_factor,
                width // self._vae_scale_factor,
                device=self.device,
                dtype=self.dtype,
            )
            self._latents_buffers[key] = buffer
        return buffer

    def _denoise(
        self,
        padded: list[GenerationRequest],
        shape: ShapeKey,
        embeds: dict[str, torch.Tensor],
        generators: list[torch.Generator],
    ) -> torch.Tensor:
        """StableDiffusionPipeline.__call__'s text-to-image path, copied down to what the engine uses.

        Same operations in the same order as diffusers 0.42's `__call__` (prepare_latents, the Euler/DDIM
        loop, vae.decode, VaeImageProcessor.postprocess to uint8), so the pictures are the pipeline's
        (tests/engine/test_loop.py compares them). What it leaves out is the per-call generic work:
        check_inputs, `_execution_device` (walks every module), signature inspection in
        prepare_extra_step_kwargs, LoRA/IP-adapter/callback plumbing, per-image numpy -> PIL
        post-processing; and it writes the noise into a reused per-shape buffer. Returns (B, H, W, 3) uint8
        on the engine's device.
        """
        pipe = self.pipe
        scheduler = pipe.scheduler
        guided = shape.guidance > 1.0
        prompt_embeds = embeds["prompt_embeds"]
        if guided:
            prompt_embeds = torch.cat([embeds["negative_prompt_embeds"], prompt_embeds])

        # Timesteps (retrieve_timesteps), then the initial noise (prepare_latents: one randn per generator,
        # drawn on the generator's device, scaled by the scheduler's initial sigma).
        scheduler.set_timesteps(shape.steps, device=self.device)
        latents = self._latents_buffer(len(padded), shape.height, shape.width)
        for row, generator in zip(latents, generators, strict=True):
            torch.randn(row.shape, generator=generator, device=self.device, dtype=self.dtype, out=row)
        latents = latents * scheduler.init_noise_sigma

        step_kwargs: dict[str, Any] = {"generator": generators} if self._step_takes_generator else {}
        for t in scheduler.timesteps:
            model_input = torch.cat([latents] * 2) if guided else latents
            model_input = scheduler.scale_model_input(model_input, t)
            noise_pred = pipe.unet(model_input, t, encoder_hidden_states=prompt_embeds, return_dict=False)[0]
            if guided:
                uncond, text = noise_pred.chunk(2)
                noise_pred = uncond + shape.guidance * (text - uncond)
            latents = scheduler.step(noise_pred, t, latents, **step_kwargs, return_dict=False)[0]

        # Batched VAE decode, then VaeImageProcessor.postprocess's arithmetic ((x / 2 + 0.5) clamped, x 255,
        # round half to even, uint8) on the whole batch at once instead of image by image in numpy.
        image = pipe.vae.decode(
            latents / pipe.vae.config.scaling_factor, return_dict=False, generator=generators
        )[0]
        image = (image / 2 + 0.5).clamp(0, 1)
        return (image.permute(0, 2, 3, 1).float() * 255).round().to(torch.uint8)

    # -- prompt embeddings ----------------------------------------------------------------------------

    def _embed_call_kwargs(self, padded: list[GenerationRequest], guided: bool) -> dict[str, torch.Tensor]:
        positive = self.embed_texts([r.prompt for r in padded])
        kwargs: dict[str, torch.Tensor] = {"prompt_embeds": torch.cat([e.hidden for e in positive])}
        if self._is_sdxl:
            kwargs["pooled_prompt_embeds"] = torch.cat([_pooled(e) for e in positive])
        if guided:
            negative = (
                self.embed_texts([r.negative_prompt for r in padded])
                if not self._is_sdxl
                else [self.embed_text(r.negative_prompt, negative=True) for r in padded]
            )
            kwargs["negative_prompt_embeds"] = torch.cat([e.hidden for e in negative])
            if self._is_sdxl:
                kwargs["negative_pooled_prompt_embeds"] = torch.cat([_pooled(e) for e in negative])
        return kwargs

    @property
    def _is_sdxl(self) -> bool:
        return getattr(self.pipe, "text_encoder_2", None) is not None

    def embed_text(self, text: str, *, negative: bool = False) -> TextEmbedding:
        """The text encoder's output for `text`, from the cache when it has it."""
        if negative and text == "" and self._is_sdxl and self.pipe.config.force_zeros_for_empty_prompt:
            # SDXL was trained with zeroed embeddings for "no negative prompt" (its pipeline's default).
            return _zeros_like(self.embed_text(""))
        key = (self.spec.name, text)
        cached = self.prompt_cache.get(key)
        if cached is not None:
            return cached
        with torch.inference_mode():
            if self._is_sdxl:
                hidden, _, pooled, _ = self.pipe.encode_prompt(
                    prompt=text,
                    device=self.device,
                    num_images_per_prompt=1,
                    do_classifier_free_guidance=False,
                )
                embedding = TextEmbedding(hidden=hidden, pooled=pooled)
            else:
                embedding = TextEmbedding(hidden=self._encode_clip(text))
        self.prompt_cache.put(key, embedding)
        return embedding

    def embed_texts(self, texts: Sequence[str]) -> list[TextEmbedding]:
        """`embed_text` for each of `texts`, in order; the ones not in the cache share one encoder call when
        batched text encoding is on (same bits as alone: `_check_batch_invariance`)."""
        if not self.batched_text_encoding:
            return [self.embed_text(text) for text in texts]
        found: dict[str, TextEmbedding] = {}
        missing: list[str] = []
        for text in dict.fromkeys(texts):  # distinct, in order (padding repeats the last request)
            cached = self.prompt_cache.get((self.spec.name, text))
            if cached is None:
                missing.append(text)
            else:
                found[text] = cached
        if missing:
            with torch.inference_mode():
                hidden = self._encode_clip_batch(missing)
            for text, row in zip(missing, hidden.split(1), strict=True):
                # A copy, not a view: a cached row must not keep its whole batch's tensor alive.
                embedding = TextEmbedding(hidden=row.clone())
                self.prompt_cache.put((self.spec.name, text), embedding)
                found[text] = embedding
        return [found[text] for text in texts]

    @property
    def _direct_text_encoder(self) -> bool:
        """SD 1.x/2.x's single CLIP text encoder, which `_encode_clip` calls directly (not SDXL's pair)."""
        return type(self.pipe).__name__ in DIRECT_LOOP_PIPELINES

    def _check_batch_invariance(self) -> bool:
        """Make the text encoder batch-invariant if it can be, and say whether it is: whether encoding texts
        together gives each one exactly the bits it gets alone, so that an embedding cannot depend on its
        companions (Thinking Machines, "Defeating Nondeterminism in LLM Inference", 2025: batch invariance).

        Matmuls and SDPA compute each row alike whatever the batch on this CPU, but ATen's vectorised
        elementwise kernels (quick_gelu's sigmoid) finish a tensor's last few elements (less than two vector
        widths) in scalar code whose exp rounds differently, so an element's bits depend on where the tensor ends; the MLP activations are
        therefore applied row by row (`RowWise`), which gives each text the tensor it has alone. Whether that
        suffices is not assumed but measured here on probe texts of different lengths, alone against batched
        in two orders; where it does not hold (other kernels, cuBLAS choosing algorithms by batch size), the
        wrapping is undone and texts are encoded one per call.
        """
        encoder = self.pipe.text_encoder
        wrapped = _wrap_activations_row_wise(encoder)
        with torch.inference_mode():
            alone = torch.cat([self._encode_clip(text) for text in _INVARIANCE_PROBES])
            together = self._encode_clip_batch(list(_INVARIANCE_PROBES))
            reverse = self._encode_clip_batch(list(reversed(_INVARIANCE_PROBES))).flip(0)
        invariant = torch.equal(alone, together) and torch.equal(alone, reverse)
        if not invariant:
            for parent, name, original in wrapped:
                setattr(parent, name, original)
        logger.info(
            "%s text encoder: %s",
            self.spec.name,
            "batched (batch-invariant)" if invariant else "one text per call",
        )
        return invariant

    def _encode_clip_batch(self, texts: list[str]) -> torch.Tensor:
        """Several texts in one tokenizer and one encoder call; (len(texts), L, D). See `_encode_clip`."""
        pipe = self.pipe
        tokens = pipe.tokenizer(
            texts,
            padding="max_length",
            max_length=pipe.tokenizer.model_max_length,
            truncation=True,
            return_tensors="pt",
        )
        mask = tokens.attention_mask.to(self.device) if self._encoder_uses_mask else None
        hidden = pipe.text_encoder(tokens.input_ids.to(self.device), attention_mask=mask)[0]
        return hidden.to(dtype=pipe.text_encoder.dtype, device=self.device)

    def _encode_clip(self, text: str) -> torch.Tensor:
        """StableDiffusionPipeline.encode_prompt's path for one text (no LoRA, no clip_skip), called directly.

        Same tokenizer call, same encoder call on a batch of one, same cast: bit-identical to encode_prompt
        (tests/engine/test_loop.py), without its second, untruncated tokenization (only used for a warning)
        and its per-call checks. One text, batch of one: the reference that batched encoding must equal
        bit for bit (`_check_batch_invariance`).
        """
        return self._encode_clip_batch([text])

    def _release_memory(self) -> None:
        gc.collect()
        if self.device.type == "cuda":
            torch.cuda.empty_cache()


# Probe texts for `_check_batch_invariance`: an odd count, short and long (one past CLIP's 77 tokens, so
# truncated), and one with bytes outside the tiny vocabulary's merges.
_INVARIANCE_PROBES: tuple[str, ...] = (
    "",
    "a photo of a happy customer holding a coffee cup in a bright modern kitchen, soft morning light",
    "portrait",
    "Grüße aus 東京, 100% fresh!",
    " ".join(["the city skyline at sunset"] * 20),
)

# Activation modules whose kernels use transcendental functions (vectorised body, scalar tail).
_ACTIVATION_TYPES: tuple[type[torch.nn.Module], ...] = (
    torch.nn.GELU,
    torch.nn.SiLU,
    torch.nn.Sigmoid,
    torch.nn.Tanh,
    torch.nn.Mish,
)


class RowWise(torch.nn.Module):
    """Apply an elementwise module to each batch row on its own, so a row's bits do not depend on where the
    batch's tensor ends (see `Engine._check_batch_invariance`). A batch of one is passed through as is."""

    def __init__(self, inner: torch.nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[0] == 1:
            return self.inner(x)
        return torch.stack([self.inner(row) for row in x])


def _wrap_activations_row_wise(model: torch.nn.Module) -> list[tuple[torch.nn.Module, str, torch.nn.Module]]:
    """Wrap every activation module in `model` in RowWise; returns (parent, name, original) to undo it."""
    wrapped: list[tuple[torch.nn.Module, str, torch.nn.Module]] = []
    for parent in list(model.modules()):
        if isinstance(parent, RowWise):
            continue  # its inner module is the one already wrapped
        for name, child in list(parent.named_children()):
            is_activation = isinstance(child, _ACTIVATION_TYPES) or type(child).__module__ == (
                "transformers.activations"
            )
            if is_activation and not isinstance(child, RowWise):
                setattr(parent, name, RowWise(child))
                wrapped.append((parent, name, child))
    return wrapped


def _pooled(embedding: TextEmbedding) -> torch.Tensor:
    if embedding.pooled is None:
        raise RuntimeError("SDXL text embedding without its pooled projection")
    return embedding.pooled


def _zeros_like(embedding: TextEmbedding) -> TextEmbedding:
    pooled = None if embedding.pooled is None else torch.zeros_like(embedding.pooled)
    return TextEmbedding(hidden=torch.zeros_like(embedding.hidden), pooled=pooled)


# -- one engine per model per process ---------------------------------------------------------------------

_engines: dict[str, Engine] = {}
_engines_pid = os.getpid()
_engines_lock = threading.Lock()


def get_engine(model_name: str) -> Engine:
    """The process's Engine for `model_name`, loaded on first call (so in the worker child, not at import).

    Engines inherited across fork are dropped: a CUDA context does not survive fork.
    """
    global _engines_pid
    with _engines_lock:
        if _engines_pid != os.getpid():
            _engines.clear()
            _engines_pid = os.getpid()
        engine = _engines.get(model_name)
        if engine is None:
            engine = Engine(model_spec(model_name))
            if engine.settings.compile:
                engine.warm_up()
            _engines[model_name] = engine
        return engine


def preload_engines() -> list[str]:
    """Load the engines REELSMITH_PRELOAD_MODELS names (warming them up when REELSMITH_COMPILE is on), so a
    GPU worker's first batch does not pay for loading and compiling. Called in each worker process as it
    starts (render/tasks.py, Celery's worker_process_init: in the child, so CUDA is never initialised in the
    parent). A model that cannot load is logged and skipped: its batches then fail with the reason, which
    is where people look, instead of the worker crash-looping. Returns the names loaded."""
    loaded: list[str] = []
    for name in engine_settings().preload_models:
        started = time.monotonic()
        try:
            get_engine(name)
        except Exception:
            logger.exception("could not preload model %s", name)
            continue
        logger.info("preloaded model %s in %.1f s (pid %d)", name, time.monotonic() - started, os.getpid())
        loaded.append(name)
    return loaded


def engines_clear() -> None:
    """Forget every loaded engine (tests; a worker that wants its memory back)."""
    with _engines_lock:
        _engines.clear()
