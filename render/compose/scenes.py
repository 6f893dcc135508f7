"""The video of a window: each scene's background with its layers on top, joined by the transitions.

    scene i:   background (colour | gradient | image or clip covered + moved)  ->  layers on top
    join:      xfade between consecutive scenes (or concat)  ->  [video]

Every frame of a window is the frame the full render has at that position: the same builders, with
motion, clip frames and fades offset by where the window starts (`timing.window_parts`).
"""

from __future__ import annotations

from pathlib import Path

from adspec.vocabulary import Motion
from render.compose.ffmpeg import filter_spec
from render.compose.graph import FilterGraph
from render.compose.layers import add_image, add_rectangle, add_text, pixel_box
from render.compose.plan import (
    Background,
    ColorBackground,
    CompositionPlan,
    GradientBackground,
    RectangleLayer,
    TextLayer,
    VideoBackground,
)
from render.compose.timing import SceneTiming, plan_cuts, window_parts
from render.compose.validate import PlanError

# Ken Burns motion: 15 % zoom (or a 15 % wide pan) over a scene: visible, slow enough not to fight
# the text for attention. A design choice, tuned by eye on 3 s scenes.
MOTION_ZOOM = 0.15


def add_window(
    graph: FilterGraph,
    plan: CompositionPlan,
    timings: tuple[SceneTiming, ...],
    first: int,
    end: int,
    *,
    workdir: Path,
    backgrounds: dict[int, Path],
) -> str:
    """Output frames first..end-1: each scene's rendered frames (its own plus those under the fades)
    that fall in the window, joined in order. Neighbouring parts overlap by a whole transition or
    not at all (a window edge never falls inside a transition, see `plan_segments`)."""
    cuts = plan_cuts(plan)
    parts: list[tuple[str, int, int]] = []  # label, first output frame, frame count
    for part in window_parts(timings, first, end):
        label = add_scene(
            graph,
            plan,
            part.index,
            timings[part.index],
            skip=part.skip,
            count=part.count,
            workdir=workdir,
            background=backgrounds.get(part.index),
        )
        parts.append((label, part.first, part.count))
    if not parts:
        raise PlanError(f"window {first}..{end} holds no frames")
    joined, _, length = parts[0]
    joined_end = parts[0][1] + length
    for label, part_lo, count in parts[1:]:
        overlap = joined_end - part_lo
        if overlap > 0:
            # The transition of the cut this part starts after: the one whose fade region it opens.
            cut = next(i for i in range(len(cuts)) if sum(t.frames for t in timings[: i + 1]) > part_lo)
            xfade = filter_spec(
                "xfade",
                transition=cuts[cut][0],
                duration=_seconds(overlap, plan.fps),
                offset=_seconds(length - overlap, plan.fps),
            )
            joined = graph.add([joined, label], [xfade], "video")
        else:
            joined = graph.add([joined, label], [filter_spec("concat", n=2, v=1, a=0)], "video")
        length += count - max(overlap, 0)
        joined_end = part_lo + count
    return joined


def add_scene(
    graph: FilterGraph,
    plan: CompositionPlan,
    index: int,
    timing: SceneTiming,
    *,
    skip: int = 0,
    count: int | None = None,
    workdir: Path,
    background: Path | None = None,
) -> str:
    """Scene `index`'s rendered frames skip..skip+count-1 (all of them by default); `background`:
    a file holding exactly those frames of its background (`render_background`)."""
    scene = plan.scenes[index]
    count = timing.rendered - skip if count is None else count
    if background is not None:
        # Frames numbered from 0 at 1/fps, as the live background's are (xfade insists on one timebase).
        label = graph.add(
            # -r: the rate the live background has (a Matroska stream's rate is only a guess).
            [graph.add_input(background, "v", "-r", str(plan.fps))],
            [
                filter_spec("settb", expr=f"1/{plan.fps}"),
                filter_spec("setpts", expr="N"),
                filter_spec("setsar", sar=1),
            ],
            "bg",
        )
    else:
        label = add_background(graph, scene.background, timing.rendered, plan, skip=skip, count=count)
    for layer_index, layer in enumerate(scene.layers):
        box = pixel_box(layer.box, plan.width, plan.height)
        if isinstance(layer, TextLayer):
            text_dir = workdir / f"scene{index}_layer{layer_index}"
            # drawtext's `n` counts this part's frames from 0; the scene's own first frame is its
            # lead_in-th rendered frame, `skip` of which this part does not show.
            label = add_text(
                graph, label, layer, box, plan.height, text_dir, fps=plan.fps, start=timing.lead_in - skip
            )
        elif isinstance(layer, RectangleLayer):
            label = add_rectangle(graph, label, layer, box, plan.fps)
        else:
            label = add_image(graph, label, layer, box)
    return label


