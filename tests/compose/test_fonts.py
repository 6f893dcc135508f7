"""Every script draws (the brand font, else a fallback by glyph coverage) and stays inside its box."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from render.compose.compose import compose_video
from render.compose.fonts import _codepoints, fallback_fonts, font_for
from render.compose.plan import ColorBackground, TextLayer
from render.compose.probe import decode_frame
from tests.compose.conftest import HEIGHT, NOTO_SANS, WIDTH, build_plan

MAX_LENGTH = 32  # the contract example's first_name max_length
# The longest value each script allows: 32 characters of real words, wide letters first.
VALUES = {
    "latin": "Wilhelmina Maximiliane Ødegård-W"[:MAX_LENGTH],
    "cjk": ("山田太郎様と株式会社みらい創造研究所の皆様へ、心を込めて感謝申し上げます")[:MAX_LENGTH],
    "arabic": ("عبد الرحمن بن محمد الشمري للتجارة والمقاولات")[:MAX_LENGTH],
    "hebrew": ("אורית בן־דוד ושות׳ מסחר ושיווק בינלאומי")[:MAX_LENGTH],  # noqa: RUF001 - a real geresh
}
BOX = (0.1, 0.3, 0.8, 0.2)


@pytest.mark.parametrize("script", sorted(VALUES))
def test_longest_value_in_each_script_is_drawn_inside_its_box(tmp_path: Path, script: str) -> None:
    text = VALUES[script]
    font = font_for(text, NOTO_SANS)
    # The chosen font has a glyph for every character: nothing is drawn as an empty box.
    assert {ord(ch) for ch in text if not ch.isspace()} <= _codepoints(font)
    assert (font == NOTO_SANS) == (script == "latin")
    plan = build_plan((1.0, ColorBackground("#000000"), (TextLayer(text, BOX, "#FFFFFF", NOTO_SANS),)))
    compose_video(plan, tmp_path / "v.mp4", workdir=tmp_path / "w")
    luma = np.asarray(decode_frame(tmp_path / "v.mp4", 0.5).convert("L"), dtype=np.int16)
    x, y, w, h = BOX
    # 2 px of slack around the box: chroma subsampling and the encoder's ringing, not glyphs.
    left, top = round(x * WIDTH) - 2, round(y * HEIGHT) - 2
    right, bottom = round((x + w) * WIDTH) + 2, round((y + h) * HEIGHT) + 2
    outside = luma.copy()
    outside[top:bottom, left:right] = 0
    assert (outside > 48).sum() == 0  # no text pixel outside the box
    assert (luma[top:bottom, left:right] > 128).sum() > 200  # and the text is there


def test_brand_font_comes_first_and_fallbacks_ship() -> None:
    assert all(path.is_file() for path in fallback_fonts())
    assert font_for("Zoë", NOTO_SANS) == NOTO_SANS
    assert font_for("", NOTO_SANS) == NOTO_SANS  # an empty optional value draws nothing, with the brand font


@pytest.mark.parametrize("text", ["Hi אורי!", "Hi محمد!", "Hi 山田!"])
def test_latin_mixed_with_another_script_gets_one_font_with_both(text: str) -> None:
    font = font_for(text, NOTO_SANS)
    assert {ord(ch) for ch in text if not ch.isspace()} <= _codepoints(font)
