"""The music: looped or cut to exactly the video's length, at its volume, faded in and out.

Segmented renders lay it once over the whole (`segments.py`), with the same chain as a full render.
"""

from __future__ import annotations

from render.compose.encode import EncodeSettings
from render.compose.ffmpeg import filter_spec
from render.compose.graph import FilterGraph
from render.compose.plan import Audio


def add_audio(graph: FilterGraph, audio: Audio, total_frames: int, fps: int, settings: EncodeSettings) -> str:
    rate = settings.audio_sample_rate
    total_s = total_frames / fps
    # Each fade at most half the video, so the two never overlap.
    fade_in, fade_out = min(audio.fade_in, total_s / 2), min(audio.fade_out, total_s / 2)
    fades = []
    if fade_in > 0:
        fades.append(filter_spec("afade", t="in", st=0, d=f"{fade_in:.6f}"))
    if fade_out > 0:
        fades.append(filter_spec("afade", t="out", st=f"{total_s - fade_out:.6f}", d=f"{fade_out:.6f}"))
    # -stream_loop -1 repeats a short track for ever; atrim then cuts it at the video's last sample.
    source = graph.add_input(audio.path, "a:0", "-stream_loop", "-1")
    # Mono goes to both ears at full level (the default upmix puts it at -3 dB, as a centre channel).
    upmix = [filter_spec("pan", args="stereo|c0=c0|c1=c0")] if graph.media[audio.path].channels == 1 else []
    filters = [
        *upmix,
        filter_spec("aformat", sample_fmts="fltp", sample_rates=rate, channel_layouts="stereo"),
        # Time from the sample count: an MP3's encoder delay starts it at +25 ms, and each loop
        # restarts its timestamps; counted samples start at 0 and run on without gaps.
        filter_spec("asetpts", expr="N/SR/TB"),
        filter_spec("atrim", end_sample=round(total_frames * rate / fps)),
        filter_spec("volume", volume=audio.volume),
        *fades,
    ]
    return graph.add([source], filters, "audio")
