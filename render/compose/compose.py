"""Turning a CompositionPlan into an H.264 MP4 (and a JPEG thumbnail) with one ffmpeg run.

The entry points: `compose_video` (the whole plan, or a window of it: a segment), `make_thumbnail`,
`render_background` (a moving background alone, for `segments.py` to reuse) and `render_still` (one scene's
middle frame as a PNG: a template's preview). Each step is its own module:

    validate.py   the plan and every input file checked, before anything reaches ffmpeg
    timing.py     which frames each scene owns, and the extra frames under the fades at its cuts
    graph.py      FilterGraph: the inputs, chains and stream labels of one run
    scenes.py     scene i: background (colour | gradient | image or clip covered + moved) -> layers on top;
                  join: xfade between consecutive scenes (or concat) -> [video]
    layers.py     text, rectangles and pictures in their boxes
    audio.py      music looped, trimmed to the video, volume, fades -> [audio]
    encode.py     EncodeSettings: every codec parameter, so segments join with `-c copy`
"""

from __future__ import annotations

from pathlib import Path

from render.compose.audio import add_soundtrack
from render.compose.encode import TIMEOUT_BASE_S, TIMEOUT_PER_VIDEO_S, EncodeSettings, metadata_args
from render.compose.ffmpeg import ComposeError, filter_spec, input_args, run_ffmpeg_into
from render.compose.graph import FilterGraph
from render.compose.outputs import Taps, add_taps, taps_commit, taps_discard
from render.compose.plan import CompositionPlan, VideoInfo
from render.compose.probe import MediaInput, probe
from render.compose.scenes import add_background, add_scene, add_window
from render.compose.timing import WindowPart, scene_timings
from render.compose.validate import check_plan, check_plan_inputs

THUMBNAIL_TIMEOUT_S = 60.0
# One frame of one scene: well under a second on 2 cores; the bound only stops a runaway run.
STILL_TIMEOUT_S = 60.0


def compose_video(
    plan: CompositionPlan,
    out_path: Path,
    *,
    workdir: Path,
    preset: str = "veryfast",
    settings: EncodeSettings | None = None,
    timeout_s: float | None = None,
    window: tuple[int, int] | None = None,
    inputs: dict[Path, MediaInput] | None = None,
    backgrounds: dict[int, Path] | None = None,
    taps: Taps | None = None,
) -> VideoInfo:
    """Render `plan` to `out_path` (written whole or not at all) and return what the file is.

    `window` = (first, end) output frames: only that part, video only (a segment, see
    `segments.compose_segmented`, which passes the `inputs` it probed for the window, and in
    `backgrounds` the scenes whose moving background it already holds rendered, see
    `render_background`). `taps`: the poster and GIF frames this run renders, written beside the video
    by the same run (`outputs.add_taps`); each file is written whole, after the video, or not at all.

    `workdir` receives the text files drawtext reads; the caller owns and removes it. `settings`,
    when given, replaces the defaults `preset` is part of. Raises PlanError for a plan that cannot
    be drawn, UnsupportedMediaError for an input outside the allowlists, ComposeError if ffmpeg fails.
    """
    settings = settings or EncodeSettings(preset=preset)

    # 1. Check the plan and every input file before anything reaches ffmpeg
    check_plan(plan)
    inputs = check_plan_inputs(plan) if inputs is None else inputs
    workdir.mkdir(parents=True, exist_ok=True)

    # 2. Build the command: inputs, filter graph, encoder, container
    partial = out_path.with_name(f".{out_path.name}.partial")
    args = compose_args(
        plan,
        partial,
        workdir=workdir,
        settings=settings,
        inputs=inputs,
        window=window,
        backgrounds=backgrounds,
        taps=taps,
    )

    # 3. Run it, then move the finished files into place so no reader sees half a video
    timeout = timeout_s if timeout_s is not None else TIMEOUT_BASE_S + TIMEOUT_PER_VIDEO_S * plan.duration
    try:
        run_ffmpeg_into(args, partial=partial, out_path=out_path, timeout=timeout)
        if taps is not None:
            taps_commit(taps)
    finally:
        if taps is not None:
            taps_discard(taps)
    return probe(out_path)


def make_thumbnail(video_path: Path, out_path: Path, *, at_seconds: float) -> None:
    """Write the frame at `at_seconds` of `video_path` as a JPEG."""
    # 1. Check inputs
    duration = probe(video_path).duration
    if not 0 <= at_seconds < duration:
        raise ComposeError(f"thumbnail time {at_seconds} s is outside the video (0 to {duration:.3f} s)")

    # 2. Seek (accurately: ffmpeg decodes from the keyframe before and drops frames up to the
    # time), convert to JPEG's full-range BT.601, write one frame
    partial = out_path.with_name(f".{out_path.name}.partial")
    args = [
        *input_args(video_path, options=["-ss", f"{at_seconds:.6f}"]),
        "-vf", ",".join([
            filter_spec("scale", out_color_matrix="bt601", out_range="pc"),
            filter_spec("format", pix_fmts="yuvj420p"),
        ]),
        "-frames:v", "1",
        "-c:v", "mjpeg",
        "-q:v", "2",  # mjpeg quality, 2 (best) to 31: near-lossless for a poster frame
        "-update", "1",
        "-f", "image2",
        str(partial),
    ]  # fmt: skip

    # 3. Run, and move the file into place
    run_ffmpeg_into(args, partial=partial, out_path=out_path, timeout=THUMBNAIL_TIMEOUT_S)


