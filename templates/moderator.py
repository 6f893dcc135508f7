"""Moderation of the words a render puts on screen, says or asks a model to draw: the `Moderator` interface
and its default, offline implementation, `WordListModerator`. Plain Python: no Django, no app (an
import-linter contract), so an operator's moderator can be written and tested without the product.

`WordListModerator` matches whole words (and phrases of whole words) after normalising both the text and
the lists the same way: Unicode NFKC and case folding, accents taken off Latin letters, zero-width and other
invisible format characters removed, and the common look-alike characters inside a word read as letters
(`a$$`, `sh1t`, `b!tch`). Words are runs of letters and digits; every other visible character is a word of
its own, so `s&m` or `f*ck` match as written and nothing else. "Scunthorpe" is one word and never trips
a shorter one inside it. A plural in -s or -es also matches a one-word entry of four letters or more. Entries written in a script that does not separate words with spaces (Han, kana,
Thai, Lao, Khmer, Myanmar) are matched inside words instead.

The built-in lists are glin-profanity's (MIT; https://github.com/GLINCKER/glin-profanity), one per
language, read from the package's data files. A workspace picks the languages whose lists apply (their
words collide across languages: Turkish lists `am` and `it`, Swedish `fan`), adds its own block list and
its own allow list. An allowed word or phrase covers every built-in hit inside an occurrence of it
("sex education" allowed: `sex` there passes, `sex` elsewhere does not); the workspace's own block list is
never covered.
"""

from __future__ import annotations

import functools
import json
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Literal, Protocol

TextKind = Literal["text", "voice", "prompt", "value"]

# The built-in lists a workspace may turn on: ISO 639-1 code -> glin-profanity's file (data/dictionaries/).
BUILTIN_LANGUAGES: dict[str, str] = {
    "ar": "arabic",
    "cs": "czech",
    "da": "danish",
    "de": "german",
    "en": "english",
    "eo": "esperanto",
    "es": "spanish",
    "fa": "persian",
    "fi": "finnish",
    "fr": "french",
    "hi": "hindi",
    "hu": "hungarian",
    "it": "italian",
    "ja": "japanese",
    "ko": "korean",
    "nl": "dutch",
    "no": "norwegian",
    "pl": "polish",
    "pt": "portuguese",
    "ru": "russian",
    "sv": "swedish",
    "th": "thai",
    "tr": "turkish",
    "zh": "chinese",
}
DEFAULT_LANGUAGES = ("en",)
WORKSPACE_BLOCK_RULE = "blocked_word: workspace block list"
BUILTIN_RULE = "blocked_word: built-in list ({language})"


@dataclass(frozen=True, slots=True)
class ModerationText:
    """One text to check. `path` names where it is (`spec.scenes[1].layers[0].text`, `variables.first_name`);
    `kind` says what becomes of it: drawn (`text`), said (`voice`), drawn by a model (`prompt`), or a
    recipient's value that goes into some of those (`value`)."""

    path: str
    text: str
    kind: TextKind


@dataclass(frozen=True, slots=True)
class ModerationPolicy:
    """A workspace's choices: the built-in languages that apply, its own block list and allow list."""

    languages: tuple[str, ...] = DEFAULT_LANGUAGES
    block: tuple[str, ...] = ()
    allow: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Flag:
    """Why a text is refused. `rule` is shown to people (`blocked_word: built-in list (en)`) and must never
    quote a list. `term` identifies what matched (normalised), so a merged text's flag can be traced to the
    recipient's value that brought it; it is never shown. A classifier may leave it empty."""

    rule: str
    term: str = ""


class Moderator(Protocol):
    """Checks texts; returns one list of flags per text, in order (empty: the text passes). Plugged in by
    the dotted path in REELSMITH_MODERATOR (a class or factory called with no arguments); it should honour
    the policy's lists, e.g. by running `WordListModerator` before its own classifier."""

    def check(self, texts: Sequence[ModerationText], policy: ModerationPolicy) -> list[list[Flag]]: ...


# --- Normalisation -------------------------------------------------------------------------------------------

# Look-alikes read as letters inside a word that has a letter ("sh1t"; "2024" and "50%" stay numbers).
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"})
_RUN = re.compile(r"[\w$@!]+")
# A word: letters and digits; any other visible character is a word of its own.
_TOKEN = re.compile(r"[^\W_]+|[^\w\s]")
# Scripts written without spaces between words: their entries match inside words.
_UNSPACED = ("CJK UNIFIED", "CJK COMPATIBILITY", "HIRAGANA", "KATAKANA", "THAI", "LAO", "KHMER", "MYANMAR")


def _unaccented(text: str) -> str:
    """Combining marks taken off Latin letters only (é -> e); other scripts keep theirs (a Devanagari vowel
    sign or a Thai tone mark is part of the word)."""
    out: list[str] = []
    for ch in unicodedata.normalize("NFD", text):
        if unicodedata.category(ch) == "Mn" and out and "a" <= out[-1] <= "z":
            continue
        out.append(ch)
    return unicodedata.normalize("NFC", "".join(out))


def _deleet(match: re.Match[str]) -> str:
    run = match.group(0)
    if not any(ch.isalpha() for ch in run):
        return run
    # `!` inside a word is an `i` ("b!tch"); at its end it is an exclamation ("Hi Ana!").
    head, tail = run.rstrip("!"), run[len(run.rstrip("!")) :]
    return head.replace("!", "i").translate(_LEET) + tail


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold()
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")  # zero-width, soft hyphen, ...
    text = unicodedata.normalize("NFKC", _unaccented(text))
    return _RUN.sub(_deleet, text)


