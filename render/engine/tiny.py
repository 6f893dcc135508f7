"""`tiny-sd`: a small Stable Diffusion pipeline built from config with random weights.

Tests, the embedded demo and the CPU benchmarks load it through the same `from_pretrained` path as the
real models, so it is built once into the local model cache and saved with `save_pretrained`. Nothing
is downloaded: the configs are written here and the CLIP tokenizer's vocabulary is made locally.

The component sizes follow the tiny configs of diffusers' own Stable Diffusion tests
(diffusers tests/pipelines/stable_diffusion/test_stable_diffusion.py, `get_dummy_components`), which
are small enough to run many times a second on a laptop CPU yet have every block type of SD 1.x.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import shutil
import tempfile
import threading
import uuid
from collections import Counter
from pathlib import Path
from typing import Any, Literal

import torch

# Fixed seed so that two builds give byte-identical weights (any constant works; 0 is the diffusers tests').
BUILD_SEED = 0

# CLIP's context length (openai/clip-vit-large-patch14 tokenizer_config.json: model_max_length 77).
# The SD pipelines pad every prompt to `tokenizer.model_max_length`.
CLIP_MAX_LENGTH = 77

# How many BPE merges the tiny tokenizer learns from its corpus below. Enough that common words become
# one or two tokens, small enough that the vocabulary stays far below real CLIP's 49,408.
TINY_BPE_MERGES = 256

# Text-feature width = the UNet's cross-attention width (diffusers' SD fast tests use 8).
TINY_TEXT_WIDTH = 8

# tiny-wan's text width = its transformer's text_dim (diffusers' Wan fast tests use 32).
TINY_T5_WIDTH = 32

# Bumped whenever a builder's output changes, so a model cache built by older code is rebuilt rather than
# silently served (the directory holds `BUILD_MARKER` with the version it was built at). tiny-sd 2: the
# SD 2.x attention layout (see `build_tiny_components`).
BUILD_VERSIONS = {"tiny-sd": 2, "tiny-wan": 1}
BUILD_MARKER = "reelsmith-build.json"

# The UNet's attention layout. "sd2" (the default, and what tiny-sd is): SD 2.x's, the family of sd-turbo,
# the production model. "sd1": diffusers' SD 1.x fast-test UNet as it was built before tiny-sd 2; kept so
# the benchmark can show what the layout alone changes (benchmarks/generate.py).
AttentionLayout = Literal["sd2", "sd1"]

# Module construction draws from torch's global RNG; two threads building at once would interleave their
# draws and break reproducibility. (Processes have their own RNG: the atomic rename covers them.)
_BUILD_LOCK = threading.Lock()

# A few words shaped like marketing prompts: the tiny tokenizer learns its merges from them.
_BPE_CORPUS = """
a photo of a happy customer holding a coffee cup in a bright modern kitchen, soft morning light
portrait of a smiling woman at her desk in an office, product on the table, studio lighting
the city skyline at sunset with a red car on the street, cinematic, highly detailed, sharp focus
a family on the beach in summer, blue sky, ocean waves, golden hour, warm colors, film grain
a cozy living room with plants and a laptop, minimalist interior, clean white background
mountains and a lake in the forest, landscape photography, wide angle, dramatic clouds, winter snow
a running shoe on a wooden floor, advertising photo, bokeh, vibrant, high quality, 4k, trending
the team celebrating in the store, fashion model, elegant dress, night, neon lights, rain reflections
blurry, low quality, watermark, text, logo, deformed, ugly, bad anatomy, extra fingers, cropped
"""


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible byte -> printable unicode table that CLIP's byte-level BPE is defined over.

    Copied from openai/CLIP clip/simple_tokenizer.py (`bytes_to_unicode`): the 188 printable latin-1 bytes
    map to themselves, the other 68 to code points from 256 on, so every byte is one visible character.
    """
    printable = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    byte_values = printable[:]
    code_points = printable[:]
    extra = 0
    for byte in range(2**8):
        if byte not in byte_values:
            byte_values.append(byte)
            code_points.append(2**8 + extra)
            extra += 1
    return dict(zip(byte_values, map(chr, code_points), strict=True))


