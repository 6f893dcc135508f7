"""The built-in offline engine: espeak-ng's library, driven through ctypes.

The `espeakng-loader` wheel ships libespeak-ng and its data (no system package needed); the `espeakng`
binding on PyPI only runs the `espeak-ng` command and reports no word events, so it is not used. The
library is initialised once per process in synchronous retrieval mode: `espeak_Synth` returns after the
callback has received every sample and event, so one call's audio is the callback's collected chunks, and
`espeakEVENT_WORD` events carry where each word starts (`sample`, in the voice's samples since the
start of the call).

Each call runs in a fresh child process (`python -m render.speech.espeak`, about 50 ms). The library
keeps state between calls that neither espeak_Terminate nor espeak_ng_SetRandSeed resets (the wave
generator's flutter and phase counters are file statics), so the second call of a process says the same
text with different samples and even a different length; a fresh process says it identically every time
(measured: the same SHA-1 in three processes, three different ones in one). Determinism is what lets a
retried render reproduce its audio, and the child also keeps a crash in the C library out of the worker.

espeak-ng is GPL-3.0-or-later (docs/architecture.md, "render/speech").
"""

from __future__ import annotations

import array
import base64
import ctypes
import json
import os
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import espeakng_loader

from render.speech.scripts import text_check_sayable
from render.speech.types import Speech, SpeechError, UnsayableTextError, WordTiming

# speak_lib.h (espeak-ng 1.52): espeak_AUDIO_OUTPUT, espeak_EVENT_TYPE, espeak_PARAMETER, flags.
AUDIO_OUTPUT_SYNCHRONOUS = 2
ESPEAK_INITIALIZE_DONT_EXIT = 0x8000
EVENT_LIST_TERMINATED = 0
EVENT_WORD = 1
POS_CHARACTER = 1
CHARS_UTF8 = 1
PARAM_RATE = 1
EE_OK = 0
RAND_SEED = 1
# espeakRATE's default and range in words a minute (speak_lib.h: "default 175", 80-450).
DEFAULT_RATE_WPM = 175
RATE_MIN_WPM, RATE_MAX_WPM = 80, 450
# Audio below this RMS (0-1 scale, about -60 dBFS) is silence: espeak-ng said nothing.
SILENCE_RMS = 0.001
# A child that takes longer than this is stuck: a scene line (adspec.voices.VOICE_TEXT_MAX) takes well under
# a second to synthesize.
CHILD_TIMEOUT_S = 60
# render/speech/espeak.py -> parents[2] is the repository root, put on the child's path.
REPO_ROOT = Path(__file__).resolve().parents[2]
# A word's end is its last sample above this amplitude (about -50 dBFS) before the next word starts.
SILENCE_PEAK = 100


class _EventId(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]


class _Event(ctypes.Structure):
    # espeak_EVENT, field for field.
    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", _EventId),
    ]


_CALLBACK = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event)
)


@dataclass
class _Collected:
    pcm: array.array[int]
    # (sample offset, 1-based character position, length in characters) per word event
    words: list[tuple[int, int, int]]


class _Library:
    """libespeak-ng, initialised once; `synth` runs one call under the lock."""

    def __init__(self) -> None:
        self.lib = ctypes.CDLL(espeakng_loader.get_library_path())
        self.lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        self.lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        self.lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        self.lib.espeak_ng_SetRandSeed.argtypes = [ctypes.c_long]
        self.lib.espeak_Synth.argtypes = [
            ctypes.c_void_p,
            ctypes.c_size_t,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.c_void_p,
            ctypes.c_void_p,
        ]
        data = espeakng_loader.get_data_path().encode()
        rate = self.lib.espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, data, ESPEAK_INITIALIZE_DONT_EXIT)
        if rate <= 0:
            raise SpeechError(f"espeak-ng failed to initialise with data at {data.decode()}")
        self.sample_rate = int(rate)
        self._current: _Collected | None = None
        # Kept on self: ctypes callbacks must outlive every call that may invoke them.
        self._callback = _CALLBACK(self._on_synth)
        self.lib.espeak_SetSynthCallback(self._callback)
        self.lock = threading.Lock()

    def _on_synth(
        self, wav: ctypes._Pointer[ctypes.c_short], count: int, events: ctypes._Pointer[_Event]
    ) -> int:
        collected = self._current
        if collected is None:
            return 1  # nobody is listening: abort
        if count > 0 and wav:
            collected.pcm.frombytes(ctypes.string_at(wav, count * 2))
        i = 0
        while events[i].type != EVENT_LIST_TERMINATED:
            event = events[i]
            if event.type == EVENT_WORD:
                collected.words.append((event.sample, event.text_position, event.length))
            i += 1
        return 0

    def synth(self, text: str, *, espeak_voice: str, rate_wpm: int) -> _Collected:
        with self.lock:
            if self.lib.espeak_SetVoiceByName(espeak_voice.encode()) != EE_OK:
                raise SpeechError(f"espeak-ng has no voice {espeak_voice!r}")
            self.lib.espeak_SetParameter(PARAM_RATE, rate_wpm, 0)
            # espeak-ng draws random numbers while it speaks (pitch flutter, noise); one seed per call makes
            # the same text the same samples (espeak-ng added espeak_ng_SetRandSeed for its own tests).
            self.lib.espeak_ng_SetRandSeed(RAND_SEED)
            self._current = _Collected(pcm=array.array("h"), words=[])
            try:
                encoded = text.encode() + b"\0"
                status = self.lib.espeak_Synth(
                    encoded, len(encoded), 0, POS_CHARACTER, 0, CHARS_UTF8, None, None
                )
                if status != EE_OK:
                    raise SpeechError(f"espeak-ng failed to synthesize (error {status})")
                return self._current
            finally:
                self._current = None


