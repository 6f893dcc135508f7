"""fit_text: wrapping, shrinking and cutting user text so it never leaves its box."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from render.compose.ffmpeg import filter_spec, run_ffmpeg
from render.compose.plan import Align
from render.compose.text import (
    ELLIPSIS,
    SAFETY_PX,
    FittedText,
    PixelBox,
    _load_font,
    fit_text,
    normalize_text,
    place_lines,
)

DEJAVU_SANS = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")  # Debian's fonts-dejavu-core


def assert_inside(fitted: FittedText, box_w: int, box_h: int) -> None:
    assert fitted.width <= box_w - 2 * SAFETY_PX
    assert fitted.height <= box_h - 2 * SAFETY_PX


def test_short_name_gets_the_largest_size(font: Path) -> None:
    fitted = fit_text("Zoë", 600, 200, font, max_size=80, min_size=12)
    assert fitted.lines == ("Zoë",)
    assert fitted.font_size == 80
    assert not fitted.truncated
    assert_inside(fitted, 600, 200)


def test_many_words_wrap_on_spaces_then_shrink(font: Path) -> None:
    text = "Hi Zoë, here's what Acme can do for your bakery this spring and every season after"
    fitted = fit_text(text, 300, 150, font, max_size=80, min_size=12)
    assert len(fitted.lines) > 1
    assert " ".join(fitted.lines) == text  # breaks only at spaces, nothing lost
    assert 12 <= fitted.font_size < 80
    assert_inside(fitted, 300, 150)


def test_long_word_shrinks_before_it_is_cut(font: Path) -> None:
    word = "Supercalifragilisticexpialidocious"
    fitted = fit_text(word, 300, 150, font, max_size=80, min_size=12)
    assert fitted.lines == (word,)
    assert_inside(fitted, 300, 150)


def test_word_too_long_even_at_min_size_is_cut_between_characters(font: Path) -> None:
    word = "Donaudampfschifffahrtsgesellschaftskapitän" * 2
    fitted = fit_text(word, 200, 200, font, max_size=40, min_size=12)
    assert len(fitted.lines) > 1
    assert "".join(fitted.lines) == word
    assert not fitted.truncated
    assert_inside(fitted, 200, 200)


def test_cjk_breaks_between_characters_without_spaces(font: Path) -> None:
    # Noto Sans has no CJK glyphs (they draw as .notdef boxes), which is fine for measuring breaks.
    text = "你好世界欢迎光临我们的面包店今天有新鲜出炉的面包"
    fitted = fit_text(text, 240, 200, font, max_size=60, min_size=12)
    assert len(fitted.lines) > 1
    assert "".join(fitted.lines) == text  # no spaces invented, no characters lost
    assert_inside(fitted, 240, 200)


def test_cut_keeps_combining_marks_with_their_letter(font: Path) -> None:
    word = "e\u0301" * 300  # é as e + combining acute: never split apart
    fitted = fit_text(word, 200, 100, font, max_size=40, min_size=12)
    assert all(not line.startswith("\u0301") for line in fitted.lines)


@pytest.mark.parametrize("text", ["", "   ", "\n\t\n"])
def test_empty_text_has_no_lines(font: Path, text: str) -> None:
    fitted = fit_text(text, 300, 100, font, max_size=40, min_size=12)
    assert fitted.lines == ()
    assert not fitted.truncated
    assert fitted.width == fitted.height == 0


def test_text_too_long_for_the_box_at_min_size_is_cut_with_an_ellipsis(font: Path) -> None:
    text = "word " * 2000
    fitted = fit_text(text, 300, 100, font, max_size=40, min_size=14)
    assert fitted.truncated
    assert fitted.font_size == 14
    assert fitted.lines[-1].endswith(ELLIPSIS)
    assert_inside(fitted, 300, 100)


def test_box_lower_than_one_line_at_min_size_goes_below_min_size(font: Path) -> None:
    fitted = fit_text("Hello Zoë, welcome", 300, 12, font, max_size=40, min_size=14)
    assert fitted.font_size < 14
    assert len(fitted.lines) == 1
    assert_inside(fitted, 300, 12)


@pytest.mark.parametrize(("box_w", "box_h"), [(0, 100), (100, 0), (2, 2)])
def test_box_with_no_room_draws_nothing(font: Path, box_w: int, box_h: int) -> None:
    fitted = fit_text("Zoë", box_w, box_h, font, max_size=40, min_size=12)
    assert fitted.lines == ()
    assert fitted.truncated


def test_explicit_line_breaks_are_kept(font: Path) -> None:
    fitted = fit_text("Hi\r\nZoë\n\nBye", 400, 400, font, max_size=40, min_size=12)
    assert fitted.lines == ("Hi", "Zoë", "", "Bye")


def test_normalize_text_removes_what_drawtext_would_misread() -> None:
    assert normalize_text("  a\tb\x00c\x1bd\u2028e\ud800  ") == "a bcd\ne\ufffd"


def test_min_size_above_max_size_is_refused(font: Path) -> None:
    with pytest.raises(ValueError, match="min_size"):
        fit_text("x", 100, 100, font, max_size=10, min_size=20)


@pytest.mark.parametrize("align", ["left", "center", "right"])
def test_placed_lines_stay_inside_the_box(font: Path, align: Align) -> None:
    box = PixelBox(37, 101, 250, 160)
    fitted = fit_text(
        "Hi Zoë, here is what Acme can do for you", box.w, box.h, font, max_size=60, min_size=12
    )
    positions = place_lines(fitted, box, align)
    for (x, _), (left, right) in zip(positions, fitted.extents, strict=True):
        assert box.x <= x + left
        assert x + right <= box.x + box.w
    first_y = positions[0][1]
    assert box.y <= first_y + fitted.top
    assert first_y + fitted.bottom <= box.y + box.h
    lefts = {x + left for (x, _), (left, _) in zip(positions, fitted.extents, strict=True)}
    rights = {x + right for (x, _), (_, right) in zip(positions, fitted.extents, strict=True)}
    if align == "left":
        assert len(lefts) == 1
    if align == "right":
        assert len(rights) == 1


def _drawtext_ink(font: Path, text: str, size: int, folder: Path) -> tuple[int, int, int, int]:
    """Ink bounding box of `text` drawn by drawtext at (50, 50), y_align=font, to a lossless PNG."""
    (folder / "line.txt").write_text(text, encoding="utf-8")
    graph = ",".join([
        filter_spec("color", c="black", s="800x300", d=0.1),
        filter_spec("drawtext", fontfile=str(font), textfile=str(folder / "line.txt"), expansion="none",
                    text_shaping=1, fontsize=size, fontcolor="white", x=50, y=50, y_align="font"),
        filter_spec("format", pix_fmts="gray"),
    ])  # fmt: skip
    out = folder / "line.png"
    run_ffmpeg(["-filter_complex", graph + "[v]", "-map", "[v]", "-frames:v", "1", str(out)], timeout=30)
    return _ink(np.asarray(Image.open(out).convert("L")))


def _pillow_ink(font: Path, text: str, size: int) -> tuple[int, int, int, int]:
    image = Image.new("L", (800, 300))
    ImageDraw.Draw(image).text((50, 50), text, font=_load_font(str(font), size), fill=255, anchor="la")
    return _ink(np.asarray(image))


def _ink(pixels: np.ndarray) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(pixels > 64)  # above a quarter grey: ink, not antialiasing haze
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


@pytest.mark.parametrize(
    ("text", "size"),
    [("Zoë", 97), ("O'Brien: 100% \\ [ok] %{pts} {{x}}", 31), ("Hjgy ÅÉ", 48)],
)
def test_pillow_measures_what_drawtext_draws(font: Path, tmp_path: Path, text: str, size: int) -> None:
    """The assumption fit_text rests on: same font, same shaping, same pixels (within one)."""
    drawn = _drawtext_ink(font, text, size, tmp_path)
    measured = _pillow_ink(font, text, size)
    assert all(abs(a - b) <= SAFETY_PX for a, b in zip(drawn, measured, strict=True)), (drawn, measured)


@pytest.mark.skipif(
    not DEJAVU_SANS.is_file(), reason="needs a font with Arabic and Hebrew (fonts-dejavu-core)"
)
@pytest.mark.parametrize("text", ["مرحبا بكم", "שלום עולם"])
def test_right_to_left_is_shaped_alike(tmp_path: Path, text: str) -> None:
    drawn = _drawtext_ink(DEJAVU_SANS, text, 48, tmp_path)
    measured = _pillow_ink(DEJAVU_SANS, text, 48)
    assert all(abs(a - b) <= SAFETY_PX for a, b in zip(drawn, measured, strict=True)), (drawn, measured)
