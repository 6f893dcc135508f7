"""What is drawn over a scene's background: text, filled rectangles and pictures (logos), each in its box.

Boxes are fractions of the frame (`plan.Box`), laid out in whole pixels by `pixel_box`. Text is fitted
into its box (`text.py`) at the largest size its style allows, one drawtext per line, each reading its
line from a file (never from the graph); decorations and entrance animations are drawtext options.
"""

from __future__ import annotations

import math
from pathlib import Path

from adspec.vocabulary import Box, TextStyle
from render.compose.ffmpeg import ComposeError, filter_spec
from render.compose.fonts import font_for
from render.compose.graph import FilterGraph
from render.compose.plan import ImageLayer, RectangleLayer, TextLayer
from render.compose.text import SAFETY_PX, PixelBox, fit_text, place_lines
from render.compose.validate import PlanError

# Text sizes as fractions of the frame height. 1/12: a headline of 160 px on a 1920 px frame, about
# ten lines of text fill the screen. 1/80: 24 px on 1920, the smallest we still call legible on a
# phone. Design choices; fit_text goes below the minimum only to keep one line in a tiny box.
MAX_FONT_FRACTION = 1 / 12
MIN_FONT_FRACTION = 1 / 80
# Per style, (largest, smallest) font size as fractions of the frame height, inside v1's range.
# headline: 160..48 px on 1920, a title read at a glance; body: 80..24 px, running text; cta:
# 107..40 px, a button label. Design choices in the spirit of a type scale (ratio ~1.5 between styles).
STYLE_SIZES: dict[TextStyle, tuple[float, float]] = {
    "headline": (1 / 12, 1 / 40),
    "body": (1 / 24, 1 / 80),
    "cta": (1 / 18, 1 / 48),
}
# Entrance animations run over the scene's first 0.4 s: long enough to read as motion, short
# enough that a 1 s scene still shows its text still for most of its length (a design choice).
ANIMATION_S = 0.4
# slide_up rises from at most 1/40 of the frame height below its place (48 px on 1920), and never
# from further than the free space under the text in its box (so it never leaves the box).
SLIDE_FRACTION = 1 / 40
# pop grows from 60 % of its size: a visible "pop" that still reads as the same word.
POP_FROM = 0.6


def pixel_box(box: Box, width: int, height: int) -> PixelBox:
    """A fractional box in whole frame pixels, rounded at its edges and kept inside the frame."""
    x, y, w, h = box
    left, top = min(round(x * width), width), min(round(y * height), height)
    right, bottom = min(round((x + w) * width), width), min(round((y + h) * height), height)
    return PixelBox(left, top, right - left, bottom - top)


