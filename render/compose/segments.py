"""Encoding only what is personal: a plan split into shared and personal segments, joined by copy.

The timeline is cut at scene boundaries into runs of shared scenes and runs of personal ones. A
transition that crosses a shared/personal boundary belongs to the personal segment: a personal run
starts where the fade into it starts and ends where the fade out of it ends, so every shared
segment is whole, hard-edged and the same for every recipient.

Each segment is encoded with the same `EncodeSettings` (libx264 high, yuv420p, BT.709, fixed GOP
from an IDR at its first frame, timebase 1/fps), so the segments' SPS/PPS agree and the concat
demuxer joins them with `-c copy`. Audio is laid once over the whole in that final run (music is
looped, trimmed and faded to the total frame count exactly as in a full render) and muxed last.

Shared segments are stored by the hash of everything that decides their pixels (`segment_key`):
the compositor version, encode settings, frame size and rate, the window, and every scene touching
the window with each file it reads replaced by the file's SHA-256. That covers the template
version's spec, the brand's colours and assets, the format and the generated pictures (whose files
are the generation results) without naming any of them, and two template versions that share a
scene share its segment.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import resource
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

# compose_video through its module, so tests can stand in for it (tests/render/test_render_flow.py).
from render.compose import compose
from render.compose.audio import add_soundtrack
from render.compose.compose import render_background
from render.compose.encode import TIMEOUT_BASE_S, TIMEOUT_PER_VIDEO_S, EncodeSettings, metadata_args
from render.compose.ffmpeg import input_args, run_ffmpeg, run_ffmpeg_into
from render.compose.graph import FilterGraph
from render.compose.outputs import (
    GifSettings,
    Taps,
    gif_from_parts,
    gif_part_from_video,
    plan_gif_settings,
    poster_frame,
    poster_from_video,
)
from render.compose.plan import CompositionPlan, ImageBackground, Scene, VideoBackground, VideoInfo
from render.compose.probe import (
    INTERMEDIATE_INPUTS,
    MediaInput,
    UnsupportedMediaError,
    check_media_input,
    probe,
)
from render.compose.timing import WindowPart, plan_cuts, scene_timings, window_parts
from render.compose.validate import check_plan, check_plan_inputs

# Bumped whenever the filter graph changes what a segment looks like, so no stale segment is reused.
COMPOSITOR_VERSION = "segments-2"  # 2: styles, decorations, animations, gradients, rectangles, audio fades
# Bumped whenever a poster or GIF made from a shared segment's frames would look different.
PREVIEWS_VERSION = "previews-1"


class SegmentCache(Protocol):
    """Where shared segments live between renders (render services use storage, `segments/<hash>.mp4`)."""

    def fetch(self, key: str, dest: Path, *, suffix: str = ".mp4") -> bool:
        """Copy the file stored under `key` + `suffix` to `dest`; False when there is none."""
        ...

    def store(self, key: str, path: Path, *, suffix: str = ".mp4") -> None: ...


class DirectorySegmentCache:
    """Segments as files in one local folder (benchmarks, tests)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def fetch(self, key: str, dest: Path, *, suffix: str = ".mp4") -> bool:
        source = self.root / f"{key}{suffix}"
        if not source.is_file():
            return False
        shutil.copyfile(source, dest)
        return True

    def store(self, key: str, path: Path, *, suffix: str = ".mp4") -> None:
        partial = self.root / f".{key}{suffix}.partial"
        shutil.copyfile(path, partial)
        os.replace(partial, self.root / f"{key}{suffix}")


@dataclass(frozen=True, slots=True)
class Segment:
    """Output frames first..end-1; personal ones are encoded per recipient, shared ones cached."""

    first: int
    end: int
    personal: bool


@dataclass(frozen=True, slots=True)
class Previews:
    """Where `compose_segmented` writes the poster (a JPEG of output frame `poster_frame`) and the GIF."""

    poster: Path
    gif: Path
    poster_frame: int
    gif_settings: GifSettings


def plan_previews(plan: CompositionPlan, *, poster: Path, gif: Path) -> Previews:
    """The poster and GIF a render makes beside its video (outputs.poster_frame, outputs.gif_settings)."""
    return Previews(poster, gif, poster_frame(plan), plan_gif_settings(plan))


