from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path

import pytest
from transformers import CLIPTokenizer

from render.engine.tiny import (
    BUILD_MARKER,
    BUILD_VERSIONS,
    CLIP_MAX_LENGTH,
    build_tiny_sd,
    build_tiny_tokenizer,
)


def _digests(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_tokenizer_is_a_real_bpe_vocabulary() -> None:
    tokenizer = build_tiny_tokenizer()
    assert isinstance(tokenizer, CLIPTokenizer)
    assert len(tokenizer) > 256 * 2  # every byte, its end-of-word form, and the learned merges
    assert tokenizer.model_max_length == CLIP_MAX_LENGTH
    a = tokenizer("a photo of a red car").input_ids
    b = tokenizer("portrait of a smiling woman").input_ids
    assert a != b
    assert a[0] == tokenizer.bos_token_id
    assert a[-1] == tokenizer.eos_token_id
    # Merges learned from the corpus make common words single tokens.
    assert len(tokenizer("photo").input_ids) == 3
    # Any text encodes, bytes outside the corpus included (CLIP's unknown token is its end-of-text).
    assert tokenizer.unk_token_id not in tokenizer("Grüße, 東京! 🎬").input_ids[1:-1]


def test_build_is_reproducible_and_loads(tmp_path: Path) -> None:
    build_tiny_sd(tmp_path / "one")
    build_tiny_sd(tmp_path / "two")
    one, two = _digests(tmp_path / "one"), _digests(tmp_path / "two")
    assert one == two
    assert "unet/diffusion_pytorch_model.safetensors" in one
    assert not any(name.startswith("safety_checker") or name.startswith("feature_extractor") for name in one)
    # The saved tokenizer round-trips to the same ids.
    reloaded = CLIPTokenizer.from_pretrained(tmp_path / "one" / "tokenizer", local_files_only=True)
    assert (
        reloaded("a photo of a red car").input_ids == build_tiny_tokenizer()("a photo of a red car").input_ids
    )
    # Nothing is left beside the model.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one", "two"]


def test_build_keeps_an_existing_model(tmp_path: Path) -> None:
    target = tmp_path / "tiny-sd"
    build_tiny_sd(target)
    before = (target / "model_index.json").stat().st_mtime_ns
    build_tiny_sd(target)
    assert (target / "model_index.json").stat().st_mtime_ns == before


def test_racing_builds_leave_one_complete_model(tmp_path: Path) -> None:
    target = tmp_path / "tiny-sd"
    errors: list[BaseException] = []

    def build() -> None:
        try:
            build_tiny_sd(target)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=build) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert (target / "model_index.json").is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["tiny-sd"]


@pytest.mark.parametrize("text", ["", "a", "the same words, again and again " * 20])
def test_tokenizer_pads_and_truncates_to_clip_length(text: str) -> None:
    ids = build_tiny_tokenizer()(
        text, padding="max_length", max_length=CLIP_MAX_LENGTH, truncation=True
    ).input_ids
    assert len(ids) == CLIP_MAX_LENGTH


def _unet_config(path: Path) -> dict[str, object]:
    return dict(json.loads((path / "unet" / "config.json").read_text()))


def test_tiny_sd_has_sd2_attention_one_head_per_block(tmp_path: Path) -> None:
    build_tiny_sd(tmp_path / "sd2")
    config = _unet_config(tmp_path / "sd2")
    assert config["use_linear_projection"] is True
    assert list(config["attention_head_dim"]) == [1, 1]  # type: ignore[call-overload]
    assert json.loads((tmp_path / "sd2" / BUILD_MARKER).read_text())["build"] == BUILD_VERSIONS["tiny-sd"]
    build_tiny_sd(tmp_path / "sd1", layout="sd1")
    assert _unet_config(tmp_path / "sd1")["use_linear_projection"] is False


def test_a_build_by_older_code_is_replaced(tmp_path: Path) -> None:
    target = tmp_path / "tiny-sd"
    build_tiny_sd(target, layout="sd1")  # stands in for an older build: another marker
    (target / "stale-file").write_text("left by the old build")
    build_tiny_sd(target)
    assert _unet_config(target)["use_linear_projection"] is True
    assert not (target / "stale-file").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["tiny-sd"]  # the old one moved aside, then deleted
    # A directory without any marker (built before markers existed) is outdated too.
    (target / BUILD_MARKER).unlink()
    build_tiny_sd(target)
    assert (target / BUILD_MARKER).is_file()
