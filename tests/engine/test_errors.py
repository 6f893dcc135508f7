"""Failure handling of Engine.run_batch: OOM splitting, sticky CUDA errors, ordinary failures."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
import torch

from render.engine.errors import FatalEngineError
from render.engine.failures import classify_error, short_reason
from render.engine.pipeline import Engine
from render.engine.types import ShapeKey
from tests.engine.factories import make_requests


def _oom() -> torch.cuda.OutOfMemoryError:
    return torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (_oom(), "oom"),
        (RuntimeError("CUDA error: out of memory"), "oom"),
        (RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 1 bytes"), "oom"),
        (RuntimeError("CUDA error: an illegal memory access was encountered"), "fatal"),
        (RuntimeError("CUDA error: device-side assert triggered"), "fatal"),
        (RuntimeError("CUDA error: unspecified launch failure"), "fatal"),
        (RuntimeError("CUDA error: uncorrectable ECC error encountered"), "fatal"),
        (RuntimeError("CUDA error: misaligned address"), "fatal"),
        (ValueError("`height` and `width` have to be divisible by 8 but are 60 and 64."), "failed"),
        (RuntimeError("mat1 and mat2 shapes cannot be multiplied (2x3 and 4x5)"), "failed"),
        (KeyError("out of memory"), "failed"),  # only RuntimeErrors count as OOM by their message
    ],
)
def test_classify_error(exc: BaseException, kind: str) -> None:
    assert classify_error(exc) == kind


def test_short_reason_is_one_short_line() -> None:
    reason = short_reason(ValueError("first line\nsecond line"))
    assert reason == "ValueError: first line"
    assert len(short_reason(RuntimeError("x" * 1000))) == 200
    assert short_reason(KeyboardInterrupt()) == "KeyboardInterrupt"


@pytest.fixture
def patched_pipe(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> Callable[[Callable[[int], None]], list[int]]:
    """Swap the engine's batched denoising call for one that calls `fail(batch_size)` first, then runs.

    Returns a function that installs `fail` and returns the list of batch sizes the loop was called with.
    """
    real = engine._denoise

    def install(fail: Callable[[int], None]) -> list[int]:
        calls: list[int] = []

        def wrapper(padded: Any, shape: ShapeKey, embeds: Any, generators: Any) -> Any:
            calls.append(len(generators))
            fail(len(generators))
            return real(padded, shape, embeds, generators)

        monkeypatch.setattr(engine, "_denoise", wrapper)
        return calls

    return install


def test_oom_splits_the_batch_in_half_and_retries(
    engine: Engine, shape: ShapeKey, patched_pipe: Callable[[Callable[[int], None]], list[int]]
) -> None:
    def fail_above_two(size: int) -> None:
        if size > 2:
            raise _oom()

    calls = patched_pipe(fail_above_two)
    requests = make_requests(shape, 7, tag="oom")
    results = engine.run_batch(requests)
    assert [r.key for r in results] == [r.key for r in requests]
    assert all(r.ok for r in results), [r.error for r in results]
    # 7 -> padded 8 fails; halves 4 (fails) + 3 (padded 4, fails); quarters 2, 2, 2, 1.
    assert calls == [8, 4, 2, 2, 4, 2, 1]


def test_an_item_that_ooms_alone_fails_with_the_reason(
    engine: Engine, shape: ShapeKey, patched_pipe: Callable[[Callable[[int], None]], list[int]]
) -> None:
    def always(size: int) -> None:
        raise _oom()

    calls = patched_pipe(always)
    results = engine.run_batch(make_requests(shape, 2, tag="oom1"))
    assert calls == [2, 1, 1]
    assert [r.ok for r in results] == [False, False]
    for result in results:
        assert result.image is None
        assert result.error is not None
        assert "out of memory" in result.error


def test_sticky_cuda_error_is_fatal(
    engine: Engine, shape: ShapeKey, patched_pipe: Callable[[Callable[[int], None]], list[int]]
) -> None:
    def illegal(size: int) -> None:
        raise RuntimeError("CUDA error: an illegal memory access was encountered")

    calls = patched_pipe(illegal)
    with pytest.raises(FatalEngineError, match="illegal memory access"):
        engine.run_batch(make_requests(shape, 3, tag="fatal"))
    assert calls == [4]  # no retry on a poisoned context


def test_other_failures_mark_every_member_failed(
    engine: Engine, shape: ShapeKey, patched_pipe: Callable[[Callable[[int], None]], list[int]]
) -> None:
    def broken(size: int) -> None:
        raise ValueError("scheduler exploded\nwith a long traceback")

    patched_pipe(broken)
    requests = make_requests(shape, 3, tag="bad")
    results = engine.run_batch(requests)
    assert [(r.key, r.image, r.error) for r in results] == [
        (r.key, None, "ValueError: scheduler exploded") for r in requests
    ]


def test_a_failed_chunk_does_not_fail_the_others(
    engine: Engine,
    shape: ShapeKey,
    patched_pipe: Callable[[Callable[[int], None]], list[int]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(engine, "settings", replace(engine.settings, max_batch=2))
    seen: list[int] = []

    def second_call_fails(size: int) -> None:
        seen.append(size)
        if len(seen) == 2:
            raise ValueError("boom")

    patched_pipe(second_call_fails)
    results = engine.run_batch(make_requests(shape, 5, tag="chunk"))
    assert [r.ok for r in results] == [True, True, False, False, True]