def _to_bt709() -> list[str]:
    """RGB (or JPEG's full-range BT.601) to limited-range BT.709 yuv420p, square pixels."""
    return [
        filter_spec("scale", out_color_matrix="bt709", out_range="tv"),
        filter_spec("format", pix_fmts="yuv420p"),
        filter_spec("setsar", sar=1),
    ]


def add_background(
    graph: FilterGraph, background: Background, frames: int, plan: CompositionPlan, *, skip: int, count: int
) -> str:
    """`count` frames of a background that lasts `frames`, starting at its frame `skip`."""
    width, height, fps = plan.width, plan.height, plan.fps
    if isinstance(background, ColorBackground):
        # One RGB frame, converted to YUV once (in our scale, with BT.709), then repeated.
        generate = [
            filter_spec("color", c=f"0x{background.color[1:]}", s=f"{width}x{height}", r=fps),
            filter_spec("trim", end_frame=1),
            filter_spec("format", pix_fmts="rgb24"),
        ]
        repeat = filter_spec("loop", loop=count - 1, size=1)
        return graph.add([], [*generate, *_to_bt709(), repeat], "bg")
    if isinstance(background, GradientBackground):
        # Same as a colour: one RGB frame of ffmpeg's `gradients` (linear, from point 0 to point 1,
        # not rotating: speed 0), converted once, repeated.
        right, bottom = width - 1, height - 1
        points = {180: (0, 0, 0, bottom), 0: (0, bottom, 0, 0), 90: (0, 0, right, 0), 270: (right, 0, 0, 0)}
        x0, y0, x1, y1 = points[background.angle]
        generate = [
            filter_spec(
                "gradients",
                s=f"{width}x{height}",
                r=fps,
                c0=f"0x{background.start[1:]}",
                c1=f"0x{background.end[1:]}",
                x0=x0,
                y0=y0,
                x1=x1,
                y1=y1,
                n=2,
                type="linear",
                speed=0,
            ),
            filter_spec("trim", end_frame=1),
            filter_spec("format", pix_fmts="rgb24"),
        ]
        repeat = filter_spec("loop", loop=count - 1, size=1)
        return graph.add([], [*generate, *_to_bt709(), repeat], "bg")
    if isinstance(background, VideoBackground):
        return _add_clip(graph, background, frames, plan, skip=skip, count=count)

    # An image: decoded once, scaled to cover the frame and centre-cropped, repeated for every frame,
    # then moved. The motion is a `perspective` warp with an axis-aligned source rectangle: it
    # samples at fractional positions, so zoom and pan glide. (zoompan crops at whole pixels, which
    # steps visibly; hiding that needs a supersampled source and cost twice the CPU: 2.1 s against
    # 1.2 s per 90 frames of 1080x1920 on this 2-core machine.)
    # -framerate: the single frame lasts one output frame, so `loop` stamps copies 1/fps apart and
    # the stream's rate matches the colour scenes' (xfade insists).
    source = graph.add_input(background.path, "v", "-framerate", str(fps))
    filters = [*_cover(width, height), filter_spec("loop", loop=count - 1, size=1)]
    if background.motion != "none":
        filters.append(_motion(background.motion, frames, skip))
    return graph.add([source], filters, "bg")