def add_text(
    graph: FilterGraph,
    label: str,
    layer: TextLayer,
    box: PixelBox,
    frame_h: int,
    text_dir: Path,
    *,
    fps: int,
    start: int = 0,
) -> str:
    """One drawtext per wrapped line, each reading its line from its own file (never the graph).

    Outline, shadow and pill reach past the glyphs, so the text is fitted into the box shrunk by
    what they add on each side; the animation only ever draws inside the final layout's extent.
    `start`: the value of drawtext's frame counter `n` on the scene's first own frame.
    """
    high, low = STYLE_SIZES[layer.style] if layer.style else (MAX_FONT_FRACTION, MIN_FONT_FRACTION)
    min_size = max(1, round(frame_h * low))
    max_size = max(min_size, round(frame_h * high))
    outline = round(layer.outline.width * frame_h) if layer.outline else 0
    pad = round(layer.pill.padding * frame_h) if layer.pill else 0
    dx, dy = (round(v * frame_h) for v in layer.shadow.offset) if layer.shadow else (0, 0)
    around = max(outline, pad)
    left, right = around + max(0, -dx), around + max(0, dx)
    top, bottom = around + max(0, -dy), around + max(0, dy)
    inner = PixelBox(box.x + left, box.y + top, box.w - left - right, box.h - top - bottom)
    if inner.w <= 0 or inner.h <= 0:
        return label
    # The brand font, or a fallback that has the text's characters (fonts.py): never tofu.
    font_path = font_for(layer.text, layer.font_path)
    try:
        fitted = fit_text(layer.text, inner.w, inner.h, font_path, max_size=max_size, min_size=min_size)
    except OSError as exc:  # Pillow could not read the font
        raise PlanError(f"{font_path}: not a usable font ({exc})") from exc
    text_dir.mkdir(parents=True, exist_ok=True)
    positions = place_lines(fitted, inner, layer.align)
    decoration: dict[str, str | int | float] = {}
    if layer.outline and outline:
        decoration |= {"borderw": outline, "bordercolor": f"0x{layer.outline.color[1:]}"}
    if layer.shadow and (dx or dy):
        decoration |= {"shadowx": dx, "shadowy": dy, "shadowcolor": f"0x{layer.shadow.color[1:]}"}
    if layer.pill:
        decoration |= {"box": 1, "boxcolor": f"0x{layer.pill.color[1:]}", "boxborderw": pad}
    # Entrance: progress 0..1 over the scene's first ANIMATION_S, from our own numbers only.
    frames = max(1, round(ANIMATION_S * fps))
    progress = f"clip((n-({start}))/{frames},0,1)"
    slide = 0
    if layer.animation == "slide_up" and positions:
        # Never further than the free space under the block, so the rising text stays in its box.
        free = inner.y + inner.h - SAFETY_PX - (positions[0][1] + fitted.bottom)
        slide = max(0, min(round(frame_h * SLIDE_FRACTION), free))
    scale = f"({POP_FROM}+{1 - POP_FROM}*{progress})"
    filters = []
    for index, (line, (x, y), (ink_left, ink_right)) in enumerate(
        zip(fitted.lines, positions, fitted.extents, strict=True)
    ):
        if not line.strip():
            continue
        text_file = text_dir / f"line{index}.txt"
        text_file.write_text(line, encoding="utf-8")
        x_expr: str | int = x
        y_expr: str | int = y
        size: str | int = fitted.font_size
        animated: dict[str, str | int | float] = {}
        if layer.animation != "none":
            animated["alpha"] = progress
        if slide:
            y_expr = f"{y}+{slide}*(1-{progress})*(1-{progress})"  # ease-out: fast, then settling
        if layer.animation == "pop":
            # Grows about the line's centre, so every smaller size lies inside the final extent.
            size = f"{fitted.font_size}*{scale}"
            x_expr = f"{x}+{(ink_left + ink_right) / 2}*(1-{scale})"
            y_expr = f"{y}+{fitted.line_height / 2}*(1-{scale})"
        filters.append(
            filter_spec(
                "drawtext",
                fontfile=str(font_path),
                textfile=str(text_file),
                expansion="none",  # no %{...} expansion: the file's text is drawn as it is
                text_shaping=1,  # HarfBuzz shaping and FriBiDi ordering (Arabic, Hebrew, ...)
                fontsize=size,
                fontcolor=f"0x{layer.color[1:]}",
                x=x_expr,
                y=y_expr,
                y_align="font",  # y is the ascender line, as fit_text measured
                **decoration,
                **animated,
            )
        )
    return graph.add([label], filters, "text") if filters else label


