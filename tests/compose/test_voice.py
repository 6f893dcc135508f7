"""Spoken lines in the soundtrack: placed at their scene's first sample, the music ducked under them,
captions at the times the words are said, and only the spoken scene differing between recipients."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from render.compose.compose import compose_video
from render.compose.ffmpeg import filter_spec, input_args, run_ffmpeg
from render.compose.outputs import captions_vtt
from render.compose.plan import Audio, ColorBackground, CompositionPlan, SpokenWord, Voice
from render.compose.segments import DirectorySegmentCache, compose_segmented
from render.speech import speech_synthesize
from tests.compose.conftest import build_plan

RATE = 48_000
SCENE_S = 2.0


def _decoded(path: Path, tmp: Path) -> np.ndarray:
    raw = tmp / f"{path.stem}.s16"
    run_ffmpeg(
        [*input_args(path), "-map", "0:a", "-ac", "1", "-ar", str(RATE), "-f", "s16le", str(raw)], timeout=60
    )
    return np.frombuffer(raw.read_bytes(), dtype="<i2").astype(np.float64) / 32768


def _rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(samples**2)))


def _voice(text: str, tmp: Path, scene: int) -> Voice:
    speech = speech_synthesize(text, voice="espeak-en")
    path = speech.write_wav(tmp / f"voice-{abs(hash(text))}.wav")
    return Voice(
        scene=scene, path=path, words=tuple(SpokenWord(w.word, w.start_s, w.end_s) for w in speech.words)
    )


def _tone(tmp: Path, frequency: int, seconds: float, name: str) -> Path:
    path = tmp / name
    run_ffmpeg(
        [
            "-filter_complex",
            filter_spec("sine", frequency=frequency, duration=seconds) + "[a]",
            "-map",
            "[a]",
            str(path),
        ],
        timeout=30,
    )
    return path


def _plan(voices: tuple[Voice, ...], music: Path | None) -> CompositionPlan:
    plan = build_plan(
        (SCENE_S, ColorBackground("#CC2222"), ()),
        (SCENE_S, ColorBackground("#2222CC"), ()),
        (SCENE_S, ColorBackground("#22CC22"), ()),
        audio=Audio(path=music, volume=0.3, fade_out=0.0) if music else None,  # a bed under a voice
    )
    return dataclasses.replace(plan, voices=voices)


def test_speech_is_loud_where_its_scene_is(tmp_path: Path, assets: dict[str, Path]) -> None:
    plan = _plan((_voice("Hi Jennifer", tmp_path, scene=1),), assets["tone"])
    out = tmp_path / "out.mp4"
    compose_video(plan, out, workdir=tmp_path / "w")
    audio = _decoded(out, tmp_path)
    assert len(audio) == pytest.approx(3 * SCENE_S * RATE, abs=2048)
    bed = _rms(audio[int(0.2 * RATE) : int(1.8 * RATE)])
    spoken = _rms(audio[int(2.0 * RATE) : int(2.6 * RATE)])
    assert spoken > 2 * bed


def test_music_ducks_under_speech(tmp_path: Path) -> None:
    # A 1 kHz "voice" over a 440 Hz bed: the bed's own energy drops while the voice plays.
    music = _tone(tmp_path, 440, 6.0, "bed.wav")
    voice = Voice(scene=1, path=_tone(tmp_path, 1000, 1.0, "voice.wav"))
    out = tmp_path / "out.mp4"
    compose_video(_plan((voice,), music), out, workdir=tmp_path / "w")
    audio = _decoded(out, tmp_path)

    def bed_level(start: float) -> float:
        window = audio[int(start * RATE) : int((start + 0.5) * RATE)]
        spectrum = np.abs(np.fft.rfft(window))
        freqs = np.fft.rfftfreq(len(window), 1 / RATE)
        return float(spectrum[np.argmin(np.abs(freqs - 440))])

    assert bed_level(2.3) < 0.5 * bed_level(1.0)  # ducked while the voice speaks (2.0-3.0 s)
    assert bed_level(4.5) > 0.8 * bed_level(1.0)  # and back after it


def test_cue_times_match_the_speech(tmp_path: Path) -> None:
    voice = _voice("Hi Jennifer", tmp_path, scene=1)
    plan = _plan((voice,), None)
    vtt = captions_vtt(plan)
    assert "Hi Jennifer" in vtt
    cue = next(line for line in vtt.splitlines() if "-->" in line)
    h, m, s = cue.split(" --> ")[0].split(":")
    cue_start = int(h) * 3600 + int(m) * 60 + float(s)
    out = tmp_path / "out.mp4"
    compose_video(plan, out, workdir=tmp_path / "w")
    audio = _decoded(out, tmp_path)
    onset = int(np.argmax(np.abs(audio) > 0.02)) / RATE  # silence until the voice starts
    assert abs(onset - cue_start) < 0.1
    assert abs(onset - SCENE_S) < 0.1


def test_two_recipients_differ_only_in_the_spoken_scene(tmp_path: Path, assets: dict[str, Path]) -> None:
    cache = DirectorySegmentCache(tmp_path / "cache")
    outputs = []
    for index, name in enumerate(["Jennifer", "Bob"]):
        plan = _plan((_voice(f"Hi {name}", tmp_path, scene=1),), assets["tone"])
        plan = dataclasses.replace(
            plan, scenes=tuple(dataclasses.replace(s, personal=(i == 1)) for i, s in enumerate(plan.scenes))
        )
        out = tmp_path / f"{index}.mp4"
        compose_segmented(plan, out, workdir=tmp_path / f"w{index}", cache=cache)
        outputs.append(_decoded(out, tmp_path))
    first, second = outputs
    assert len(first) == len(second)
    # AAC frames (1024 samples, overlapping windows) blur a boundary by at most two frames.
    margin = 2 * 1024
    before = int(SCENE_S * RATE) - margin
    assert np.array_equal(first[:before], second[:before])
    assert not np.array_equal(
        first[before : int(2 * SCENE_S * RATE)], second[before : int(2 * SCENE_S * RATE)]
    )