def _learn_merges(corpus: str, n_merges: int) -> list[tuple[str, str]]:
    """Learn BPE merges from `corpus`, most frequent pair first, ties broken alphabetically (deterministic).

    Words are split like CLIP's pre-tokenizer does for plain lowercase text (on whitespace and punctuation),
    written in the byte-unicode alphabet, with `</w>` on each word's last symbol.
    """
    byte_encoder = bytes_to_unicode()
    words: Counter[tuple[str, ...]] = Counter()
    for raw in corpus.lower().replace(",", " ").split():
        symbols = [byte_encoder[b] for b in raw.encode("utf-8")]
        symbols[-1] += "</w>"
        words[tuple(symbols)] += 1

    merges: list[tuple[str, str]] = []
    for _ in range(n_merges):
        pairs: Counter[tuple[str, str]] = Counter()
        for word, count in words.items():
            for pair in itertools.pairwise(word):
                pairs[pair] += count
        if not pairs:
            break
        best = min(pairs, key=lambda pair: (-pairs[pair], pair))
        merges.append(best)
        merged: Counter[tuple[str, ...]] = Counter()
        for word, count in words.items():
            out: list[str] = []
            i = 0
            while i < len(word):
                if i + 1 < len(word) and (word[i], word[i + 1]) == best:
                    out.append(word[i] + word[i + 1])
                    i += 2
                else:
                    out.append(word[i])
                    i += 1
            merged[tuple(out)] += count
        words = merged
    return merges


def build_tiny_tokenizer() -> Any:
    """A real byte-level BPE `CLIPTokenizer`, vocabulary made here (no hub download).

    transformers 5 builds `CLIPTokenizer` from `vocab=dict` and `merges=list of pairs`
    (transformers/models/clip/tokenization_clip.py); the old `vocab_file`/`merges_file` arguments are
    swallowed by `**kwargs` and leave a 3-entry vocabulary, so every prompt would tokenize alike.
    Layout mirrors real CLIP: 256 byte symbols, their 256 `</w>` forms, the merges, then
    `<|startoftext|>` and `<|endoftext|>` last.
    """
    from transformers import CLIPTokenizer

    symbols = list(bytes_to_unicode().values())
    vocab: dict[str, int] = {}
    for token in [*symbols, *(s + "</w>" for s in symbols)]:
        vocab[token] = len(vocab)
    merges = _learn_merges(_BPE_CORPUS, TINY_BPE_MERGES)
    for left, right in merges:
        vocab.setdefault(left + right, len(vocab))
    for special in ("<|startoftext|>", "<|endoftext|>"):
        vocab[special] = len(vocab)
    # transformers annotates `merges` as list[str], but hands it straight to tokenizers.models.BPE, which
    # takes (left, right) pairs.
    return CLIPTokenizer(vocab=vocab, merges=merges, model_max_length=CLIP_MAX_LENGTH)  # type: ignore[arg-type]


