"""What goes beside each MP4: a JPEG poster (compose.make_thumbnail), an animated GIF preview small
enough for an email, and WebVTT captions of the ad's text.

The GIF is made from the finished MP4 (so it shows exactly what the video shows) with a palette
computed for these frames (palettegen, then paletteuse): a generic 256-colour palette bands photos
badly. It must stay under `GIF_MAX_BYTES`; when a busy ad does not fit at the first size, it is made
again smaller and slower, down to a last size that always fits.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from render.compose.ffmpeg import ComposeError, filter_spec, input_args, run_ffmpeg
from render.compose.plan import CompositionPlan, TextLayer
from render.compose.timing import scene_timings

# 1 MB: what email clients and ESPs accept inline without clipping (Gmail clips messages over
# 102 KB of HTML, but images are fetched apart; Mailchimp's own limit for GIFs is 1 MB).
GIF_MAX_BYTES = 1_000_000
GIF_MAX_SECONDS = 4.0  # a preview: the ad's first seconds, enough to show motion and the greeting
# (width, fps) tried in order: 320 px is a typical email column's image width at 1x; 10 fps moves
# smoothly enough for a preview. Each fallback roughly halves the bytes.
GIF_SIZES = ((320, 10), (240, 8), (160, 6), (120, 4))
GIF_TIMEOUT_S = 120.0


def make_gif(video_path: Path, out_path: Path, *, duration: float) -> int:
    """An animated GIF of the video's first seconds under GIF_MAX_BYTES; returns its size in bytes."""
    seconds = min(GIF_MAX_SECONDS, duration)
    partial = out_path.with_name(f".{out_path.name}.partial")
    try:
        for width, fps in GIF_SIZES:
            graph = ";".join([
                "[0:v]" + ",".join([
                    filter_spec("fps", fps=fps),
                    filter_spec("scale", w=width, h=-2, flags="lanczos"),
                    "split",
                ]) + "[a][b]",
                "[a]" + filter_spec("palettegen", stats_mode="diff", max_colors=128) + "[palette]",
                # Bayer dithering: ordered, so frames compress better than with error diffusion.
                "[b][palette]" + filter_spec("paletteuse", dither="bayer", bayer_scale=3) + "[gif]",
            ])  # fmt: skip
            args = [
                *input_args(video_path, options=["-t", f"{seconds:.3f}", "-f", "mp4"]),
                "-filter_complex", graph,
                "-map", "[gif]",
                "-loop", "0",
                "-f", "gif",
                str(partial),
            ]  # fmt: skip
            run_ffmpeg(args, timeout=GIF_TIMEOUT_S)
            size = partial.stat().st_size
            if size < GIF_MAX_BYTES:
                os.replace(partial, out_path)
                return size
        raise ComposeError(f"GIF preview stays over {GIF_MAX_BYTES} bytes at {GIF_SIZES[-1]}")
    finally:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()


def captions_vtt(plan: CompositionPlan) -> str:
    """WebVTT of the texts each scene draws, one cue per scene at the scene's planned times."""
    lines = ["WEBVTT", ""]
    start = 0
    for scene, timing in zip(plan.scenes, scene_timings(plan), strict=True):
        end = start + timing.frames
        texts = [" ".join(layer.text.split()) for layer in scene.layers if isinstance(layer, TextLayer)]
        texts = [text for text in texts if text]
        if texts:
            lines += [
                f"{_timestamp(start, plan.fps)} --> {_timestamp(end, plan.fps)}",
                *map(_escape, texts),
                "",
            ]
        start = end
    return "\n".join(lines)


def _timestamp(frame: int, fps: int) -> str:
    millis = round(frame * 1000 / fps)
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}.{millis:03d}"


def _escape(text: str) -> str:
    # WebVTT cue text: & and < start entities and tags; > too, so no "-->" survives (W3C WebVTT 4.2.2).
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