def render_background(
    plan: CompositionPlan,
    part: WindowPart,
    out_path: Path,
    *,
    inputs: dict[Path, MediaInput],
    timeout_s: float,
) -> None:
    """Scene `part.index`'s background alone (motion applied, no layers) for the part's frames, as
    lossless Ut Video in Matroska: the frames `scenes.add_background` would make, to be read back in their
    place by `compose_video(backgrounds=...)`. Exactly lossless (yuv420p in and out), so a segment
    drawn over it is the segment drawn over the live background."""
    graph = FilterGraph(inputs)
    timing = scene_timings(plan)[part.index]
    label = add_background(
        graph, plan.scenes[part.index].background, timing.rendered, plan, skip=part.skip, count=part.count
    )
    partial = out_path.with_name(f".{out_path.name}.partial")
    args = [*graph.args(), "-map", f"[{label}]", "-c:v", "utvideo", "-f", "matroska", str(partial)]
    run_ffmpeg_into(args, partial=partial, out_path=out_path, timeout=timeout_s)


def render_still(
    plan: CompositionPlan,
    index: int,
    out_path: Path,
    *,
    workdir: Path,
    inputs: dict[Path, MediaInput],
    timeout_s: float = STILL_TIMEOUT_S,
) -> None:
    """Scene `index`'s middle frame as a PNG: the scene's own graph (background, motion, layers, animations)
    drawn for that one frame, the frame the full render shows there (no fade reaches a scene's middle:
    `check_plan` keeps a cut's fade inside its scenes' halves). `inputs`: `check_plan_inputs(plan)`, probed
    once for every scene of the plan."""
    graph = FilterGraph(inputs)
    timing = scene_timings(plan)[index]
    label = add_scene(
        graph, plan, index, timing, skip=timing.lead_in + timing.frames // 2, count=1, workdir=workdir
    )
    # The graph's limited-range BT.709 back to full-range RGB, as a player shows it.
    rgb = graph.add(
        [label],
        [
            filter_spec("scale", in_color_matrix="bt709", in_range="tv"),
            filter_spec("format", pix_fmts="rgb24"),
        ],
        "still",
    )
    partial = out_path.with_name(f".{out_path.name}.partial")
    args = [
        *graph.args(), "-map", f"[{rgb}]", "-frames:v", "1", "-c:v", "png", "-update", "1", "-f", "image2",
        str(partial),
    ]  # fmt: skip
    run_ffmpeg_into(args, partial=partial, out_path=out_path, timeout=timeout_s)


def compose_args(
    plan: CompositionPlan,
    output: Path,
    *,
    workdir: Path,
    settings: EncodeSettings,
    inputs: dict[Path, MediaInput],
    window: tuple[int, int] | None = None,
    backgrounds: dict[int, Path] | None = None,
    taps: Taps | None = None,
) -> list[str]:
    """The ffmpeg arguments rendering `plan` to `output`; writes the text files into `workdir`.

    `window` = (first, end) output frames renders only that part of the timeline, without audio or
    metadata: a segment, joined to the others by `compose_segmented`. Every frame of a window is the
    frame the full render has at that position (same builders, motion and fades offset by the window).
    `taps` that fall in the window become extra outputs after the video, split off before the encoder,
    so the encoded frames are the same with or without them.
    """
    graph = FilterGraph(inputs)
    timings = scene_timings(plan)
    total_frames = sum(timing.frames for timing in timings)
    first, end = window or (0, total_frames)

    # 1-2. The scenes the window touches, each cut to its part, joined by their transitions
    video = add_window(graph, plan, timings, first, end, workdir=workdir, backgrounds=backgrounds or {})
    video, tap_outputs = add_taps(graph, video, (taps or Taps()).within(first, end), first=first)

    # 3. Music, looped or cut to exactly the video's length (segments carry none)
    audio = None
    if (plan.audio is not None or plan.voices) and window is None:
        audio = add_soundtrack(graph, plan, total_frames, settings)

    # 4. Encoders, metadata (ours only: nothing copied from inputs), container
    return [
        *graph.args(),
        "-map", f"[{video}]",
        *(["-map", f"[{audio}]", *settings.audio_args()] if audio else []),
        *settings.video_args(plan.fps),
        "-map_metadata", "-1",
        "-map_chapters", "-1",
        *(metadata_args(plan.metadata) if window is None else []),
        # faststart: moov before mdat, so playback starts before the download ends;
        # use_metadata_tags: keep custom keys (the mp4 muxer drops unknown ones otherwise).
        "-movflags", "+faststart+use_metadata_tags",
        "-f", "mp4",
        str(output),
        *tap_outputs,
    ]  # fmt: skip