_library: _Library | None = None
_library_lock = threading.Lock()


def _get_library() -> _Library:
    global _library
    with _library_lock:
        if _library is None:
            _library = _Library()
        return _library


def _word_end(pcm: array.array[int], start: int, stop: int) -> int:
    """The sample after the last audible one in [start, stop): a word's end without the pause after it."""
    end = stop
    while end > start and abs(pcm[end - 1]) < SILENCE_PEAK:
        end -= 1
    return end if end > start else stop


@dataclass(frozen=True)
class EspeakSynthesizer:
    """One espeak-ng voice (`espeak_voice`, e.g. "en-us"); `synthesize`'s `voice` is its catalog name."""

    espeak_voice: str

    def synthesize(self, text: str, *, voice: str, speed: float) -> Speech:
        text_check_sayable(text, voice=voice)
        rate = max(RATE_MIN_WPM, min(RATE_MAX_WPM, round(DEFAULT_RATE_WPM * speed)))
        rate_hz, collected = _synth_in_child(text, espeak_voice=self.espeak_voice, rate_wpm=rate)
        pcm = collected.pcm
        speech_pcm = pcm.tobytes()
        rms = Speech(pcm=speech_pcm, sample_rate=rate_hz, words=()).rms()
        if not collected.words or rms < SILENCE_RMS:
            raise UnsayableTextError(f"voice {voice!r} said nothing for {text!r}")
        words: list[WordTiming] = []
        events = sorted(collected.words)
        for i, (sample, position, length) in enumerate(events):
            stop = events[i + 1][0] if i + 1 < len(events) else len(pcm)
            start = min(max(sample, 0), len(pcm))
            end = _word_end(pcm, start, max(start, min(stop, len(pcm))))
            # text_position is 1-based, in characters of the UTF-8 text; `length` leaves out punctuation, so
            # the word runs to the next word's start and keeps its comma or full stop for the captions.
            upto = events[i + 1][1] - 1 if i + 1 < len(events) else len(text)
            word = text[position - 1 : max(upto, position - 1 + length)].strip() or text.strip()
            words.append(WordTiming(word=word, start_s=start / rate_hz, end_s=end / rate_hz))
        return Speech(pcm=speech_pcm, sample_rate=rate_hz, words=tuple(words))


def _synth_in_child(text: str, *, espeak_voice: str, rate_wpm: int) -> tuple[int, _Collected]:
    """Run `_child_main` in a fresh interpreter: (sample rate, what its callback collected)."""
    request = json.dumps({"text": text, "voice": espeak_voice, "rate": rate_wpm})
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
    }
    done = subprocess.run(
        [sys.executable, "-m", "render.speech.espeak"],
        input=request.encode(),
        capture_output=True,
        timeout=CHILD_TIMEOUT_S,
        env=env,
        check=False,
    )
    if done.returncode != 0:
        reason = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
        raise SpeechError(f"espeak-ng failed (exit {done.returncode}): {reason[0]}")
    answer = json.loads(done.stdout)
    pcm = array.array("h")
    pcm.frombytes(base64.b64decode(answer["pcm"]))
    words = [(int(a), int(b), int(c)) for a, b, c in answer["words"]]
    return int(answer["sample_rate"]), _Collected(pcm=pcm, words=words)


def _child_main() -> None:
    request = json.loads(sys.stdin.buffer.read())
    library = _get_library()
    collected = library.synth(request["text"], espeak_voice=request["voice"], rate_wpm=int(request["rate"]))
    answer = {
        "sample_rate": library.sample_rate,
        "words": collected.words,
        "pcm": base64.b64encode(collected.pcm.tobytes()).decode(),
    }
    sys.stdout.write(json.dumps(answer))


if __name__ == "__main__":
    _child_main()
