"""Piper voices (`piper-tts`, the `speech` extra): a VITS `.onnx` and its `.onnx.json` from a local directory.

Nothing is downloaded: `PiperVoice.load` gets the two paths the registry resolved, and `download_dir` points
into the voice's own directory (Piper fetches only Chinese g2p models there, which no catalogued voice
uses). Word timings come from Piper's phoneme alignments when the voice file has the alignment output
(`python -m piper.patch_voice_with_alignment`); otherwise they are estimated: each sentence's samples are
shared out evenly over its phonemes, so a word lasts in proportion to its phoneme count (good to a
phoneme or two, enough for captions; an aligned voice is exact).

Piper's VITS voices sample noise inside the ONNX graph (noise_scale, noise_w), so the same text is not
bit-identical across calls, unlike espeak-ng. Per-recipient audio is never cached, so nothing depends on it.
piper-tts 1.3+ is GPL-3.0-or-later (docs/architecture.md, "render/speech").
"""

from __future__ import annotations

import array
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from render.speech.scripts import text_check_sayable
from render.speech.types import Speech, SpeechError, UnsayableTextError, VoiceNotInstalledError, WordTiming

# Piper's sentence phonemes separate words with a space (piper/phonemize_espeak.py).
WORD_BREAK = " "
_MAX_INT16 = 32767


def piper_paths(directory: Path, name: str) -> tuple[Path, Path]:
    """The voice's model and config paths, or VoiceNotInstalledError naming the directory."""
    model = directory / f"{name}.onnx"
    config = directory / f"{name}.onnx.json"
    if not model.is_file() or not config.is_file():
        raise VoiceNotInstalledError(
            f"voice {name!r} is not installed: {directory} has no {model.name} and {config.name}. Put the "
            f"Piper voice files there, or point REELSMITH_VOICES_DIR at the directory that has them."
        )
    return model, config


def _phoneme_words(phonemes: Sequence[str], samples: Sequence[int], offset: int) -> list[tuple[int, int]]:
    """(start, end) sample of each space-separated run of phonemes; `samples[i]` is phoneme i's length."""
    spans: list[tuple[int, int]] = []
    position = offset
    start: int | None = None
    for phoneme, count in zip(phonemes, samples, strict=True):
        if phoneme == WORD_BREAK:
            if start is not None:
                spans.append((start, position))
                start = None
        elif start is None:
            start = position
        position += count
    if start is not None:
        spans.append((start, position))
    return spans


def _even_split(total: int, parts: int) -> list[int]:
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


def _label(text: str, spans: list[tuple[int, int]], total: int, rate: int) -> tuple[WordTiming, ...]:
    """Word timings: the text's words on the phoneme spans when they pair up one to one; else the text's
    words spread over the spoken span in proportion to their length (espeak's phonemes may merge words or
    split numbers, and then the pairing is unknown)."""
    words = text.split()
    if len(words) == len(spans):
        return tuple(WordTiming(w, s / rate, e / rate) for w, (s, e) in zip(words, spans, strict=True))
    begin, end = (spans[0][0], spans[-1][1]) if spans else (0, total)
    weights = [len(w) for w in words]
    out: list[WordTiming] = []
    position = float(begin)
    for word, weight in zip(words, weights, strict=True):
        length = (end - begin) * weight / sum(weights)
        out.append(WordTiming(word, position / rate, (position + length) / rate))
        position += length
    return tuple(out)


@dataclass
class PiperSynthesizer:
    """One Piper voice, loaded on first use and kept (an InferenceSession per voice per process)."""

    model_path: Path
    config_path: Path
    _voice: Any = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def _load(self) -> Any:
        with self._lock:
            if self._voice is None:
                try:
                    from piper import PiperVoice  # the `speech` extra: absent where no Piper voice is used
                except ImportError as exc:  # pragma: no cover - depends on the install
                    raise SpeechError("Piper voices need the piper-tts package (the `speech` extra)") from exc
                self._voice = PiperVoice.load(
                    self.model_path, config_path=self.config_path, download_dir=self.model_path.parent
                )
            return self._voice

    def synthesize(self, text: str, *, voice: str, speed: float) -> Speech:
        text_check_sayable(text, voice=voice)
        from piper import SynthesisConfig

        piper_voice = self._load()
        # length_scale is the duration multiplier: faster speech is a shorter one.
        config = SynthesisConfig(length_scale=piper_voice.config.length_scale / speed)
        pcm = array.array("h")
        spans: list[tuple[int, int]] = []
        rate = int(piper_voice.config.sample_rate)
        for chunk in piper_voice.synthesize(text, syn_config=config, include_alignments=True):
            offset = len(pcm)
            samples = chunk.audio_int16_array
            pcm.frombytes(samples.astype("<i2").tobytes())
            phonemes = list(chunk.phonemes)
            if chunk.phoneme_alignments:
                # BOS, the phonemes, EOS: the BOS's samples come before the first phoneme.
                lengths = [int(a.num_samples) for a in chunk.phoneme_alignments]
                spans += _phoneme_words(phonemes, lengths[1:-1], offset + lengths[0])
            else:
                # Estimated: BOS and EOS count as one phoneme each, like the ids Piper feeds the model.
                lengths = _even_split(len(samples), len(phonemes) + 2)
                spans += _phoneme_words(phonemes, lengths[1:-1], offset + lengths[0])
        if not pcm or max(abs(s) for s in pcm) == 0:
            raise UnsayableTextError(f"voice {voice!r} said nothing for {text!r}")
        return Speech(pcm=pcm.tobytes(), sample_rate=rate, words=_label(text, spans, len(pcm), rate))
