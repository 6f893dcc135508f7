"""Fitting user text into a box: wrap on words, shrink, and as a last resort cut with an ellipsis.

Measurements use Pillow's FreeType binding with the same font file drawtext will draw with, and
raqm (HarfBuzz + FriBiDi) when Pillow has it, which is also what drawtext shapes with. Lines are
positioned for `drawtext=...:y_align=font`, whose `y` is the top of the font's ascender line, the
same origin as Pillow's "la" anchor: rendering the same line both ways gives the same ink pixels,
which is what lets the promise "never outside the box" be checked here, before ffmpeg runs.
"""

from __future__ import annotations

import functools
import math
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, replace
from itertools import islice
from pathlib import Path

from PIL import ImageFont, features

from render.compose.plan import Align

LAYOUT_ENGINE = ImageFont.Layout.RAQM if features.check_feature("raqm") else ImageFont.Layout.BASIC
ELLIPSIS = "\u2026"

# Both sides position glyphs on a sub-pixel grid (HarfBuzz advances in 1/64 px, drawtext rounds
# per glyph), so a line can land one pixel off Pillow's; one pixel of inset on each side absorbs it.
SAFETY_PX = 1

# Scripts written without spaces between words: a line may break after any of their characters.
# Ranges from the Unicode blocks: CJK Radicals..Ideographic Description (2E80-2FFF), CJK Symbols
# and Punctuation, Hiragana, Katakana (3000-30FF), Bopomofo..CJK Strokes..Katakana Ext (3100-31FF),
# CJK Ext A (3400-4DBF), CJK Unified (4E00-9FFF), Hangul Syllables (AC00-D7AF), CJK Compatibility
# Ideographs (F900-FAFF), Halfwidth and Fullwidth Forms (FF00-FFEF), CJK Ext B..G (20000-3134F).
_NO_SPACE_SCRIPTS = (
    "\u2e80-\u2fff\u3000-\u30ff\u3100-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af"
    "\uf900-\ufaff\uff00-\uffef\U00020000-\U0003134f"
)
# Marks that belong to the character before them (combining diacritics, kana voicing marks,
# variation selectors), from the Unicode blocks of the same names.
_TRAILING_MARKS = "\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\u3099\u309a\ufe00-\ufe0f\ufe20-\ufe2f"
_TOKEN = re.compile(
    rf"(?P<space>\s+)|(?P<char>[{_NO_SPACE_SCRIPTS}][{_TRAILING_MARKS}]*)|(?P<word>[^\s{_NO_SPACE_SCRIPTS}]+)"
)
# Everything str.splitlines() treats as a line boundary, and the C0/C1 controls that are not.
_LINE_BREAKS = re.compile(r"\r\n|[\n\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")
_CONTROLS = re.compile(r"[\x00-\x08\x0e-\x1b\x1f\x7f-\x84\x86-\x9f]")
_LONE_SURROGATES = re.compile(r"[\ud800-\udfff]")


@dataclass(frozen=True, slots=True)
class PixelBox:
    """A rectangle in frame pixels."""

    x: int
    y: int
    w: int
    h: int


@dataclass(frozen=True, slots=True)
class FittedText:
    """Lines that fit the box at `font_size`, and the extents `place_lines` needs.

    Coordinates are pixels relative to the first line's pen origin, with y = 0 at the top of the
    font's ascender line (drawtext's `y_align=font`, Pillow's anchor "la").
    """

    lines: tuple[str, ...]
    font_size: int
    line_height: int  # baseline to baseline: the font's own ascent + descent
    extents: tuple[tuple[int, int], ...]  # per line: (left, right) of ink and advance, from pen x
    top: int  # top of the block (<= 0: a glyph may rise above the ascender)
    bottom: int  # bottom of the block, from the first line's ascender line
    truncated: bool = False  # an ellipsis replaces what did not fit

    @property
    def width(self) -> int:
        return max((right - left for left, right in self.extents), default=0)

    @property
    def height(self) -> int:
        return self.bottom - self.top


