"""The engine: load a registered diffusers pipeline once, then turn batches of requests into pictures.

Shaped like a serving loop (Ray Serve's batching, vLLM's engine step): `get_engine(name)` loads on first
use in the worker process and keeps the model warm; `Engine.run_batch(requests)` returns exactly one
`GenerationResult` per request, in order. A batch that runs out of GPU memory is split in half and
retried; a sticky CUDA failure raises `FatalEngineError` so the worker exits; any other failure marks
every member of that batch failed with a short reason.

Determinism. A picture is a function of (model, prompt, negative prompt, seed, size, steps, guidance):
each request brings its own `torch.Generator(device).manual_seed(seed)` for its initial noise, and each
text is encoded on its own (batch of one) so its embedding does not depend on which other texts were
encoded alongside it or on whether it came from the prompt cache. How far this is bit-identical, measured
on CPU with torch 2.13 (tests/engine/test_determinism.py):

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
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import torch
from PIL import Image

from render.engine.config import EngineSettings, engine_settings
from render.engine.errors import EngineConfigError, FatalEngineError
from render.engine.registry import ModelSpec, model_ensure_installed, model_spec
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
        if self.device.type == "cuda":
            # The UNet and VAE are convolution-heavy: NHWC lets cuDNN use its tensor-core kernels without
            # transposes ("Accelerating Generative AI with PyTorch II", pytorch.org blog, 2024). diffusers
            # already runs attention through SDPA (AttnProcessor2_0) on torch >= 2.
            pipe.unet.to(memory_format=torch.channels_last)
            pipe.vae.to(memory_format=torch.channels_last)
        if self.settings.compile:
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
        results: list[GenerationResult] = []
        step = self.settings.max_batch
        for start in range(0, len(requests), step):
            results.extend(self._run_chunk(list(requests[start : start + step]), shape))
        return results

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
        return shape

    def _run_chunk(self, chunk: list[GenerationRequest], shape: ShapeKey) -> list[GenerationResult]:
        """Run up to max_batch requests; on OOM split in half and retry each half."""
        error: BaseException | None = None
        try:
            images = self._generate(chunk, shape)
        except Exception as exc:
            error = exc
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

            # 4. One batched pipeline call.
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
        images: list[Image.Image] = list(output.images)[: len(chunk)]
        return [image if image.mode == "RGB" else image.convert("RGB") for image in images]

    # -- prompt embeddings ----------------------------------------------------------------------------

    def _embed_call_kwargs(self, padded: list[GenerationRequest], guided: bool) -> dict[str, torch.Tensor]:
        positive = [self.embed_text(r.prompt) for r in padded]
        kwargs: dict[str, torch.Tensor] = {"prompt_embeds": torch.cat([e.hidden for e in positive])}
        if self._is_sdxl:
            kwargs["pooled_prompt_embeds"] = torch.cat([_pooled(e) for e in positive])
        if guided:
            negative = [self.embed_text(r.negative_prompt, negative=True) for r in padded]
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
                hidden, _ = self.pipe.encode_prompt(
                    prompt=text,
                    device=self.device,
                    num_images_per_prompt=1,
                    do_classifier_free_guidance=False,
                )
                embedding = TextEmbedding(hidden=hidden)
        self.prompt_cache.put(key, embedding)
        return embedding

    def _release_memory(self) -> None:
        gc.collect()
        if self.device.type == "cuda":
            torch.cuda.empty_cache()


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
            _engines[model_name] = engine
        return engine


def engines_clear() -> None:
    """Forget every loaded engine (tests; a worker that wants its memory back)."""
    with _engines_lock:
        _engines.clear()
