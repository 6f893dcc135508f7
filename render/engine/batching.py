"""Batches: padded to a few fixed sizes (so compiled graphs are reused), split in half when they run out of
memory.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from render.engine.errors import FatalEngineError
from render.engine.failures import classify_error, short_reason
from render.engine.types import GenerationRequest, GenerationResult, ShapeKey

logger = logging.getLogger(__name__)

# Padded batch sizes. Powers of two up to 64 (the UNet batch MLPerf's SDXL submission runs,
# docs/performance.md) keep the number of distinct shapes, hence compiled graphs, at seven.
BATCH_BUCKETS: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64)


def bucket_size(n: int, max_batch: int) -> int:
    """The padded size for `n` requests: the smallest bucket >= n, never above `max_batch`."""
    if not 1 <= n <= max_batch:
        raise ValueError(f"batch of {n} is outside 1..{max_batch}")
    for size in BATCH_BUCKETS:
        if n <= size <= max_batch:
            return size
    return max_batch  # max_batch is not a bucket (say 12) and n is above the last bucket under it


def pad_to_bucket(chunk: list[GenerationRequest], max_batch: int) -> list[GenerationRequest]:
    """`chunk` padded to its bucket size by repeating the last request, so compiled graphs are reused."""
    size = bucket_size(len(chunk), max_batch)
    return chunk + [chunk[-1]] * (size - len(chunk))


def run_split_on_oom(
    chunk: list[GenerationRequest],
    run: Callable[[list[GenerationRequest]], list[GenerationResult]],
    *,
    shape: ShapeKey,
    release_memory: Callable[[], None],
) -> list[GenerationResult]:
    """`run(chunk)`; on OOM split in half and retry each half. A sticky device failure raises
    FatalEngineError; any other failure gives every member that failure's short reason."""
    error: BaseException | None = None
    try:
        results = run(chunk)
    except Exception as exc:
        error = exc
    if error is None:
        return results

    kind = classify_error(error)
    if kind == "fatal":
        raise FatalEngineError(
            f"sticky device failure, the worker must restart: {short_reason(error)}"
        ) from error
    if kind == "oom" and len(chunk) > 1:
        logger.warning("out of memory at batch %d of %s; splitting", len(chunk), shape)
        # Drop the traceback (it holds the failed call's activations) before retrying.
        del error
        release_memory()
        half = (len(chunk) + 1) // 2
        return run_split_on_oom(
            chunk[:half], run, shape=shape, release_memory=release_memory
        ) + run_split_on_oom(chunk[half:], run, shape=shape, release_memory=release_memory)
    reason = short_reason(error)
    if kind == "oom":
        reason = f"out of memory even alone: {reason}"
        release_memory()
    logger.warning("batch of %d failed: %s", len(chunk), reason)
    return [GenerationResult(key=r.key, error=reason) for r in chunk]