def _cover(width: int, height: int) -> list[str]:
    """Scale a picture or clip to cover the frame (aspect kept), centre-crop it, in BT.709 yuv420p."""
    return [
        filter_spec(
            "scale",
            w=width,
            h=height,
            force_original_aspect_ratio="increase",
            flags="lanczos",
            out_color_matrix="bt709",
            out_range="tv",
        ),
        filter_spec("crop", w=width, h=height),
        filter_spec("format", pix_fmts="yuv420p"),
        filter_spec("setsar", sar=1),
    ]


def _add_clip(
    graph: FilterGraph,
    background: VideoBackground,
    frames: int,
    plan: CompositionPlan,
    *,
    skip: int,
    count: int,
) -> str:
    """`count` frames of a clip background lasting `frames`, from its frame `skip`.

    The demuxer loops the file for ever (`-stream_loop -1`); its frames are renumbered at the clip's
    own rate (N / fps, so the loops run on without a gap whatever the container's timestamps say),
    `fps` resamples to the output's rate (each output frame shows the clip frame on screen at its
    time, frame starts rounded to the nearest output frame: an 8 fps clip shows each frame for three
    24 fps frames, a 30 fps output of a 16 fps clip repeats about every other one; no interpolation),
    and `trim` keeps this part's frames. Frame k of the scene is therefore
    the same in a full render and in any segment that starts `skip` frames in. Then, as a still:
    covered, cropped, moved.
    """
    width, height = plan.width, plan.height
    source = graph.add_input(background.path, "v", "-stream_loop", "-1")
    filters = [
        filter_spec("settb", expr=f"1/{background.fps}"),
        filter_spec("setpts", expr="N"),
        filter_spec("fps", fps=plan.fps),
        filter_spec("trim", start_frame=skip, end_frame=skip + count),
        filter_spec("setpts", expr="PTS-STARTPTS"),
        *_cover(width, height),
    ]
    if background.motion != "none":
        filters.append(_motion(background.motion, frames, skip))
    return graph.add([source], filters, "bg")


def _motion(motion: Motion, frames: int, skip: int = 0) -> str:
    """A perspective filter showing, in frame n of `frames`, the source rectangle of the motion.

    perspective counts output frames from 1 (`on` is 1 on the first frame), so progress is
    (on-1+skip)/(frames-1): exactly 0 on the scene's first frame and 1 on its last, also when a
    segment starts `skip` frames into the scene.
    """
    progress = f"(on-1+{skip})/{frames - 1}" if frames > 1 else "0"
    zoom = {
        "zoom_in": f"(1+{MOTION_ZOOM}*{progress})",
        "zoom_out": f"(1+{MOTION_ZOOM}*(1-{progress}))",
    }.get(motion, f"{1 + MOTION_ZOOM}")
    width, height = f"(W/{zoom})", f"(H/{zoom})"
    left = {
        "pan_right": f"((W-{width})*{progress})",  # the view travels from the left edge to the right
        "pan_left": f"((W-{width})*(1-{progress}))",
    }.get(motion, f"((W-{width})/2)")
    top = f"((H-{height})/2)"
    right, bottom = f"({left}+{width})", f"({top}+{height})"
    return filter_spec(
        "perspective",
        x0=left, y0=top, x1=right, y1=top, x2=left, y2=bottom, x3=right, y3=bottom,
        interpolation="linear",  # cubic costs twice as much (2.3 s against 1.2 s per 90 frames)
        eval="frame",
    )  # fmt: skip


def _seconds(frames: int, fps: int) -> str:
    # Microseconds: the unit ffmpeg parses durations into; rescaled to 1/fps it rounds to the frame.
    return f"{frames / fps:.6f}"