def build_tiny_components(layout: AttentionLayout = "sd2") -> dict[str, Any]:
    """The pipeline's components, random weights from `BUILD_SEED`, without touching the global RNG.

    Attention, `layout="sd2"`: SD 2.x sizes attention heads by width, 64 channels each
    (stabilityai/sd-turbo unet/config.json: attention_head_dim [5, 10, 20, 20] on [320, 640, 1280, 1280]
    channels, use_linear_projection true); scaled down, an 8-channel block has one head of all 8 channels,
    with linear in/out projections. diffusers' SD 1.x fast-test UNet (`layout="sd1"`) leaves
    `attention_head_dim` at its default 8, which UNet2DConditionModel reads as 8 *heads*: on 8 channels
    that is 8 heads of width 1, a softmax over 8x the scores for the same width, a cost profile no real
    model has (docs/benchmarks.md measures both).
    """
    from diffusers import AutoencoderKL, EulerDiscreteScheduler, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    tokenizer = build_tiny_tokenizer()
    with _BUILD_LOCK, torch.random.fork_rng(devices=[]):
        torch.manual_seed(BUILD_SEED)
        # Sizes from diffusers' current SD fast tests (tests/pipelines/stable_diffusion/
        # test_stable_diffusion.py, `get_dummy_components`): two levels of 4/8 channels, one layer per
        # block, width-8 text features, four latent channels like SD. Every block type of SD 1.x is there.
        unet = UNet2DConditionModel(
            block_out_channels=(4, 8),
            layers_per_block=1,
            sample_size=32,
            in_channels=4,
            out_channels=4,
            down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
            up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
            cross_attention_dim=TINY_TEXT_WIDTH,
            norm_num_groups=2,
            **(
                # One head per attention block (the down block's entry is unused: it has no attention).
                {"attention_head_dim": (1, 1), "use_linear_projection": True} if layout == "sd2" else {}
            ),
        )
        vae = AutoencoderKL(
            block_out_channels=[4, 8],
            in_channels=3,
            out_channels=3,
            down_block_types=["DownEncoderBlock2D", "DownEncoderBlock2D"],
            up_block_types=["UpDecoderBlock2D", "UpDecoderBlock2D"],
            latent_channels=4,
            norm_num_groups=2,
        )
        text_encoder = CLIPTextModel(
            CLIPTextConfig(
                bos_token_id=tokenizer.bos_token_id,
                eos_token_id=tokenizer.eos_token_id,
                pad_token_id=tokenizer.pad_token_id,
                hidden_size=TINY_TEXT_WIDTH,
                intermediate_size=16,
                layer_norm_eps=1e-05,
                num_attention_heads=2,
                num_hidden_layers=2,
                max_position_embeddings=CLIP_MAX_LENGTH,
                vocab_size=len(tokenizer),
            )
        )
    # SD 1.x's scheduler settings (runwayml/stable-diffusion-v1-5 scheduler_config.json); "trailing"
    # spacing is what SD-Turbo uses so few-step sampling starts from pure noise.
    scheduler = EulerDiscreteScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        num_train_timesteps=1000,
        steps_offset=1,
        timestep_spacing="trailing",
    )
    return {
        "unet": unet,
        "vae": vae,
        "text_encoder": text_encoder,
        "tokenizer": tokenizer,
        "scheduler": scheduler,
    }