def fit_text(
    text: str, box_px_w: int, box_px_h: int, font_path: Path, *, max_size: int, min_size: int
) -> FittedText:
    """The largest font size in [min_size, max_size] at which `text`, wrapped, fits the box.

    Wraps on spaces, after any CJK character, and inside a word only when the word alone is wider
    than the box. When even `min_size` overflows, the text is cut at the last line that fits and
    ends with an ellipsis; in a box too small for one line at `min_size`, the size goes below
    `min_size` until one line fits. A box that cannot hold even that gets no lines.
    """
    # 1. Check inputs
    if min_size < 1 or max_size < min_size:
        raise ValueError(f"font sizes must satisfy 1 <= min_size <= max_size, got {min_size}, {max_size}")
    clean = normalize_text(text)
    avail_w, avail_h = box_px_w - 2 * SAFETY_PX, box_px_h - 2 * SAFETY_PX
    empty = FittedText(lines=(), font_size=min_size, line_height=0, extents=(), top=0, bottom=0)
    if not clean:
        return empty
    if avail_w <= 0 or avail_h <= 0:
        return replace(empty, truncated=True)

    # 2. Binary search for the largest size at which everything fits, first keeping every word
    # whole (a smaller size reads better than a word cut in two), then allowing cuts. Fit is not
    # strictly monotonic in size (a word can wrap differently), but every size returned was checked.
    font = str(font_path)
    for break_words in (False, True):
        best: FittedText | None = None
        low, high = min_size, max_size
        while low <= high:
            size = (low + high) // 2
            measure = _Measure(font, size)
            fitted = _layout(clean, measure, avail_w, avail_h, truncate=False, break_words=break_words)
            if fitted is not None:
                best, low = fitted, size + 1
            else:
                high = size - 1
        if best is not None:
            return best

    # 3. Nothing fits whole: cut with an ellipsis, at min_size or below it if one line won't fit.
    for size in range(min_size, 0, -1):
        measure = _Measure(font, size)
        fitted = _layout(clean, measure, avail_w, avail_h, truncate=True, break_words=True)
        if fitted is not None:
            return fitted
    return replace(empty, truncated=True)


def place_lines(fitted: FittedText, box: PixelBox, align: Align) -> tuple[tuple[int, int], ...]:
    """drawtext `(x, y)` (with `y_align=font`) for each line: aligned, block centred vertically."""
    inner = PixelBox(box.x + SAFETY_PX, box.y + SAFETY_PX, box.w - 2 * SAFETY_PX, box.h - 2 * SAFETY_PX)
    first_y = inner.y + (inner.h - fitted.height) // 2 - fitted.top
    positions = []
    for index, (left, right) in enumerate(fitted.extents):
        width = right - left
        if align == "left":
            x = inner.x - left
        elif align == "right":
            x = inner.x + inner.w - width - left
        else:
            x = inner.x + (inner.w - width) // 2 - left
        positions.append((x, first_y + index * fitted.line_height))
    return tuple(positions)


def normalize_text(text: str) -> str:
    """Text as it will be drawn: one kind of line break, no control characters, no lone surrogates.

    Lone surrogates (possible in a JSON string) cannot be written as UTF-8 for drawtext; control
    characters would draw as boxes or be read by drawtext as layout (tab, newline).
    """
    text = _LONE_SURROGATES.sub("\ufffd", text)
    text = _LINE_BREAKS.sub("\n", text).replace("\t", " ")
    return _CONTROLS.sub("", text).strip()


# --- Measuring ----------------------------------------------------------------------------------


