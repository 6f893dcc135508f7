"""Benchmark the diffusion engine. Prints one JSON object last (docs/performance.md "How to benchmark").

Parts (`--part`, repeatable; each adds one key to the JSON):
  tiny_cpu  tiny-sd through `Engine.run_batch` on this machine's CPU: images/s at batch 1, 4, 8, 16
            (medians after a warm-up, all in one run) and batched_speedup = images/s at 16 / one by one.
            Measured with fresh prompts (every text a prompt-cache miss, like per-recipient prompts),
            and, side by side in the same round-robin: with the prompts already cached, through
            diffusers' own StableDiffusionPipeline.__call__ instead of the engine's denoising loop
            (pipeline_call), and on tiny-sd's earlier SD 1.x attention layout (sd1_layout).
  arch      a full-size architecture built from config with random weights (`--arch sd-turbo`) on a GPU
            (`--device cuda`): images/s and achieved TFLOP/s per batch size, eager and compiled.
  dedupe    200 render requests over 5 distinct pictures through the render services (Django on a
            throwaway SQLite database, tasks inline): generations_run (must equal the distinct count),
            pipeline calls and wall time.

    .venv/bin/python benchmarks/generate.py                       # tiny_cpu and dedupe
    .venv/bin/python benchmarks/generate.py --arch sd-turbo --device cuda
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for a hub, whatever a library defaults to
if not __package__:  # run as `python benchmarks/generate.py`: make `render` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TINY_BATCHES = (1, 4, 8, 16)
# Full-size batches: the engine's padding buckets (render/engine/pipeline.py BATCH_BUCKETS).
ARCH_BATCHES = (1, 2, 4, 8, 16, 32, 64)
# The lent H100's measured bf16 matmul ceiling (docs/performance.md: an 8192^3 bf16 matmul, ~798 TFLOP/s).
MATMUL_CEILING_TFLOPS = 798.0


class PartUnavailable(Exception):
    """A part that cannot run here; its message says why."""


def _requests(spec: Any, n: int, tag: str, *, fresh: bool) -> list[Any]:
    from render.engine.types import GenerationRequest

    shape = spec.shape_key()
    prompts = [
        f"{'fresh ' + tag + ' ' if fresh else ''}a photo of customer {i} holding a coffee cup, morning light"
        for i in range(n)
    ]
    return [GenerationRequest(key=f"{tag}-{i}", shape=shape, prompt=p, seed=i) for i, p in enumerate(prompts)]


def part_tiny_cpu(args: argparse.Namespace) -> dict[str, Any]:
    if args.model_cache:
        return _tiny_cpu(args, Path(args.model_cache))
    with tempfile.TemporaryDirectory(prefix="reelsmith-bench-") as cache:
        return _tiny_cpu(args, Path(cache))


def _tiny_cpu(args: argparse.Namespace, cache: Path) -> dict[str, Any]:
    import torch
    from diffusers import StableDiffusionPipeline

    from render.engine.config import engine_settings
    from render.engine.pipeline import Engine
    from render.engine.registry import model_spec
    from render.engine.tiny import build_tiny_sd

    settings = replace(engine_settings(), model_cache=cache, device="cpu", max_batch=max(TINY_BATCHES))
    spec = model_spec("tiny-sd", settings=settings)
    engine = Engine(spec, settings=settings)
    # Variants measured side by side in one round-robin, so load from other processes on this shared machine
    # falls on all of them alike. Each has its own Engine (own prompt cache); engines on one pipeline share it.
    #   fresh           the engine as deployed, every text a prompt-cache miss (per-recipient prompts);
    #   cached_prompts  the same with the prompts already cached;
    #   pipeline_call   fresh prompts through diffusers' StableDiffusionPipeline.__call__ instead of the
    #                   engine's denoising loop (same pictures, tests/engine/test_loop.py): what the loop saves;
    #   sd1_layout      fresh prompts on tiny-sd built with its pre-2 attention layout (8 heads of width 1,
    #                   render/engine/tiny.py): what the model's layout alone changes.
    via_call = Engine(spec, settings=settings, pipeline=engine.pipe)
    via_call.direct_loop_enabled = False
    sd1_dir = cache / "tiny-sd-sd1-layout"
    build_tiny_sd(sd1_dir, layout="sd1")
    sd1_pipe = StableDiffusionPipeline.from_pretrained(
        sd1_dir,
        dtype=torch.float32,
        local_files_only=True,
        safety_checker=None,
        requires_safety_checker=False,
    )
    variants: dict[str, tuple[Any, bool]] = {
        "fresh": (engine, True),
        "cached_prompts": (Engine(spec, settings=settings, pipeline=engine.pipe), False),
        "pipeline_call": (via_call, True),
        "sd1_layout": (Engine(spec, settings=settings, pipeline=sd1_pipe), True),
    }

    # Warm-up: every variant and batch size once (oneDNN builds its kernels per shape on first use; the
    # cached variant's prompts go into its cache here).
    for name, (variant, fresh) in variants.items():
        for b in TINY_BATCHES:
            for c in range(max(TINY_BATCHES) // b):
                variant.run_batch(
                    _requests(spec, b, f"{name}-warm{b}-{c}" if fresh else f"{b}-{c}", fresh=fresh)
                )
    # Round-robin over variants and batch sizes inside each repeat. Each point makes max(TINY_BATCHES)
    # images: batch 1 is "one by one", 16 single-request calls, as a worker without batching would make.
    seconds: dict[tuple[str, int], list[float]] = {(n, b): [] for n in variants for b in TINY_BATCHES}
    for i in range(args.repeats):
        for name, (variant, fresh) in variants.items():
            for b in TINY_BATCHES:
                calls = [
                    _requests(spec, b, f"{name}-r{b}-{i}-{c}" if fresh else f"{b}-{c}", fresh=fresh)
                    for c in range(max(TINY_BATCHES) // b)
                ]
                start = time.perf_counter()
                for requests in calls:
                    variant.run_batch(requests)
                seconds[(name, b)].append(time.perf_counter() - start)

    def summary(name: str) -> dict[str, Any]:
        per_batch = {
            str(b): round(max(TINY_BATCHES) / statistics.median(seconds[(name, b)]), 2) for b in TINY_BATCHES
        }
        return {
            "images_per_s": per_batch,
            "batched_speedup": round(per_batch[str(max(TINY_BATCHES))] / per_batch["1"], 2),
        }

    deployed = summary("fresh")
    return {
        "model": spec.name,
        "size": f"{spec.width}x{spec.height}",
        "steps": spec.default_steps,
        "guidance": spec.default_guidance,
        "threads": torch.get_num_threads(),
        "repeats": args.repeats,
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "images_per_s": deployed["images_per_s"],
        "batched_speedup": deployed["batched_speedup"],
        **{name: summary(name) for name in variants if name != "fresh"},
    }


def _cuda_median_ms(fn: Callable[[], None], *, warmup: int, repeats: int) -> float:
    import torch

    for _ in range(warmup):  # compiles (once per bucket), autotunes, fills the allocator's pools
        fn()
    times = []
    for _ in range(repeats):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    return statistics.median(times)


def _time_arch(
    engine: Any, spec: Any, batches: list[int], size: int, flops_per_image: int, args: argparse.Namespace
) -> dict[str, Any]:
    import torch

    rows: dict[str, Any] = {}
    for b in batches:
        requests = _requests(spec, b, f"arch{b}", fresh=False)
        embeds = torch.cat([engine.embed_text(r.prompt).hidden for r in requests])

        def pipeline_only(requests: list[Any] = requests, embeds: Any = embeds) -> None:
            # The batched denoising loop as run_batch runs it, but the pictures stay a uint8 GPU tensor:
            # the GPU's share of the work, without the copy to the host and the PIL conversion.
            with torch.inference_mode():
                generators = [torch.Generator(engine.device).manual_seed(r.seed) for r in requests]
                engine._denoise(requests, engine.spec.shape_key(), {"prompt_embeds": embeds}, generators)

        def end_to_end(requests: list[Any] = requests) -> None:
            engine.run_batch(requests)

        row: dict[str, Any] = {}
        for name, fn in (("gpu", pipeline_only), ("engine", end_to_end)):
            ms = _cuda_median_ms(fn, warmup=args.warmup, repeats=args.repeats)
            tflops = flops_per_image * b / (ms / 1e3) / 1e12
            row[name] = {
                "ms": round(ms, 2),
                "images_per_s": round(b / (ms / 1e3), 2),
                "tflops": round(tflops, 1),
                "fraction_of_matmul_ceiling": round(tflops / MATMUL_CEILING_TFLOPS, 3),
            }
        rows[str(b)] = row
    return rows


def part_arch(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    if args.arch != "sd-turbo":
        raise PartUnavailable(f"--arch {args.arch!r}: only sd-turbo is built from config so far")
    if args.device != "cuda":
        raise PartUnavailable("--part arch times a full-size model on a GPU: pass --device cuda")
    if not torch.cuda.is_available():
        raise PartUnavailable("--device cuda but torch sees no CUDA device (run on a lent GPU machine)")

    from render.engine.config import engine_settings
    from render.engine.fullsize import count_forward_flops, sd_turbo_models, sd_turbo_pipeline
    from render.engine.pipeline import Engine
    from render.engine.registry import model_spec

    # 1. FLOPs of one image, counted on meta tensors (nothing allocated).
    meta = sd_turbo_models("meta")
    size = 512  # sd-turbo's native resolution (model card)
    flops = count_forward_flops(meta["unet"], meta["vae"], height=size, width=size, device="meta")
    del meta
    flops_per_image = flops["unet"] * 1 + flops["vae_decode"]  # one step, guidance 0: one UNet pass

    batches = [b for b in ARCH_BATCHES if b <= args.max_batch]
    results: dict[str, Any] = {}
    for compiled in (False, True):
        settings = replace(
            engine_settings(), device="cuda", compile=compiled, max_batch=max(batches), prompt_cache_size=1024
        )
        spec = model_spec("sd-turbo", settings=settings)
        torch.manual_seed(0)
        engine = Engine(spec, settings=settings, pipeline=sd_turbo_pipeline("cuda", torch.bfloat16))
        rows = _time_arch(engine, spec, batches, size, flops_per_image, args)
        results["compiled" if compiled else "eager"] = rows
        del engine
        torch.cuda.empty_cache()
    return {
        "arch": args.arch,
        "device": torch.cuda.get_device_name(),
        "size": f"{size}x{size}",
        "steps": 1,
        "dtype": "bfloat16",
        "tflop_per_image": {k: round(v / 1e12, 3) for k, v in flops.items()},
        "timing": (
            "median of CUDA-event times after warm-up; gpu = the engine's batched denoising loop with uint8 "
            "GPU tensor output, "
            "engine = Engine.run_batch end to end (PIL images); prompts cached"
        ),
        **results,
    }


DEDUPE_INDUSTRIES = ("bakery", "florist", "garage", "gym", "bookshop", "cafe", "dentist", "tailor")


def part_dedupe(args: argparse.Namespace) -> dict[str, Any]:
    """`--renders` render requests over `--prompts` distinct pictures through the real render services.

    Django is set up here, in this process, on an isolated SQLite database and media directory in a
    temporary directory, embedded mode with `REELSMITH_EMBEDDED_WORKER=sync` (tasks run inline after each
    commit). The renders are planned in one transaction, as a campaign fan-out makes them, so the
    generate tasks fire together on commit and the pictures batch. Compose is stubbed out: it is not
    what this part measures (benchmarks/compose.py times it).
    """
    if not 1 <= args.prompts <= len(DEDUPE_INDUSTRIES):
        raise PartUnavailable(f"--prompts must be 1..{len(DEDUPE_INDUSTRIES)}")
    with tempfile.TemporaryDirectory(prefix="reelsmith-dedupe-") as tmp:
        return _dedupe(args, Path(tmp))


def _dedupe(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    if "django.conf" in sys.modules:
        from django.conf import settings as django_settings

        if django_settings.configured:
            raise PartUnavailable("--part dedupe sets Django up itself: run it in a fresh process")
    for name in ("DATABASE_URL", "CELERY_BROKER_URL"):  # embedded mode, whatever the shell exports
        os.environ.pop(name, None)
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "core.settings",
            "REELSMITH_VAR_DIR": str(tmp),
            "SQLITE_PATH": str(tmp / "bench.sqlite3"),
            "MEDIA_ROOT": str(tmp / "media"),
            "REELSMITH_EMBEDDED_WORKER": "sync",
            "REELSMITH_DEVICE": "cpu",
            "REELSMITH_MODEL_CACHE": args.model_cache or str(tmp / "models"),
            # Tasks run inline, one at a time: nothing can arrive while a generate task lingers.
            "REELSMITH_MAX_WAIT_MS": "0",
        }
    )
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import transaction
    from django.db.models import Sum

    from core.models import Workspace
    from core.services import brand_create
    from render import services
    from render.models import Generation, GenerationBatch, Priority, Render, RenderGeneration, RenderStatus
    from templates.services import template_create

    call_command("migrate", verbosity=0)

    def compose_skipped(*, render_id: Any, lease_owner: str = "") -> None:
        """Compose is not measured here."""

    services.render_compose = compose_skipped

    workspace = Workspace.objects.create(name="bench")
    brand = brand_create(
        workspace=workspace,
        name="Acme",
        colors={"primary": "#1F3A93", "secondary": "#FF7A00", "text": "#FFFFFF"},
    )
    spec = {
        "format": {"width": 180, "height": 320, "fps": 10},
        "variables": {
            "first_name": {"type": "text", "required": True, "max_length": 32},
            "industry": {"type": "text", "default": "retail"},
        },
        "scenes": [
            {
                "duration": 1.0,
                "background": {
                    "generate": {"prompt": "a sunlit {{industry}} storefront, cinematic", "seed": 7}
                },
                "layers": [{"type": "text", "text": "Hi {{first_name}}!", "box": [0.1, 0.3, 0.8, 0.2]}],
            }
        ],
    }
    version = template_create(workspace=workspace, name="bench", spec=spec)
    # Warm the engine (loads tiny-sd, builds it on first use) so the timing is the services' work.
    from render.engine.pipeline import get_engine

    get_engine("tiny-sd")

    start = time.perf_counter()
    with transaction.atomic():
        renders = [
            Render.objects.create(
                workspace=workspace,
                template_version=version,
                brand=brand,
                variables={"first_name": f"Recipient {i}", "industry": DEDUPE_INDUSTRIES[i % args.prompts]},
                priority=Priority.BATCH,
            )
            for i in range(args.renders)
        ]
        for render in renders:
            services.render_plan(render_id=render.pk)
    wall = time.perf_counter() - start  # the generate tasks ran on commit, inside this window
    return {
        "renders": args.renders,
        "distinct_prompts": args.prompts,
        "generations": Generation.objects.count(),
        "generations_run": Generation.objects.aggregate(n=Sum("runs"))["n"] or 0,
        "pipeline_calls": GenerationBatch.objects.count(),
        "batch_sizes": list(GenerationBatch.objects.order_by("pk").values_list("size", flat=True)),
        "cache_hits": RenderGeneration.objects.filter(cache_hit=True).count(),
        "renders_ready_to_compose": Render.objects.filter(status=RenderStatus.COMPOSING).count(),
        "wall_s": round(wall, 3),
        "ms_per_render": round(wall / args.renders * 1e3, 2),
    }


PARTS: dict[str, Callable[[argparse.Namespace], dict[str, Any]]] = {
    "tiny_cpu": part_tiny_cpu,
    "arch": part_arch,
    "dedupe": part_dedupe,
}


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--part",
        action="append",
        choices=sorted(PARTS),
        help="default: tiny_cpu and dedupe (arch with --arch)",
    )
    parser.add_argument("--arch", choices=["sd-turbo"], help="full-size architecture for --part arch")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu", help="device for --part arch")
    parser.add_argument("--repeats", type=int, default=7, help="timed repeats per point (median reported)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed calls per batch size (--part arch)")
    parser.add_argument(
        "--max-batch", type=int, default=max(ARCH_BATCHES), help="largest batch for --part arch"
    )
    parser.add_argument("--model-cache", help="tiny-sd model cache (default: a fresh temporary directory)")
    parser.add_argument("--renders", type=int, default=200, help="render requests for --part dedupe")
    parser.add_argument("--prompts", type=int, default=5, help="distinct pictures among them (--part dedupe)")
    args = parser.parse_args(argv)
    if args.part is None:
        args.part = ["arch"] if args.arch else ["tiny_cpu", "dedupe"]
    if "arch" in args.part and args.arch is None:
        parser.error("--part arch needs --arch")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    report: dict[str, Any] = {}
    status = 0
    for name in args.part:
        try:
            report[name] = PARTS[name](args)
        except PartUnavailable as exc:
            print(f"generate.py: {name}: {exc}", file=sys.stderr)
            report[name] = {"error": str(exc)}
            status = 2
    print(json.dumps(report, indent=2))
    return status


if __name__ == "__main__":
    sys.exit(main())