def build_tiny_sd(path: Path, *, layout: AttentionLayout = "sd2") -> None:
    """Build tiny-sd and save it at `path` with `save_pretrained`, atomically (see `_save_atomically`).

    A directory already holding this build is kept; one built by older code (another BUILD_VERSIONS
    entry, or none) is replaced. `layout="sd1"` is for the benchmark's comparison only.
    """
    from diffusers import StableDiffusionPipeline

    marker = {"model": "tiny-sd", "build": BUILD_VERSIONS["tiny-sd"], "layout": layout}
    if is_current_build(Path(path), marker):
        return
    pipe: Any = StableDiffusionPipeline(
        **build_tiny_components(layout),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    _save_atomically(pipe, Path(path), marker)


def build_tiny_wan_components() -> dict[str, Any]:
    """tiny-wan's components: Wan 2.1's text-to-video architecture, random weights from `BUILD_SEED`.

    Sizes from diffusers' own Wan fast tests (diffusers tests/pipelines/wan/test_wan.py,
    `get_dummy_components`): a 3-channel-base VAE with Wan's 4x temporal and 8x spatial compression, a
    2-layer, 2-head transformer with 1x2x2 patches. The text encoder is a 2-layer UMT5 (Wan's encoder
    family) sized like those tests' tiny T5; its tokenizer is tiny-sd's locally made BPE one, since the
    tests' T5 tokenizer would be a hub download. The pipeline only needs ids inside the vocabulary.
    """
    from diffusers import AutoencoderKLWan, FlowMatchEulerDiscreteScheduler, WanTransformer3DModel
    from transformers import UMT5Config, UMT5EncoderModel

    tokenizer = build_tiny_tokenizer()
    with _BUILD_LOCK, torch.random.fork_rng(devices=[]):
        torch.manual_seed(BUILD_SEED)
        vae = AutoencoderKLWan(
            base_dim=3,
            z_dim=16,
            dim_mult=[1, 1, 1, 1],
            num_res_blocks=1,
            temperal_downsample=[False, True, True],
        )
        text_encoder = UMT5EncoderModel(
            UMT5Config(
                vocab_size=len(tokenizer),
                d_model=TINY_T5_WIDTH,
                d_kv=8,
                d_ff=64,
                num_layers=2,
                num_heads=4,
                relative_attention_num_buckets=8,
                pad_token_id=tokenizer.pad_token_id,
                eos_token_id=tokenizer.eos_token_id,
                decoder_start_token_id=0,
            )
        )
        transformer = WanTransformer3DModel(
            patch_size=(1, 2, 2),
            num_attention_heads=2,
            attention_head_dim=12,
            in_channels=16,
            out_channels=16,
            text_dim=TINY_T5_WIDTH,
            freq_dim=256,
            ffn_dim=32,
            num_layers=2,
            cross_attn_norm=True,
            qk_norm="rms_norm_across_heads",
            rope_max_seq_len=32,
        )
    # Wan 2.1's scheduler: flow matching, shift 7.0 in diffusers' fast tests (3.0 for 480p in the model card;
    # irrelevant for random weights, kept as the tests have it).
    scheduler = FlowMatchEulerDiscreteScheduler(shift=7.0)
    return {
        "tokenizer": tokenizer,
        "text_encoder": text_encoder,
        "vae": vae,
        "scheduler": scheduler,
        "transformer": transformer,
    }


def build_tiny_wan(path: Path) -> None:
    """Build tiny-wan (a text-to-video WanPipeline) and save it at `path`, atomically."""
    from diffusers import WanPipeline

    marker = {"model": "tiny-wan", "build": BUILD_VERSIONS["tiny-wan"]}
    if is_current_build(Path(path), marker):
        return
    _save_atomically(WanPipeline(**build_tiny_wan_components()), Path(path), marker)


def is_current_build(path: Path, marker: dict[str, Any]) -> bool:
    """Whether `path` holds a complete model built by this code (its BUILD_MARKER equals `marker`)."""
    try:
        saved = json.loads((path / BUILD_MARKER).read_text())
    except (OSError, ValueError):
        return False
    return saved == marker and (path / "model_index.json").is_file()


def _save_atomically(pipe: Any, path: Path, marker: dict[str, Any]) -> None:
    """`save_pretrained` into a temporary directory beside `path`, then rename it into place, so a reader
    never sees half a model. An outdated build at `path` is moved aside first and deleted after. If another
    process wins the race, its (identical) build is kept."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.build-", dir=path.parent))
    stale = path.parent / f".{path.name}.stale-{uuid.uuid4().hex}"
    try:
        pipe.save_pretrained(tmp)
        (tmp / BUILD_MARKER).write_text(json.dumps(marker, sort_keys=True))
        try:
            # rename(2) is atomic and replaces `path` only if it is missing or an empty directory.
            os.rename(tmp, path)
        except OSError:
            if is_current_build(path, marker):
                return  # another process finished first; its build is the same bytes
            if not path.exists():
                raise
            # An older build: move it aside (atomic), then put ours in its place.
            with contextlib.suppress(FileNotFoundError):
                os.rename(path, stale)
            try:
                os.rename(tmp, path)
            except OSError:
                if not is_current_build(path, marker):
                    raise
    finally:
        for leftover in (tmp, stale):
            with contextlib.suppress(FileNotFoundError):
                shutil.rmtree(leftover)