@functools.lru_cache(maxsize=256)  # a template uses a few fonts at a few dozen sizes
def _load_font(font_path: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(font_path, size, layout_engine=LAYOUT_ENGINE)


class _TooWide(Exception):
    """A word (when words may not be cut) or one grapheme alone is wider than the box."""


class _Measure:
    """One font at one size, with the per-line measurements the layout needs."""

    def __init__(self, font_path: str, size: int) -> None:
        self.size = size
        self.font = _load_font(font_path, size)
        ascent, descent = self.font.getmetrics()
        self.line_height = ascent + descent
        self._boxes: dict[str, tuple[int, int, int, int]] = {}

    def box(self, line: str) -> tuple[int, int, int, int]:
        """(left, top, right, bottom) covering the line's ink, its advance and the font's line box."""
        if line not in self._boxes:
            left, top, right, bottom = self.font.getbbox(line, anchor="la")
            advance = math.ceil(self.font.getlength(line))
            self._boxes[line] = (
                min(0, math.floor(left)),
                min(0, math.floor(top)),
                max(advance, math.ceil(right)),
                max(self.line_height, math.ceil(bottom)),
            )
        return self._boxes[line]

    def width(self, line: str) -> int:
        left, _, right, _ = self.box(line)
        return right - left

    def max_lines(self, avail_h: int) -> int:
        """How many lines fit `avail_h` by the font's metrics (ink may still rise above or below)."""
        if avail_h < self.line_height:
            return 0
        return (avail_h - self.line_height) // self.line_height + 1


def _layout(
    clean: str, measure: _Measure, avail_w: int, avail_h: int, *, truncate: bool, break_words: bool
) -> FittedText | None:
    """The text laid out at one size, or None if it does not fit (even cut, when `truncate`)."""
    max_lines = measure.max_lines(avail_h)
    if max_lines == 0:
        return None
    try:
        # One line more than fits tells "cut" from "whole" without wrapping the rest of a long text.
        lines = list(islice(_wrap(clean, measure, avail_w, break_words=break_words), max_lines + 1))
    except _TooWide:
        return None
    if len(lines) <= max_lines:
        fitted = _block(lines, measure, truncated=False)
        if fitted.height <= avail_h:
            return fitted
        if not truncate:
            return None
        max_lines = len(lines) - 1  # glyphs reach past the metrics: drop a line and cut
    elif not truncate:
        return None
    # Cut: keep fewer lines until the block, ellipsis included, fits.
    for count in range(max_lines, 0, -1):
        last = _ellipsize(lines[count - 1], measure, avail_w)
        if last is None:
            return None
        fitted = _block([*lines[: count - 1], last], measure, truncated=True)
        if fitted.height <= avail_h:
            return fitted
    return None


def _block(lines: list[str], measure: _Measure, *, truncated: bool) -> FittedText:
    boxes = [measure.box(line) for line in lines]
    step = measure.line_height
    return FittedText(
        lines=tuple(lines),
        font_size=measure.size,
        line_height=step,
        extents=tuple((left, right) for left, _, right, _ in boxes),
        top=min(index * step + top for index, (_, top, _, _) in enumerate(boxes)),
        bottom=max(index * step + bottom for index, (_, _, _, bottom) in enumerate(boxes)),
        truncated=truncated,
    )


def _ellipsize(line: str, measure: _Measure, avail_w: int) -> str | None:
    """`line` shortened by whole graphemes until it fits with an ellipsis after it."""
    clusters = _graphemes(line)
    while True:
        candidate = "".join(clusters).rstrip() + ELLIPSIS
        if measure.width(candidate) <= avail_w:
            return candidate
        if not clusters:
            return None
        clusters.pop()


# --- Wrapping -----------------------------------------------------------------------------------


def _wrap(clean: str, measure: _Measure, avail_w: int, *, break_words: bool) -> Iterator[str]:
    """Lines no wider than `avail_w`, lazily: callers stop as soon as they have too many."""
    for paragraph in clean.split("\n"):
        line = ""
        for token, space_before in _tokens(paragraph):
            candidate = f"{line} {token}" if line and space_before else line + token
            if measure.width(candidate) <= avail_w:
                line = candidate
                continue
            if line:
                yield line
            if measure.width(token) <= avail_w:
                line = token
                continue
            if not break_words:
                raise _TooWide(token)
            *full, line = _break_word(token, measure, avail_w)
            yield from full
        yield line  # an empty paragraph keeps its blank line


def _tokens(paragraph: str) -> Iterator[tuple[str, bool]]:
    """Breakable units: words, and single characters of scripts without spaces."""
    space_before = False
    for match in _TOKEN.finditer(paragraph):
        if match.lastgroup == "space":
            space_before = True
            continue
        yield match.group(), space_before
        space_before = False


def _break_word(word: str, measure: _Measure, avail_w: int) -> list[str]:
    """A word wider than the box, cut between graphemes into pieces that each fit."""
    clusters = _graphemes(word)
    pieces = []
    start = 0
    while start < len(clusters):
        count = _longest_fitting_prefix(clusters, start, measure, avail_w)
        if count == 0:
            raise _TooWide(clusters[start])
        pieces.append("".join(clusters[start : start + count]))
        start += count
    return pieces


def _longest_fitting_prefix(clusters: list[str], start: int, measure: _Measure, avail_w: int) -> int:
    """How many clusters from `start` fit in one line: gallop, then bisect, so a long word costs
    O(n log n) measurements instead of one per prefix."""

    def fits(count: int) -> bool:
        return measure.width("".join(clusters[start : start + count])) <= avail_w

    remaining = len(clusters) - start
    good, bad = 0, 1
    while bad <= remaining and fits(bad):
        good, bad = bad, bad * 2
    bad = min(bad, remaining + 1)
    while bad - good > 1:
        middle = (good + bad) // 2
        if fits(middle):
            good = middle
        else:
            bad = middle
    return good


def _graphemes(text: str) -> list[str]:
    """Approximate user-perceived characters: a base with its combining marks, ZWJ sequences,
    variation selectors, emoji modifiers and tags, and regional-indicator pairs (flags)."""
    clusters: list[str] = []
    for char in text:
        if clusters and (
            _extends_cluster(char) or clusters[-1].endswith("\u200d") or _pairs_flag(clusters[-1], char)
        ):
            clusters[-1] += char
        else:
            clusters.append(char)
    return clusters


def _extends_cluster(char: str) -> bool:
    return (
        unicodedata.category(char) in ("Mn", "Mc", "Me")
        or char == "\u200d"  # zero-width joiner
        or "\ufe00" <= char <= "\ufe0f"  # variation selectors
        or "\U0001f3fb" <= char <= "\U0001f3ff"  # emoji skin-tone modifiers
        or "\U000e0020" <= char <= "\U000e007f"  # tag characters (subdivision flags)
    )


def _pairs_flag(cluster: str, char: str) -> bool:
    def regional(c: str) -> bool:
        return "\U0001f1e6" <= c <= "\U0001f1ff"

    return len(cluster) == 1 and regional(cluster) and regional(char)