def add_rectangle(graph: FilterGraph, label: str, layer: RectangleLayer, box: PixelBox, fps: int) -> str:
    """A filled rectangle on even pixels inside its box (overlay on yuv420 floors x and y to even),
    corners rounded by an anti-aliased alpha mask computed once, on a single frame."""
    left, top = box.x + box.x % 2, box.y + box.y % 2
    width, height = ((box.x + box.w) & ~1) - left, ((box.y + box.h) & ~1) - top
    if width < 2 or height < 2:
        return label
    filters = [
        filter_spec("color", c=f"0x{layer.color[1:]}", s=f"{width}x{height}", r=fps),
        filter_spec("trim", end_frame=1),
        filter_spec("format", pix_fmts="rgba"),
    ]
    radius = round(layer.radius * min(width, height))
    if radius > 0:
        # Distance of a pixel centre past the inner rectangle the corners are drawn around; alpha
        # falls from 1 to 0 over the one pixel where that distance crosses the radius.
        dx = f"max(max({radius}-X-0.5,X+0.5-{width - radius}),0)"
        dy = f"max(max({radius}-Y-0.5,Y+0.5-{height - radius}),0)"
        alpha = f"255*clip({radius}+0.5-hypot({dx},{dy}),0,1)"
        filters.append(filter_spec("geq", r="r(X,Y)", g="g(X,Y)", b="b(X,Y)", a=alpha))
    filters += [
        filter_spec("scale", out_color_matrix="bt709", out_range="tv"),
        filter_spec("format", pix_fmts="yuva420p"),
    ]
    shape = graph.add([], filters, "rect")
    # A one-frame overlay input is repeated to the end (overlay's eof_action=repeat).
    return graph.add([label, shape], [filter_spec("overlay", x=left, y=top, format="yuv420")], "layer")


def add_image(graph: FilterGraph, label: str, layer: ImageLayer, box: PixelBox) -> str:
    """A logo scaled to fit inside its box, centred, alpha kept, laid over `label`."""
    media = graph.media[layer.path]
    if not (media.width and media.height):  # IMAGE_INPUTS demands a video stream: never here
        raise ComposeError(f"{layer.path}: image without a size")
    placement = _fit_inside(media.width, media.height, box)
    if placement is None:
        return label
    width, height, x, y = placement
    crop: list[str] = []
    if layer.fit == "cover":  # fill the (even-edged) box, cropping the overflow about the centre
        width, height, x, y, crop = _cover(media.width, media.height, box)
    logo = graph.add(
        [graph.add_input(layer.path, "v")],
        [
            filter_spec(
                "scale", w=width, h=height, flags="lanczos", out_color_matrix="bt709", out_range="tv"
            ),
            *crop,
            filter_spec("format", pix_fmts="yuva420p"),
        ],
        "logo",
    )
    return graph.add([label, logo], [filter_spec("overlay", x=x, y=y, format="yuv420")], "layer")


def _cover(src_w: int, src_h: int, box: PixelBox) -> tuple[int, int, int, int, list[str]]:
    """Scale size, position and crop filter of an image covering `box` (shrunk to even edges, as
    `_fit_inside` does; called only when that box is at least 2x2)."""
    left, top = box.x + box.x % 2, box.y + box.y % 2
    inner_w, inner_h = ((box.x + box.w) & ~1) - left, ((box.y + box.h) & ~1) - top
    scale = max(inner_w / src_w, inner_h / src_h)
    width, height = max(inner_w, math.ceil(src_w * scale)), max(inner_h, math.ceil(src_h * scale))
    crop = filter_spec("crop", w=inner_w, h=inner_h, x=(width - inner_w) // 2, y=(height - inner_h) // 2)
    return width, height, left, top, [crop]


def _fit_inside(src_w: int, src_h: int, box: PixelBox) -> tuple[int, int, int, int] | None:
    """Size and position of an image fitted inside `box`, on even pixels (None: box too small).

    overlay on yuv420 floors x and y to even pixels, so the box is first shrunk to even edges and
    the image given even sizes; then no rounding can move it past the box.
    """
    left, top = box.x + box.x % 2, box.y + box.y % 2
    right, bottom = (box.x + box.w) & ~1, (box.y + box.h) & ~1
    inner_w, inner_h = right - left, bottom - top
    if inner_w < 2 or inner_h < 2:
        return None
    scale = min(inner_w / src_w, inner_h / src_h)
    width = max(2, math.floor(src_w * scale) & ~1)
    height = max(2, math.floor(src_h * scale) & ~1)
    x = left + ((inner_w - width) // 2 & ~1)
    y = top + ((inner_h - height) // 2 & ~1)
    return width, height, x, y