@dataclass(frozen=True, slots=True)
class _Words:
    """A normalised text as words, each with its character span in the normalised text."""

    words: tuple[str, ...]
    spans: tuple[tuple[int, int], ...]


def _words(text: str) -> _Words:
    found = list(_TOKEN.finditer(normalise(text)))
    return _Words(tuple(m.group(0) for m in found), tuple(m.span() for m in found))


def _plural_stems(word: str) -> tuple[str, ...]:
    """A word of the lists in its plural ("bastards", "bitches"): the lists mostly hold the singular. Only
    stems of four letters or more, so short entries do not catch other words ("bass" is no plural of
    "bas")."""
    if not word.endswith("s") or not word.isascii():
        return ()
    return tuple(stem for stem in (word[:-1], word[:-2] if word.endswith("es") else "") if len(stem) >= 4)


def _unspaced(word: str) -> bool:
    return any(unicodedata.name(ch, "").startswith(_UNSPACED) for ch in word)


# --- Lists ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WordList:
    """Entries compiled for matching: phrases of whole words, by first word; and unspaced-script entries."""

    phrases: dict[str, tuple[tuple[str, ...], ...]]
    inside: tuple[str, ...]

    @classmethod
    def of(cls, entries: Iterable[str]) -> WordList:
        phrases: dict[str, set[tuple[str, ...]]] = {}
        inside: set[str] = set()
        for entry in entries:
            words = _words(entry).words
            if not words:
                continue
            if len(words) == 1 and _unspaced(words[0]):
                inside.add(words[0])
            else:
                phrases.setdefault(words[0], set()).add(words)
        return cls({k: tuple(sorted(v)) for k, v in phrases.items()}, tuple(sorted(inside)))

    def hits(self, text: _Words) -> list[tuple[str, tuple[int, int]]]:
        """(what matched, its character span) for every occurrence in `text`."""
        found: list[tuple[str, tuple[int, int]]] = []
        words = text.words
        for index, word in enumerate(words):
            before = len(found)
            for phrase in self.phrases.get(word, ()):
                if words[index : index + len(phrase)] == phrase:
                    span = (text.spans[index][0], text.spans[index + len(phrase) - 1][1])
                    found.append((" ".join(phrase), span))
            if len(found) == before:  # the word as listed wins over its singular
                stems = [stem for stem in _plural_stems(word) if (stem,) in self.phrases.get(stem, ())]
                found += [(stem, text.spans[index]) for stem in stems[:1]]
            if self.inside and _unspaced(word):
                start = text.spans[index][0]
                for entry in self.inside:
                    at = word.find(entry)
                    while at >= 0:
                        found.append((entry, (start + at, start + at + len(entry))))
                        at = word.find(entry, at + 1)
        return found


class BuiltinListMissingError(RuntimeError):
    """glin-profanity's data is not where this code reads it (a new major version moved it)."""


@functools.cache
def builtin_list(language: str) -> WordList:
    """The built-in list of one language (`BUILTIN_LANGUAGES`), read once per process."""
    folder = resources.files("glin_profanity.data") / "dictionaries"
    try:
        data = json.loads((folder / f"{BUILTIN_LANGUAGES[language]}.json").read_text(encoding="utf-8"))
        words = data["words"]
    except (OSError, KeyError, TypeError, ValueError) as exc:
        raise BuiltinListMissingError(f"glin-profanity's {language} list cannot be read: {exc}") from exc
    return WordList.of(word for word in words if isinstance(word, str))


def entry_words(entry: str) -> tuple[str, ...]:
    """An entry of a workspace list as it is matched (empty: nothing to match, e.g. only spaces)."""
    return _words(entry).words


# --- The default moderator -----------------------------------------------------------------------------------


class WordListModerator:
    """The built-in lists of the policy's languages, plus its block list, minus what its allow list covers."""

    def check(self, texts: Sequence[ModerationText], policy: ModerationPolicy) -> list[list[Flag]]:
        lists = [(BUILTIN_RULE.format(language=lang), builtin_list(lang)) for lang in policy.languages]
        block, allow = _workspace_lists(policy.block, policy.allow)
        return [self._check_one(_words(item.text), lists, block, allow) for item in texts]

    @staticmethod
    def _check_one(
        text: _Words, builtin: list[tuple[str, WordList]], block: WordList, allow: WordList
    ) -> list[Flag]:
        if not text.words:
            return []
        flags = [Flag(WORKSPACE_BLOCK_RULE, term) for term, _ in block.hits(text)]
        allowed = [span for _, span in allow.hits(text)]
        seen: set[str] = {flag.term for flag in flags}
        for rule, words in builtin:
            for term, (start, end) in words.hits(text):
                if term in seen or any(a <= start and end <= b for a, b in allowed):
                    continue
                seen.add(term)
                flags.append(Flag(rule, term))
        return flags


@functools.lru_cache(maxsize=64)
def _workspace_lists(block: tuple[str, ...], allow: tuple[str, ...]) -> tuple[WordList, WordList]:
    """A workspace's lists compiled, cached by content (an import checks thousands of rows with one policy)."""
    return WordList.of(block), WordList.of(allow)
