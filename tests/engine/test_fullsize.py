"""The full-size SD-Turbo architecture the GPU benchmark builds, checked on the meta device (no memory)."""

from __future__ import annotations

import pytest
import torch

from render.engine.fullsize import SD_TURBO_UNET_PARAMS, SD_VAE_PARAMS, count_forward_flops, sd_turbo_models


def _params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_sd_turbo_architecture_has_the_published_size_and_flops() -> None:
    models = sd_turbo_models("meta")
    assert _params(models["unet"]) == SD_TURBO_UNET_PARAMS
    assert 860e6 < SD_TURBO_UNET_PARAMS < 870e6  # SD 2.x UNet: ~865M
    assert _params(models["vae"]) == SD_VAE_PARAMS
    assert 330e6 < _params(models["text_encoder"]) < 360e6  # OpenCLIP ViT-H text tower, 23 of 24 layers

    flops = count_forward_flops(models["unet"], models["vae"], height=512, width=512, device="meta")
    # docs/performance.md: SD-Turbo UNet 0.80 TFLOP and SD VAE decoder 2.5 TFLOP at 512^2, one sample.
    assert flops["unet"] / 1e12 == pytest.approx(0.80, rel=0.02)
    assert flops["vae_decode"] / 1e12 == pytest.approx(2.5, rel=0.02)
