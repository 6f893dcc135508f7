"""Voice names to loaded synthesizers: the catalog (adspec.voices) resolved against this machine.

Settings are read from the environment once per process, like the engine's (render/engine/config.py):

| variable | default | meaning |
| --- | --- | --- |
| REELSMITH_VOICES_DIR | <repo root>/var/voices | where Piper voices live (`<dir>/<name>.onnx` + `.onnx.json`) |
| REELSMITH_DEFAULT_VOICE | espeak-en | the voice of a `voice` block that names none |
"""

from __future__ import annotations

import functools
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from adspec.voices import DEFAULT_VOICE, VOICES, VoiceEntry
from render.speech.espeak import EspeakSynthesizer
from render.speech.piper import PiperSynthesizer, piper_paths
from render.speech.types import Speech, Synthesizer, UnknownVoiceError

# render/speech/registry.py -> parents[2] is the repository root.
REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class SpeechSettings:
    voices_dir: Path
    default_voice: str


@functools.cache
def speech_settings() -> SpeechSettings:
    default = os.environ.get("REELSMITH_DEFAULT_VOICE", "").strip() or DEFAULT_VOICE
    if default not in VOICES:
        raise UnknownVoiceError(
            f"REELSMITH_DEFAULT_VOICE={default!r} is not a voice; known: {', '.join(VOICES)}"
        )
    directory = os.environ.get("REELSMITH_VOICES_DIR", "").strip()
    return SpeechSettings(
        voices_dir=Path(directory) if directory else REPO_ROOT / "var" / "voices", default_voice=default
    )


def voice_entry(name: str) -> VoiceEntry:
    entry = VOICES.get(name)
    if entry is None:
        raise UnknownVoiceError(f"unknown voice {name!r}; known: {', '.join(VOICES)}")
    return entry


_synthesizers: dict[tuple[str, Path], Synthesizer] = {}
_lock = threading.Lock()


def synthesizer_for(name: str, *, settings: SpeechSettings | None = None) -> Synthesizer:
    """The loaded synthesizer of voice `name`, one per voice per process. Raises UnknownVoiceError, or
    VoiceNotInstalledError naming the directory for a Piper voice whose files are not there."""
    settings = settings or speech_settings()
    entry = voice_entry(name)
    key = (name, settings.voices_dir)
    with _lock:
        found = _synthesizers.get(key)
        if found is not None:
            return found
        synthesizer: Synthesizer
        if entry.engine == "espeak":
            synthesizer = EspeakSynthesizer(espeak_voice=entry.espeak_voice)
        else:
            model, config = piper_paths(settings.voices_dir, name)
            synthesizer = PiperSynthesizer(model_path=model, config_path=config)
        _synthesizers[key] = synthesizer
        return synthesizer


def speech_synthesize(
    text: str, *, voice: str | None = None, speed: float = 1.0, settings: SpeechSettings | None = None
) -> Speech:
    """Say `text` with `voice` (the default voice when None) at `speed` times the voice's rate."""
    settings = settings or speech_settings()
    name = voice or settings.default_voice
    return synthesizer_for(name, settings=settings).synthesize(text, voice=name, speed=speed)