@dataclass(frozen=True, slots=True)
class SegmentedResult:
    info: VideoInfo
    segments: tuple[Segment, ...]
    encoded: int  # segments encoded in this run (personal ones, and shared ones the cache lacked)
    reused: int  # shared segments taken from the cache
    seconds: float
    backgrounds: int = 0  # moving backgrounds of personal segments rendered in this run (cache misses)
    # ffmpeg's CPU-seconds (this process's children) making the video (segments with their taps, music,
    # join) and the previews (the GIF's run, and posters or GIF frames a cached segment lacked).
    video_cpu_s: float = 0.0
    previews_cpu_s: float = 0.0
    gif_reused: bool = False  # the whole GIF came from the cache (it shows shared segments only)


def plan_segments(plan: CompositionPlan) -> tuple[Segment, ...]:
    """The timeline in runs of shared and personal scenes; transitions at a boundary go personal.

    A shared run too short to survive the transitions eaten from both its ends becomes personal.
    """
    timings = scene_timings(plan)
    cuts = [frames for _, frames in plan_cuts(plan)]
    starts = [0]
    for timing in timings:
        starts.append(starts[-1] + timing.frames)
    personal = [scene.personal for scene in plan.scenes]
    while True:
        runs: list[tuple[int, int, bool]] = []  # first scene, last scene + 1, personal
        for index, flag in enumerate(personal):
            if runs and runs[-1][2] == flag:
                runs[-1] = (runs[-1][0], index + 1, flag)
            else:
                runs.append((index, index + 1, flag))
        segments = []
        for lo, hi, flag in runs:
            first, end = starts[lo], starts[hi]
            # A fade of D frames around cut c covers c - (D - D//2) .. c + D//2 (timing.scene_timings).
            fade_in = cuts[lo - 1] if lo > 0 else 0
            fade_out = cuts[hi - 1] if hi < len(timings) else 0
            if flag:
                first -= fade_in - fade_in // 2
                end += fade_out // 2
            else:
                first += fade_in // 2 if lo > 0 else 0
                end -= fade_out - fade_out // 2 if hi < len(timings) else 0
            segments.append((lo, hi, Segment(first, end, flag)))
        too_short = [(lo, hi) for lo, hi, seg in segments if not seg.personal and seg.end <= seg.first]
        if not too_short:
            return tuple(seg for _, _, seg in segments)
        for lo, hi in too_short:
            personal[lo:hi] = [True] * (hi - lo)


