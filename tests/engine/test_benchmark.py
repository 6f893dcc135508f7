from __future__ import annotations

import pytest
import torch

from benchmarks.generate import PARTS, main, parse_args


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
