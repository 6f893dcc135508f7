"""Full-size architectures built from config with random weights, for GPU benchmarks.

Same shapes, hence the same FLOPs, as the real models, without downloading a byte. Configs are written
inline from the published `config.json` files of stabilityai/sd-turbo (which is SD 2.1's architecture):
unet/config.json, vae/config.json and text_encoder/config.json (OpenCLIP ViT-H/14's text tower, cut to 23
of its 24 layers because SD 2.x reads the penultimate layer).

Build on `device="meta"` to count parameters and FLOPs without allocating (tests do), or on "cuda".
"""

from __future__ import annotations

from typing import Any

import torch

from render.engine.tiny import build_tiny_tokenizer

# stabilityai/sd-turbo unet/config.json (= stabilityai/stable-diffusion-2-1-base's UNet).
SD_TURBO_UNET_CONFIG: dict[str, Any] = {
    "sample_size": 64,  # 512 px / the VAE's factor of 8
    "in_channels": 4,
    "out_channels": 4,
    "layers_per_block": 2,
    "block_out_channels": (320, 640, 1280, 1280),
    "down_block_types": (
        "CrossAttnDownBlock2D",
        "CrossAttnDownBlock2D",
        "CrossAttnDownBlock2D",
        "DownBlock2D",
    ),
    "up_block_types": ("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
    "cross_attention_dim": 1024,
    "attention_head_dim": (5, 10, 20, 20),
    "use_linear_projection": True,
    "norm_num_groups": 32,
    "act_fn": "silu",
}

# stabilityai/sd-turbo vae/config.json (the SD 1.x/2.x KL-f8 autoencoder).
SD_VAE_CONFIG: dict[str, Any] = {
    "in_channels": 3,
    "out_channels": 3,
    "down_block_types": ("DownEncoderBlock2D",) * 4,
    "up_block_types": ("UpDecoderBlock2D",) * 4,
    "block_out_channels": (128, 256, 512, 512),
    "layers_per_block": 2,
    "latent_channels": 4,
    "norm_num_groups": 32,
    "sample_size": 512,
    "scaling_factor": 0.18215,
}

# stabilityai/sd-turbo text_encoder/config.json (OpenCLIP ViT-H/14 text tower, 23 layers).
SD_TURBO_TEXT_CONFIG: dict[str, Any] = {
    "vocab_size": 49408,
    "hidden_size": 1024,
    "intermediate_size": 4096,
    "num_hidden_layers": 23,
    "num_attention_heads": 16,
    "max_position_embeddings": 77,
    "hidden_act": "gelu",
    "projection_dim": 512,
    "layer_norm_eps": 1e-5,
}

# What these configs count to (`sum(p.numel())`); SD 2.x's UNet is quoted as ~865M parameters (Stability
# AI's SD 2 release notes) and the KL-f8 VAE as ~84M, so the configs are the published ones.
SD_TURBO_UNET_PARAMS = 865_910_724
SD_VAE_PARAMS = 83_653_863


def sd_turbo_models(device: str | torch.device, dtype: torch.dtype = torch.float32) -> dict[str, Any]:
    """UNet, VAE and text encoder of SD-Turbo's architecture, random weights, made directly on `device`."""
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    with torch.device(device):
        unet: Any = UNet2DConditionModel(**SD_TURBO_UNET_CONFIG)
        vae: Any = AutoencoderKL(**SD_VAE_CONFIG)
        text_encoder: Any = CLIPTextModel(CLIPTextConfig(**SD_TURBO_TEXT_CONFIG))
    return {"unet": unet.to(dtype), "vae": vae.to(dtype), "text_encoder": text_encoder.to(dtype)}


def sd_turbo_pipeline(device: str | torch.device, dtype: torch.dtype) -> Any:
    """A StableDiffusionPipeline with SD-Turbo's architecture and scheduler, random weights.

    The tokenizer is tiny-sd's locally made one: its ids are valid for the 49,408-row embedding and
    tokenization is not what is being measured.
    """
    from diffusers import EulerDiscreteScheduler, StableDiffusionPipeline

    # stabilityai/sd-turbo scheduler/scheduler_config.json: Euler, trailing spacing, SD's betas.
    scheduler = EulerDiscreteScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        num_train_timesteps=1000,
        steps_offset=1,
        timestep_spacing="trailing",
    )
    return StableDiffusionPipeline(
        **sd_turbo_models(device, dtype),
        tokenizer=build_tiny_tokenizer(),
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )


def count_forward_flops(
    unet: Any, vae: Any, *, height: int, width: int, device: str | torch.device
) -> dict[str, int]:
    """FLOPs of one batch-1 UNet forward and one VAE decode at `height`x`width`, by FlopCounterMode.

    On `device="meta"` nothing is computed or allocated; the counts are exact for matmuls, convolutions
    and attention (the ops that matter), which is what torch.utils.flop_counter counts.
    """
    from torch.utils.flop_counter import FlopCounterMode

    factor = 2 ** (len(vae.config.block_out_channels) - 1)
    dtype = next(unet.parameters()).dtype
    latents = torch.zeros(
        1, unet.config.in_channels, height // factor, width // factor, device=device, dtype=dtype
    )
    text = torch.zeros(1, 77, unet.config.cross_attention_dim, device=device, dtype=dtype)  # CLIP's 77 tokens
    timestep = torch.tensor([999], device=device)  # the one step of a turbo model starts at t=999
    with torch.inference_mode():
        with FlopCounterMode(display=False) as unet_counter:
            unet(latents, timestep, text)
        with FlopCounterMode(display=False) as vae_counter:
            vae.decode(latents)
    return {"unet": unet_counter.get_total_flops(), "vae_decode": vae_counter.get_total_flops()}
