"""Speaking a render's lines: each shown scene's `voice.text`, merged with the recipient's values, said by
its voice (render/speech) into a WAV in the render's work folder. Only the personal audio is made per
recipient; the shared scenes' pictures stay shared segments (render/compose/segments.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from render.compose.plan import SpokenWord
from render.planning import SceneSpeech, scenes_shown
from render.speech import speech_synthesize
from templates.merge import merge


def render_speech_make(
    *, spec: dict[str, Any], values: dict[str, str], workdir: Path
) -> list[SceneSpeech | None]:
    """Per spec scene, its line as said for these values (None: no voice, not shown, or nothing to say).
    Raises render.speech.SpeechError (UnsayableTextError, VoiceNotInstalledError), which fails the
    attempt with its message."""
    shown = set(scenes_shown(spec, values))
    lines: list[SceneSpeech | None] = []
    for index, scene in enumerate(spec["scenes"]):
        voice = scene.get("voice")
        text = " ".join(merge(voice["text"], values).split()) if voice and index in shown else ""
        if not voice or not text:
            lines.append(None)  # a line made only of empty optional values says nothing
            continue
        speech = speech_synthesize(text, voice=voice.get("voice"), speed=float(voice.get("speed", 1.0)))
        path = speech.write_wav(workdir / f"voice-{index}.wav")
        words = tuple(SpokenWord(w.word, w.start_s, w.end_s) for w in speech.words)
        lines.append(SceneSpeech(path=path, duration=speech.duration_s, words=words, text=text))
    return lines
