"""What the speech library hands back, and the errors it raises.

Plain dataclasses (no numpy): the compositor reads a WAV file, the captions read the word timings.
"""

from __future__ import annotations

import array
import math
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


class SpeechError(Exception):
    """Speech could not be made (a voice missing, an engine failing)."""


class UnknownVoiceError(SpeechError):
    """A voice name that the catalog does not list."""


class VoiceNotInstalledError(SpeechError):
    """A catalogued voice whose files are not where the registry looks; the message names the directory."""


class UnsayableTextError(SpeechError):
    """Text the voice cannot say: letters outside its scripts, or nothing that makes a sound.

    The API answers 400 naming the field (a template's `voice.text`, or the variable that made it)."""


@dataclass(frozen=True)
class WordTiming:
    word: str
    start_s: float
    end_s: float


@dataclass(frozen=True)
class Speech:
    """Mono 16-bit PCM (native byte order, as `array('h')` writes it), its rate, and when each word is said."""

    pcm: bytes
    sample_rate: int
    words: tuple[WordTiming, ...]

    @property
    def num_samples(self) -> int:
        return len(self.pcm) // 2

    @property
    def duration_s(self) -> float:
        return self.num_samples / self.sample_rate

    def samples(self) -> array.array[int]:
        out = array.array("h")
        out.frombytes(self.pcm)
        return out

    def rms(self) -> float:
        """Root mean square of the samples on a 0-1 scale (0 for silence)."""
        samples = self.samples()
        if not samples:
            return 0.0
        return math.sqrt(sum(s * s for s in samples) / len(samples)) / 32768.0

    def write_wav(self, path: Path) -> Path:
        with wave.open(str(path), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(self.sample_rate)
            out.writeframes(self.pcm)
        return path


class Synthesizer(Protocol):
    """One voice, loaded: text in, speech out. Implementations keep whatever they loaded between calls."""

    def synthesize(self, text: str, *, voice: str, speed: float) -> Speech: ...
