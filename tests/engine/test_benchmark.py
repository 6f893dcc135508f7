from __future__ import annotations

import time

import pytest
import torch

from benchmarks.generate import PARTS, _time_arch, main, parse_args
from render.engine.pipeline import Engine
from render.engine.registry import ModelSpec


def test_parts_and_defaults() -> None:
    assert set(PARTS) >= {"tiny_cpu", "arch", "dedupe"}
    assert parse_args([]).part == ["tiny_cpu"]
    args = parse_args(["--arch", "sd-turbo", "--device", "cuda"])
    assert args.part == ["arch"]
    assert args.device == "cuda"


def test_arch_needs_an_arch() -> None:
    with pytest.raises(SystemExit):
        parse_args(["--part", "arch"])


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message given without CUDA")
def test_arch_without_cuda_fails_clearly(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--arch", "sd-turbo", "--device", "cuda"]) == 2
    out, err = capsys.readouterr()
    assert "no CUDA device" in err
    assert '"error"' in out.splitlines()[-1] or '"error"' in out


def test_dedupe_is_left_to_the_django_side(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--part", "dedupe"]) == 2
    assert "Django" in capsys.readouterr().err


class _FakeCudaEvent:
    """torch.cuda.Event's timing API over perf_counter, so the GPU timing loop runs on CPU."""

    def __init__(self, enable_timing: bool = False) -> None:
        self.at = 0.0

    def record(self) -> None:
        self.at = time.perf_counter()

    def synchronize(self) -> None:
        pass

    def elapsed_time(self, end: _FakeCudaEvent) -> float:
        return (end.at - self.at) * 1e3


def test_arch_timing_loop_runs_on_the_tiny_engine(
    engine: Engine, tiny_spec: ModelSpec, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(torch.cuda, "Event", _FakeCudaEvent)
    args = parse_args(["--arch", "sd-turbo", "--device", "cuda", "--repeats", "1", "--warmup", "1"])
    rows = _time_arch(engine, tiny_spec, [1, 2], tiny_spec.width, 10**13, args)
    assert set(rows) == {"1", "2"}
    for row in rows.values():
        assert set(row) == {"gpu", "engine"}
        assert row["engine"]["images_per_s"] > 0
        assert row["gpu"]["tflops"] > 0
