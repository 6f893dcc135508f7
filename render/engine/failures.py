"""What a failed batch means: split it (out of memory), end the worker (a sticky CUDA error), or report it.

Plain strings for people: a failure's reason is stored on Generation rows and shown in the API.
"""

from __future__ import annotations

from typing import Literal

import torch

ErrorKind = Literal["oom", "fatal", "failed"]

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
