"""The music: looped or cut to exactly the video's length, at its volume, faded in and out.

Segmented renders lay it once over the whole (`segments.py`), with the same chain as a full render.
"""

from __future__ import annotations

from render.compose.encode import EncodeSettings
from render.compose.ffmpeg import filter_spec
from render.compose.graph import FilterGraph
from render.compose.plan import Audio, CompositionPlan
from render.compose.timing import scene_timings


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


# Ducking: the music drops about 12 dB while a voice speaks. sidechaincompress keyed by the speech: a
# threshold of 0.02 (-34 dBFS) is under any spoken syllable (speech peaks near -20 dBFS RMS) and above
# the speech bus's silence (exact zeros); ratio 8 takes a -10 dBFS bed 12 dB down over the threshold;
# 20 ms attack catches a word's onset, 400 ms release lets the music back between sentences rather than
# between words (the usual broadcast voice-over settings).
DUCK_THRESHOLD = 0.02
DUCK_RATIO = 8
DUCK_ATTACK_MS = 20
DUCK_RELEASE_MS = 400


def voice_offsets(plan: CompositionPlan, rate: int) -> list[int]:
    """Each voice's first sample: its scene's first frame in samples, exact (frame * rate / fps is a whole
    number at 48 kHz for every allowed fps that divides 48000; otherwise rounded to the nearest sample)."""
    starts = [0]
    for timing in scene_timings(plan):
        starts.append(starts[-1] + timing.frames)
    return [round(starts[voice.scene] * rate / plan.fps) for voice in plan.voices]


def add_soundtrack(
    graph: FilterGraph, plan: CompositionPlan, total_frames: int, settings: EncodeSettings
) -> str:
    """The whole video's audio: the music (`add_audio`), the spoken lines laid at their scenes' first
    samples, and the music ducked under them. Made once over the whole timeline (never per segment), so
    the track has no joins: a line that runs past its scene simply goes on over the next one."""
    music = add_audio(graph, plan.audio, total_frames, plan.fps, settings) if plan.audio else None
    if not plan.voices:
        assert music is not None
        return music
    rate = settings.audio_sample_rate
    total_samples = round(total_frames * rate / plan.fps)
    lines = []
    for voice, offset in zip(plan.voices, voice_offsets(plan, rate), strict=True):
        source = graph.add_input(voice.path, "a:0")
        lines.append(
            graph.add(
                [source],
                [
                    filter_spec("pan", args="stereo|c0=c0|c1=c0"),
                    filter_spec("aformat", sample_fmts="fltp", sample_rates=rate, channel_layouts="stereo"),
                    filter_spec("asetpts", expr="N/SR/TB"),
                    # Placed in samples ("S"), not milliseconds: the offset is exact.
                    filter_spec("adelay", delays=f"{offset}S", all=1),
                ],
                "voice",
            )
        )
    # normalize=0: each line keeps its level where lines would overlap (amix divides by input count).
    speech_filters = [filter_spec("amix", inputs=len(lines), normalize=0)] if len(lines) > 1 else []
    speech = graph.add(
        lines,
        [
            *speech_filters,
            filter_spec("apad", whole_len=total_samples),
            filter_spec("atrim", end_sample=total_samples),
        ],
        "speech",
    )
    if music is None:
        return speech
    said, key = graph.label("said"), graph.label("key")
    graph.chains.append(f"[{speech}]asplit=2[{said}][{key}]")
    ducked = graph.add(
        [music, key],
        [
            filter_spec(
                "sidechaincompress",
                threshold=DUCK_THRESHOLD,
                ratio=DUCK_RATIO,
                attack=DUCK_ATTACK_MS,
                release=DUCK_RELEASE_MS,
            )
        ],
        "ducked",
    )
    return graph.add([ducked, said], [filter_spec("amix", inputs=2, normalize=0)], "soundtrack")
