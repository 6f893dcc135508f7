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
checked, at load, that doing so gives every text exactly the bits it gets alone
(`text_encoding.make_batch_invariant`; else one text per encoder call). How far pictures are
bit-identical, measured on CPU with torch 2.13 (tests/engine/test_determinism.py):

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

The pieces: `loading` (device, pipeline from its directory, compile), `batching` (padding buckets, the OOM
split), `failures` (what an exception means), `denoise` (the SD text-to-image loop), `text_encoding`
(prompt cache, batch invariance). This module holds the `Engine` that runs them and one engine per model
per process (`get_engine`).
"""

from __future__ import annotations

import gc
import inspect
import logging
import os
import threading
import time
from collections.abc import Sequence
from typing import Any

import torch
from PIL import Image

from adspec.catalog import WAN_FRAME_MULTIPLE
from render.engine.batching import BATCH_BUCKETS, pad_to_bucket, run_split_on_oom
from render.engine.config import EngineSettings, engine_settings
from render.engine.denoise import DIRECT_LOOP_PIPELINES, denoise_text_to_image
from render.engine.loading import img2img_pipeline, load_pipeline, prepare_pipeline, resolve_device
from render.engine.registry import ModelSpec, model_spec
from render.engine.text_encoding import (
    PromptEmbeddingCache,
    TextEmbedding,
    make_batch_invariant,
    pooled,
    zeros_like,
)
from render.engine.types import GenerationRequest, GenerationResult, ShapeKey

logger = logging.getLogger(__name__)

# The SD pipelines refuse sizes that are not multiples of 8 (StableDiffusionPipeline.check_inputs).
SIZE_MULTIPLE = 8

# torch.Generator.manual_seed takes a 64-bit seed.
MAX_SEED = 2**64 - 1


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
        # fp32 on CPU, the registry's bf16/fp16 on CUDA (docs/performance.md, "The ceiling").
        self.dtype = torch.float32 if self.device.type == "cpu" else getattr(torch, spec.dtype_cuda)
        self.prompt_cache = PromptEmbeddingCache(self.settings.prompt_cache_size)
        self.pipe = (
            load_pipeline(spec, device=self.device, dtype=self.dtype) if pipeline is None else pipeline
        )
        prepare_pipeline(self.pipe, kind=spec.kind, device=self.device, compile=self.settings.compile)
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
        """Run up to max_batch requests; on OOM split in half and retry each half (batching.py)."""
        return run_split_on_oom(chunk, self._run_one, shape=shape, release_memory=self._release_memory)

    def _run_one(self, chunk: list[GenerationRequest]) -> list[GenerationResult]:
        """One pipeline call for `chunk`; raises what the pipeline raises."""
        shape = chunk[0].shape
        if self.spec.kind == "video":
            clips = self._generate_video(chunk, shape)
            return [GenerationResult(key=r.key, frames=clip) for r, clip in zip(chunk, clips, strict=True)]
        images = self._generate(chunk, shape)
        return [GenerationResult(key=r.key, image=image) for r, image in zip(chunk, images, strict=True)]

    def _generate(self, chunk: list[GenerationRequest], shape: ShapeKey) -> list[Image.Image]:
        # 1. Pad to a bucket size by repeating the last request, so compiled graphs are reused.
        padded = pad_to_bucket(chunk, self.settings.max_batch)

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
        padded = pad_to_bucket(chunk, self.settings.max_batch)
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
            self._img2img = img2img_pipeline(self.pipe)
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
        """The SD text-to-image loop (`denoise.denoise_text_to_image`), its noise written into this shape's
        reused latents buffer. Returns (B, H, W, 3) uint8 on the engine's device."""
        return denoise_text_to_image(
            self.pipe,
            shape=shape,
            embeds=embeds,
            generators=generators,
            latents=self._latents_buffer(len(padded), shape.height, shape.width),
            step_takes_generator=self._step_takes_generator,
            device=self.device,
            dtype=self.dtype,
        )

    # -- prompt embeddings ----------------------------------------------------------------------------

    def _embed_call_kwargs(self, padded: list[GenerationRequest], guided: bool) -> dict[str, torch.Tensor]:
        positive = self.embed_texts([r.prompt for r in padded])
        kwargs: dict[str, torch.Tensor] = {"prompt_embeds": torch.cat([e.hidden for e in positive])}
        if self._is_sdxl:
            kwargs["pooled_prompt_embeds"] = torch.cat([pooled(e) for e in positive])
        if guided:
            negative = (
                self.embed_texts([r.negative_prompt for r in padded])
                if not self._is_sdxl
                else [self.embed_text(r.negative_prompt, negative=True) for r in padded]
            )
            kwargs["negative_prompt_embeds"] = torch.cat([e.hidden for e in negative])
            if self._is_sdxl:
                kwargs["negative_pooled_prompt_embeds"] = torch.cat([pooled(e) for e in negative])
        return kwargs

    @property
    def _is_sdxl(self) -> bool:
        return getattr(self.pipe, "text_encoder_2", None) is not None

    def embed_text(self, text: str, *, negative: bool = False) -> TextEmbedding:
        """The text encoder's output for `text`, from the cache when it has it."""
        if negative and text == "" and self._is_sdxl and self.pipe.config.force_zeros_for_empty_prompt:
            # SDXL was trained with zeroed embeddings for "no negative prompt" (its pipeline's default).
            return zeros_like(self.embed_text(""))
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
        """Whether a batch's new texts may share one text-encoder call: made batch-invariant and measured on
        probe texts (`text_encoding.make_batch_invariant`), through this engine's own encoder calls."""
        invariant = make_batch_invariant(self.pipe.text_encoder, self._encode_clip, self._encode_clip_batch)
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
