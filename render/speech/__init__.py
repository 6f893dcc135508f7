"""Speech: text in, PCM and word timings out (docs/architecture.md, "render/speech").

A plain library like render/engine and render/compose: no Django, no app, no engine, no compositor. One
interface (`Synthesizer.synthesize(text, *, voice, speed) -> Speech`), two engines (espeak-ng built in,
Piper voices from a local directory), one registry of voice names (adspec.voices).
"""

from render.speech.registry import SpeechSettings, speech_settings, speech_synthesize, synthesizer_for
from render.speech.types import (
    Speech,
    SpeechError,
    Synthesizer,
    UnknownVoiceError,
    UnsayableTextError,
    VoiceNotInstalledError,
    WordTiming,
)

__all__ = [
    "Speech",
    "SpeechError",
    "SpeechSettings",
    "Synthesizer",
    "UnknownVoiceError",
    "UnsayableTextError",
    "VoiceNotInstalledError",
    "WordTiming",
    "speech_settings",
    "speech_synthesize",
    "synthesizer_for",
]
