from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from benchmarks.generate import PARTS, _time_arch, main, parse_args
from render.engine.config import REPO_ROOT
from render.engine.pipeline import Engine
from render.engine.registry import ModelSpec


def test_parts_and_defaults() -> None:
    assert set(PARTS) >= {"tiny_cpu", "arch", "dedupe"}
    assert parse_args([]).part == ["tiny_cpu", "dedupe"]
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


def test_dedupe_runs_the_render_services_in_a_fresh_process(model_cache: Path) -> None:
    """The part sets Django up itself (isolated SQLite), so it runs in its own process here."""
    result = subprocess.run(
        [
            sys.executable,
            str(REPO_ROOT / "benchmarks" / "generate.py"),
            "--part",
            "dedupe",
            "--renders",
            "12",
            "--prompts",
            "3",
            "--model-cache",
            str(model_cache),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=REPO_ROOT,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout[result.stdout.index("{") :])["dedupe"]
    assert report["generations_run"] == report["generations"] == 3
    assert report["cache_hits"] == 9
    assert report["renders_ready_to_compose"] == 12
    assert report["batch_sizes"] == [3]  # planned together, generated in one call


def test_dedupe_refuses_a_process_where_django_is_already_set_up(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--part", "dedupe"]) == 2
    assert "fresh process" in capsys.readouterr().err


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
