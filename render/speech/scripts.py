"""Which letters a voice can read: the catalog's rule (adspec.voices.text_unsayable), raised as an error."""

from __future__ import annotations

from adspec.voices import text_unsayable
from render.speech.types import UnsayableTextError


def text_check_sayable(text: str, *, voice: str) -> None:
    """Raise UnsayableTextError unless `voice` (a catalogued name) can say `text`."""
    reason = text_unsayable(text, voice=voice)
    if reason is not None:
        raise UnsayableTextError(reason)
