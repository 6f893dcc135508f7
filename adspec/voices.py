"""The voice catalog: every voice a spec may name, which engine speaks it and which scripts it can read.

Pure data, like `adspec.catalog` for the diffusion models: the validator (`templates/spec.py`) checks voice
names and speeds against it, and the speech library (`render/speech/registry.py`) resolves each entry to a
loadable voice (the bundled espeak-ng data, or a Piper `.onnx` in the voices directory). One table: a voice
is added here and nowhere else.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal

from adspec.limits import DEFAULT_MAX_LENGTH, MAX_SCENE_SECONDS, MIN_SCENE_SECONDS
from adspec.vocabulary import MERGE_FIELD

SpeechEngine = Literal["espeak", "piper"]

# Scripts are the first word of a letter's Unicode name (unicodedata.name: "LATIN SMALL LETTER E WITH
# ACUTE" -> LATIN; "CJK UNIFIED IDEOGRAPH-4E2D" -> CJK). A voice reads the letters of its scripts only.
LATIN = ("LATIN",)


@dataclass(frozen=True)
class VoiceEntry:
    engine: SpeechEngine
    language: str  # BCP 47, for captions (WebVTT has no language field; the outputs name it)
    scripts: tuple[str, ...]
    # espeak-ng's voice name (espeak_SetVoiceByName); Piper voices name their own espeak voice in .onnx.json.
    espeak_voice: str = ""


# Built-in voices: espeak-ng through the espeakng-loader wheel (library + data; GPL-3.0, docs/architecture.md "render/speech").
# Piper voices: the names of the upstream voice files (rhasspy/piper-voices, `<lang>_<REGION>-<name>-<q>`);
# their files are never downloaded at run time: an operator puts `<name>.onnx` and `<name>.onnx.json` in
# REELSMITH_VOICES_DIR.
VOICES: Mapping[str, VoiceEntry] = MappingProxyType(
    {
        "espeak-en": VoiceEntry("espeak", "en", LATIN, "en-us"),
        "espeak-en-gb": VoiceEntry("espeak", "en-GB", LATIN, "en"),
        "espeak-es": VoiceEntry("espeak", "es", LATIN, "es"),
        "espeak-de": VoiceEntry("espeak", "de", LATIN, "de"),
        "espeak-fr": VoiceEntry("espeak", "fr", LATIN, "fr"),
        "espeak-it": VoiceEntry("espeak", "it", LATIN, "it"),
        "espeak-pt": VoiceEntry("espeak", "pt", LATIN, "pt"),
        "espeak-nl": VoiceEntry("espeak", "nl", LATIN, "nl"),
        "espeak-pl": VoiceEntry("espeak", "pl", LATIN, "pl"),
        "espeak-ru": VoiceEntry("espeak", "ru", ("CYRILLIC",), "ru"),
        "espeak-el": VoiceEntry("espeak", "el", ("GREEK",), "el"),
        "espeak-hi": VoiceEntry("espeak", "hi", ("DEVANAGARI",), "hi"),
        "en_US-lessac-medium": VoiceEntry("piper", "en-US", LATIN),
        "en_GB-alan-medium": VoiceEntry("piper", "en-GB", LATIN),
        "es_ES-davefx-medium": VoiceEntry("piper", "es-ES", LATIN),
        "de_DE-thorsten-medium": VoiceEntry("piper", "de-DE", LATIN),
        "fr_FR-siwis-medium": VoiceEntry("piper", "fr-FR", LATIN),
    }
)
VOICE_NAMES: tuple[str, ...] = tuple(VOICES)
DEFAULT_VOICE = "espeak-en"

# Speaking rate as a multiple of the voice's own: 0.5-2.0, the range espeak-ng's rate keeps intelligible
# (80-450 words a minute around its default 175, speak_lib.h espeakRATE) and Piper's length_scale allows.
SPEED_MIN = 0.5
SPEED_MAX = 2.0
# A scene's line: 500 characters is about 30 s of speech at 175 words a minute, longer than any scene
# (adspec.limits' scene duration cap).
VOICE_TEXT_MAX = 500


def letter_script(char: str) -> str:
    """The script of one letter: the first word of its Unicode name (LATIN, CYRILLIC, CJK, ...)."""
    try:
        return unicodedata.name(char).split(" ", 1)[0]
    except ValueError:  # an unnamed code point (unassigned, private use)
        return "UNKNOWN"


def text_unsayable(text: str, *, voice: str) -> str | None:
    """Why `voice` cannot say `text` (letters outside its scripts, or no letter or digit at all), or None.

    Pure, so the validator can refuse a template's line and a recipient's value (400 naming the field)
    before anything is synthesized, with the same rule the speech library applies. Refusing up front
    beats espeak-ng's fallback, which spells a foreign letter's name in the voice's language ("Chinese
    letter ...") or says nothing at all."""
    scripts = VOICES[voice].scripts
    # In the order they appear, each once.
    foreign = list(
        dict.fromkeys(
            ch for ch in text if unicodedata.category(ch).startswith("L") and letter_script(ch) not in scripts
        )
    )
    if foreign:
        readable = ", ".join(s.title() for s in scripts)
        return f"voice {voice!r} cannot say {''.join(foreign[:10])!r}: it reads {readable} script only"
    if not any(unicodedata.category(ch)[0] in "LN" for ch in text):
        return f"voice {voice!r} has nothing to say in {text!r}: no letters or digits"
    return None


# The slowest a voice reads at speed 1: 10 characters a second. espeak-ng's default 175 words a minute is
# about 16 (5.5 characters a word with its space); Piper's voices are near it. The margin covers long
# names and numbers read out.
MIN_CHARS_PER_SECOND = 10.0
# A breath after the line before a `duration: "voice"` scene cuts (a design choice).
VOICE_TAIL_SECONDS = 0.3


def scene_seconds_max(scene: Mapping[str, Any], variables: Mapping[str, Mapping[str, Any]]) -> float:
    """The longest a valid scene can last: its `duration`, or for `duration: "voice"` the time its line
    takes at the slowest reading with every merge field at its declared max_length (pricing reserves this
    before the speech exists)."""
    duration = scene.get("duration")
    if duration != "voice":
        return float(duration or 0.0)
    voice = scene.get("voice") or {}
    text = str(voice.get("text", ""))
    chars = len(MERGE_FIELD.sub("", text)) + sum(
        int((variables.get(name) or {}).get("max_length", DEFAULT_MAX_LENGTH))
        for name in MERGE_FIELD.findall(text)
    )
    speaking = chars / (MIN_CHARS_PER_SECOND * float(voice.get("speed", 1.0))) + VOICE_TAIL_SECONDS
    floor = float(scene.get("min_duration", MIN_SCENE_SECONDS))
    return min(MAX_SCENE_SECONDS, max(floor, speaking))