def segment_key(plan: CompositionPlan, segment: Segment, settings: EncodeSettings) -> str:
    """SHA-256 of everything that decides the segment's encoded bytes (see the module docstring)."""
    timings = scene_timings(plan)
    start, scenes = 0, []
    for index, (scene, timing) in enumerate(zip(plan.scenes, timings, strict=True)):
        lo, hi = start - timing.lead_in, start + timing.frames + timing.lead_out
        start += timing.frames
        if lo < segment.end and hi > segment.first:
            scenes.append([index, lo, hi, _canonical(dataclasses.asdict(scene) | {"personal": False})])
    canonical = {
        "version": COMPOSITOR_VERSION,
        "settings": settings.hash_fields(),
        "format": [plan.width, plan.height, plan.fps],
        "window": [segment.first, segment.end],
        "cuts": plan_cuts(plan),
        "transition": dataclasses.asdict(plan.transition),
        "scenes": scenes,
    }
    encoded = json.dumps(canonical, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(encoded.encode()).hexdigest()


def _canonical(value: Any) -> Any:
    """Plan values with every file path replaced by its content hash (paths differ per workdir)."""
    if isinstance(value, dict):
        return {key: _canonical(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(item) for item in value]
    if isinstance(value, Path):
        return {"sha256": _file_sha256(value)}
    return value


def _scenes_in(plan: CompositionPlan, segment: Segment) -> tuple[Scene, ...]:
    """The scenes whose rendered frames (fades included) reach into `segment`."""
    start, out = 0, []
    for scene, timing in zip(plan.scenes, scene_timings(plan), strict=True):
        lo, hi = start - timing.lead_in, start + timing.frames + timing.lead_out
        start += timing.frames
        if lo < segment.end and hi > segment.first:
            out.append(scene)
    return tuple(out)


def _audio_track(
    plan: CompositionPlan, settings: EncodeSettings, cache: SegmentCache, workdir: Path, timeout: float
) -> Path:
    """The plan's music and spoken lines as one AAC track of exactly the video's length (as `compose_video`
    lays it). Music alone is cached; a track with voices is the recipient's own and made each time (the
    audio encode of a 30 s ad is a fraction of a second)."""
    total_frames = sum(timing.frames for timing in scene_timings(plan))
    canonical = {
        "version": COMPOSITOR_VERSION,
        "audio": _canonical(dataclasses.asdict(plan.audio)) if plan.audio else None,
        "frames": total_frames,
        "fps": plan.fps,
        "settings": settings.hash_fields(),
    }
    key = hashlib.sha256(json.dumps(canonical, sort_keys=True).encode()).hexdigest()
    path = workdir / "audio.mp4"
    if not plan.voices and cache.fetch(key, path):
        return path
    inputs = check_plan_inputs(dataclasses.replace(plan, scenes=()))
    graph = FilterGraph(inputs)
    label = add_soundtrack(graph, plan, total_frames, settings)
    run_ffmpeg(
        [*graph.args(), "-map", f"[{label}]", *settings.audio_args(), "-f", "mp4", str(path)], timeout=timeout
    )
    if not plan.voices:
        cache.store(key, path)
    return path


def background_key(plan: CompositionPlan, part: WindowPart) -> str:
    """SHA-256 of what decides a moving background's frames: picture or clip bytes (and the clip's
    rate), motion, frame window."""
    canonical = {
        "version": COMPOSITOR_VERSION,
        "kind": "background",
        "background": _canonical(dataclasses.asdict(plan.scenes[part.index].background) | {"reused": True}),
        "format": [plan.width, plan.height, plan.fps],
        "rendered": scene_timings(plan)[part.index].rendered,
        "skip": part.skip,
        "count": part.count,
    }
    return hashlib.sha256(json.dumps(canonical, sort_keys=True, default=str).encode()).hexdigest()


def _moving_backgrounds(
    plan: CompositionPlan,
    segment: Segment,
    inputs: dict[Path, MediaInput],
    cache: SegmentCache,
    workdir: Path,
    timeout: float,
) -> tuple[dict[int, Path], int]:
    """For a personal segment: each reused picture that moves in it, and each reused clip, as its
    rendered frames (from the cache, or rendered and cached now). Returns scene index -> file, and how
    many were rendered.

    The motion (a perspective warp per frame) is most of what a personal scene over a picture costs;
    a clip costs a decode, a rate change and an upscale per frame; the picture or clip is the same for
    everyone, so its moving frames are too. Files coming back from the
    cache pass the intermediate allowlist; one of the wrong size is rendered again.
    """
    out, rendered = {}, 0
    for part in window_parts(scene_timings(plan), segment.first, segment.end):
        background = plan.scenes[part.index].background
        moving = isinstance(background, VideoBackground) or (
            isinstance(background, ImageBackground) and background.motion != "none"
        )
        if not (moving and isinstance(background, ImageBackground | VideoBackground) and background.reused):
            continue
        key = background_key(plan, part)
        path = workdir / f"background{part.index}.mkv"
        media = None
        if cache.fetch(key, path, suffix=".mkv"):
            with contextlib.suppress(UnsupportedMediaError):
                media = check_media_input(path, allowed_formats=INTERMEDIATE_INPUTS)
        if media is None or (media.width, media.height) != (plan.width, plan.height):
            render_background(plan, part, path, inputs=inputs, timeout_s=timeout)
            media = check_media_input(path, allowed_formats=INTERMEDIATE_INPUTS)
            cache.store(key, path, suffix=".mkv")
            rendered += 1
        inputs[path] = media
        out[part.index] = path
    return out, rendered


def _json_sha256(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def compose_segmented(
    plan: CompositionPlan,
    out_path: Path,
    *,
    workdir: Path,
    cache: SegmentCache,
    preset: str = "veryfast",
    settings: EncodeSettings | None = None,
    timeout_s: float | None = None,
    previews: Previews | None = None,
) -> SegmentedResult:
    """Render `plan` like `compose_video`, encoding only personal segments and missing shared ones.

    `previews`: also write the poster and the GIF, from the frames the segment runs render (`outputs.Taps`)
    or, for a shared segment, from the cache beside it; a GIF that shows shared segments only is cached
    whole."""
    began, cpu_began = time.perf_counter(), _children_cpu_s()
    settings = settings or EncodeSettings(preset=preset)
    check_plan(plan)
    segments = plan_segments(plan)
    workdir.mkdir(parents=True, exist_ok=True)
    timeout = timeout_s if timeout_s is not None else TIMEOUT_BASE_S + TIMEOUT_PER_VIDEO_S * plan.duration
    work = _PreviewWork(previews, workdir, cache)
    if not any(not segment.personal for segment in segments):
        # Nothing to share: one run, exactly the full render (its taps beside it).
        taps = work.taps(0, segments[0])
        info = compose.compose_video(
            plan, out_path, workdir=workdir, settings=settings, timeout_s=timeout_s, taps=taps
        )
        video_cpu_s = _children_cpu_s() - cpu_began
        work.finish()
        return SegmentedResult(
            info, segments, 1, 0, time.perf_counter() - began,
            video_cpu_s=video_cpu_s, previews_cpu_s=_children_cpu_s() - cpu_began - video_cpu_s,
        )  # fmt: skip
    work.gif_from_cache(plan, segments, settings)

    # 1. Each segment: from the cache when shared and present, else encoded (and cached if shared)
    encoded = reused = backgrounds = 0
    files = []
    for index, segment in enumerate(segments):
        path = workdir / f"segment{index}.mp4"
        key = None if segment.personal else segment_key(plan, segment, settings)
        taps = work.taps(index, segment)
        if key is not None and cache.fetch(key, path):
            reused += 1
            work.taps_from_cache(key, segment, taps, path)
        else:
            # Probe only what this segment reads: a cached shared scene's files are not opened.
            inputs = check_plan_inputs(
                dataclasses.replace(plan, scenes=_scenes_in(plan, segment), audio=None, voices=())
            )
            moving: dict[int, Path] = {}
            if segment.personal:
                moving, count = _moving_backgrounds(plan, segment, inputs, cache, workdir, timeout)
                backgrounds += count
            compose.compose_video(
                plan,
                path,
                workdir=workdir / f"segment{index}",
                settings=settings,
                timeout_s=timeout,
                window=(segment.first, segment.end),
                inputs=inputs,
                backgrounds=moving,
                taps=taps,
            )
            encoded += 1
            if key is not None:
                cache.store(key, path)
                work.taps_store(key, segment, taps)
        files.append(path)

    # 2. The music over the whole length: encoded once per track, length and settings, then cached
    audio = _audio_track(plan, settings, cache, workdir, timeout) if plan.audio or plan.voices else None

    # 3. Join by stream copy, mux the audio last, move into place
    _join(plan, files, audio, out_path, workdir, timeout)
    video_cpu_s = _children_cpu_s() - cpu_began - work.cpu_s

    # 4. The GIF, from the frames the segments' runs tapped (unless it came whole from the cache)
    work.finish()

    return SegmentedResult(
        probe(out_path), segments, encoded, reused, time.perf_counter() - began, backgrounds,
        video_cpu_s=video_cpu_s, previews_cpu_s=_children_cpu_s() - cpu_began - video_cpu_s,
        gif_reused=work.gif_reused,
    )  # fmt: skip


def _join(
    plan: CompositionPlan,
    files: list[Path],
    audio: Path | None,
    out_path: Path,
    workdir: Path,
    timeout: float,
) -> None:
    """The segments joined by stream copy (the concat demuxer), the music muxed last."""
    listing = workdir / "segments.txt"
    # Names only (no directories, no quotes): the concat demuxer's safe mode accepts them as they are.
    listing.write_text("".join(f"file {path.name}\n" for path in files), encoding="utf-8")
    partial = out_path.with_name(f".{out_path.name}.partial")
    args = [
        *input_args(listing, options=["-f", "concat"]),
        *(input_args(audio, options=["-f", "mp4"]) if audio else []),
        "-map", "0:v",
        *(["-map", "1:a"] if audio else []),
        "-c", "copy",
        "-map_metadata", "-1",
        "-map_chapters", "-1",
        *metadata_args(plan.metadata),
        "-movflags", "+faststart+use_metadata_tags",
        "-f", "mp4",
        str(partial),
    ]  # fmt: skip
    run_ffmpeg_into(args, partial=partial, out_path=out_path, timeout=timeout)


class _PreviewWork:
    """The poster and GIF of one `compose_segmented` run: which segment runs tap them, what a shared
    segment's taps are cached as, and the GIF made at the end. Does nothing without `previews`."""

    def __init__(self, previews: Previews | None, workdir: Path, cache: SegmentCache) -> None:
        self.previews = previews
        self.workdir = workdir
        self.cache = cache
        self.parts: list[Path] = []  # the GIF's frames, segment by segment
        self.gif_key: str | None = None  # set when the GIF shows shared segments only
        self.gif_reused = False
        self.cpu_s = 0.0  # ffmpeg CPU spent on previews outside the segments' own runs

    def gif_from_cache(
        self, plan: CompositionPlan, segments: tuple[Segment, ...], settings: EncodeSettings
    ) -> None:
        """A GIF that shows shared segments only is the same for everyone: take it whole when cached."""
        if self.previews is None:
            return
        gif = self.previews.gif_settings
        shown = [s for s in segments if any(gif.shows(f) for f in range(s.first, s.end))]
        if any(segment.personal for segment in shown):
            return
        canonical = {
            "version": PREVIEWS_VERSION,
            "gif": dataclasses.asdict(gif),
            "segments": [[s.first, s.end, segment_key(plan, s, settings)] for s in shown],
        }
        self.gif_key = _json_sha256(canonical)
        self.gif_reused = self.cache.fetch(self.gif_key, self.previews.gif, suffix=".gif")

    def taps(self, index: int, segment: Segment) -> Taps:
        if self.previews is None:
            return Taps()
        previews = self.previews
        gif = None if self.gif_reused else (previews.gif_settings, self.workdir / f"gif{index}.mkv")
        taps = Taps(poster=(previews.poster_frame, previews.poster), gif=gif).within(
            segment.first, segment.end
        )
        if taps.gif is not None:
            self.parts.append(taps.gif[1])
        return taps

    def _keys(self, key: str, segment: Segment) -> tuple[str, str]:
        """Cache keys of a shared segment's poster frame and GIF frames (its own key, and which ones)."""
        assert self.previews is not None
        poster = {
            "version": PREVIEWS_VERSION,
            "segment": key,
            "frame": self.previews.poster_frame - segment.first,
        }
        gif = {
            "version": PREVIEWS_VERSION,
            "segment": key,
            "first": segment.first,
            "gif": dataclasses.asdict(self.previews.gif_settings),
        }
        return _json_sha256(poster), _json_sha256(gif)

    def taps_from_cache(self, key: str, segment: Segment, taps: Taps, video: Path) -> None:
        """A cached segment's poster and GIF frames: from the cache, else decoded from it once and cached."""
        if not taps.outputs():
            return
        began = _children_cpu_s()
        poster_key, gif_key = self._keys(key, segment)
        if taps.poster is not None:
            frame, path = taps.poster
            if not self.cache.fetch(poster_key, path, suffix=".jpg"):
                poster_from_video(video, path, frame=frame - segment.first)
                self.cache.store(poster_key, path, suffix=".jpg")
        if taps.gif is not None:
            settings, path = taps.gif
            if not (self.cache.fetch(gif_key, path, suffix=".mkv") and self._frames_ok(path, settings)):
                gif_part_from_video(video, path, settings=settings, first=segment.first)
                self.cache.store(gif_key, path, suffix=".mkv")
        self.cpu_s += _children_cpu_s() - began

    def taps_store(self, key: str, segment: Segment, taps: Taps) -> None:
        """A shared segment just encoded: its taps go to the cache beside it."""
        poster_key, gif_key = self._keys(key, segment) if taps.outputs() else ("", "")
        if taps.poster is not None:
            self.cache.store(poster_key, taps.poster[1], suffix=".jpg")
        if taps.gif is not None:
            self.cache.store(gif_key, taps.gif[1], suffix=".mkv")

    @staticmethod
    def _frames_ok(path: Path, settings: GifSettings) -> bool:
        """GIF frames read back from the cache pass the intermediate allowlist at the GIF's size."""
        try:
            media = check_media_input(path, allowed_formats=INTERMEDIATE_INPUTS)
        except UnsupportedMediaError:
            return False
        return (media.width, media.height) == (settings.width, settings.height)

    def finish(self) -> None:
        """The GIF from the tapped frames (one run), cached whole when it shows shared segments only."""
        if self.previews is None or self.gif_reused:
            return
        began = _children_cpu_s()
        gif_from_parts(self.parts, self.previews.gif, settings=self.previews.gif_settings)
        if self.gif_key is not None:
            self.cache.store(self.gif_key, self.previews.gif, suffix=".gif")
        self.cpu_s += _children_cpu_s() - began
