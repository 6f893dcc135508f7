"""The engine's own denoising loop for SD 1.x/2.x text-to-image, a readable copy of diffusers' `__call__`.

Bit-identical on CPU to the pipeline it copies (tests/engine/test_loop.py). SDXL and img2img use the
pipelines' own `__call__`.
"""

from __future__ import annotations

from typing import Any

import torch

from render.engine.types import ShapeKey

# Pipelines whose text-to-image path `denoise_text_to_image` reproduces (SD 1.x/2.x: one text encoder, no
# extra conditioning). Others (SDXL) go through the pipeline's own __call__.
DIRECT_LOOP_PIPELINES = frozenset({"StableDiffusionPipeline"})


def denoise_text_to_image(
    pipe: Any,
    *,
    shape: ShapeKey,
    embeds: dict[str, torch.Tensor],
    generators: list[torch.Generator],
    latents: torch.Tensor,
    step_takes_generator: bool,
    device: torch.device,
    dtype: torch.dtype,
) -> torch.Tensor:
    """StableDiffusionPipeline.__call__'s text-to-image path, copied down to what the engine uses.

    Same operations in the same order as diffusers 0.42's `__call__` (prepare_latents, the Euler/DDIM
    loop, vae.decode, VaeImageProcessor.postprocess to uint8), so the pictures are the pipeline's
    (tests/engine/test_loop.py compares them). What it leaves out is the per-call generic work:
    check_inputs, `_execution_device` (walks every module), signature inspection in
    prepare_extra_step_kwargs, LoRA/IP-adapter/callback plumbing, per-image numpy -> PIL
    post-processing; and it writes the noise into `latents`, a buffer the engine reuses per shape. Returns
    (B, H, W, 3) uint8 on `device`.
    """
    scheduler = pipe.scheduler
    guided = shape.guidance > 1.0
    prompt_embeds = embeds["prompt_embeds"]
    if guided:
        prompt_embeds = torch.cat([embeds["negative_prompt_embeds"], prompt_embeds])

    # Timesteps (retrieve_timesteps), then the initial noise (prepare_latents: one randn per generator,
    # drawn on the generator's device, scaled by the scheduler's initial sigma).
    scheduler.set_timesteps(shape.steps, device=device)
    for row, generator in zip(latents, generators, strict=True):
        torch.randn(row.shape, generator=generator, device=device, dtype=dtype, out=row)
    latents = latents * scheduler.init_noise_sigma

    step_kwargs: dict[str, Any] = {"generator": generators} if step_takes_generator else {}
    for t in scheduler.timesteps:
        model_input = torch.cat([latents] * 2) if guided else latents
        model_input = scheduler.scale_model_input(model_input, t)
        noise_pred = pipe.unet(model_input, t, encoder_hidden_states=prompt_embeds, return_dict=False)[0]
        if guided:
            uncond, text = noise_pred.chunk(2)
            noise_pred = uncond + shape.guidance * (text - uncond)
        latents = scheduler.step(noise_pred, t, latents, **step_kwargs, return_dict=False)[0]

    # Batched VAE decode, then VaeImageProcessor.postprocess's arithmetic ((x / 2 + 0.5) clamped, x 255,
    # round half to even, uint8) on the whole batch at once instead of image by image in numpy.
    image = pipe.vae.decode(
        latents / pipe.vae.config.scaling_factor, return_dict=False, generator=generators
    )[0]
    image = (image / 2 + 0.5).clamp(0, 1)
    return (image.permute(0, 2, 3, 1).float() * 255).round().to(torch.uint8)
