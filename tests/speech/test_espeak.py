"""The built-in espeak-ng engine: names in several scripts are said, timed and refused when unsayable."""

from __future__ import annotations

import pytest

from render.speech import UnknownVoiceError, UnsayableTextError, speech_synthesize
from render.speech.registry import SpeechSettings, speech_settings

# Speech at a conversational level is around -20 dBFS (0.1 RMS); silence is 0. 0.02 (-34 dBFS) is far from both.
SPEECH_RMS = 0.02

NAMES = [
    ("espeak-en", "Hi Jennifer, welcome to Acme."),
    ("espeak-es", "Hola José Núñez, bienvenido."),
    ("espeak-de", "Hallo Jürgen Müller, willkommen."),
    ("espeak-fr", "Bonjour François Lefèvre, bienvenue."),
    ("espeak-ru", "Привет, Наташа."),
    ("espeak-el", "Γεια σου, Νίκο."),  # noqa: RUF001 - Greek on purpose
]


@pytest.mark.parametrize(("voice", "text"), NAMES)
def test_each_language_says_a_name_with_word_timings(voice: str, text: str) -> None:
    speech = speech_synthesize(text, voice=voice)
    assert speech.sample_rate == 22050
    assert speech.rms() > SPEECH_RMS
    words = [w.word.strip(",.") for w in speech.words]
    assert words == [w.strip(",.") for w in text.split()]
    previous_end = 0.0
    for timing in speech.words:
        assert 0.0 <= timing.start_s < timing.end_s <= speech.duration_s + 1e-9
        assert timing.start_s >= previous_end - 1e-9
        previous_end = timing.end_s


def test_the_name_is_audible_where_its_word_is() -> None:
    speech = speech_synthesize("Hi Jennifer", voice="espeak-en")
    name = speech.words[1]
    samples = speech.samples()
    start, end = int(name.start_s * speech.sample_rate), int(name.end_s * speech.sample_rate)
    window = samples[start:end]
    rms = (sum(s * s for s in window) / len(window)) ** 0.5 / 32768
    assert rms > SPEECH_RMS


def test_same_text_same_audio() -> None:
    first = speech_synthesize("Hi Zoë", voice="espeak-fr")
    second = speech_synthesize("Hi Zoë", voice="espeak-fr")
    assert first.pcm == second.pcm
    assert first.words == second.words


def test_speed_changes_the_length() -> None:
    normal = speech_synthesize("Welcome to the future of video", voice="espeak-en", speed=1.0)
    slow = speech_synthesize("Welcome to the future of video", voice="espeak-en", speed=0.5)
    assert slow.duration_s > normal.duration_s * 1.5


@pytest.mark.parametrize("text", ["李明", "Hi 李明", "...", "", "   "])
def test_unsayable_text_is_an_error_not_silence(text: str) -> None:
    with pytest.raises(UnsayableTextError, match="espeak-en"):
        speech_synthesize(text, voice="espeak-en")


def test_a_voice_reads_its_own_script_only() -> None:
    with pytest.raises(UnsayableTextError, match="Cyrillic"):
        speech_synthesize("Hi Jennifer", voice="espeak-ru")


def test_unknown_voice() -> None:
    with pytest.raises(UnknownVoiceError, match="no-such-voice"):
        speech_synthesize("Hi", voice="no-such-voice")


def test_default_voice_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    speech_settings.cache_clear()
    monkeypatch.setenv("REELSMITH_DEFAULT_VOICE", "espeak-de")
    try:
        assert speech_settings().default_voice == "espeak-de"
        monkeypatch.setenv("REELSMITH_DEFAULT_VOICE", "nope")
        speech_settings.cache_clear()
        with pytest.raises(UnknownVoiceError, match="REELSMITH_DEFAULT_VOICE"):
            speech_settings()
    finally:
        speech_settings.cache_clear()


def test_settings_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REELSMITH_DEFAULT_VOICE", raising=False)
    monkeypatch.delenv("REELSMITH_VOICES_DIR", raising=False)
    speech_settings.cache_clear()
    try:
        settings = speech_settings()
    finally:
        speech_settings.cache_clear()
    assert isinstance(settings, SpeechSettings)
    assert settings.default_voice == "espeak-en"
    assert settings.voices_dir.name == "voices"
