"""What a piece of text from outside may contain, checked once at the edge (docs/reliability.md R17).

- NUL (U+0000): PostgreSQL refuses it in `text` and `jsonb` (a DataError, a 500 after the row was half
  written), SQLite stores it. Refused everywhere, so both databases behave alike.
- Lone surrogates (U+D800-U+DFFF on their own): JSON's `"\\ud800"` escape makes one, and no UTF-8 encoder
  will write it (the database, a response, a request hash all raise). Refused everywhere.
- Names (brands, templates, campaigns, integrations, workspaces, API keys) also refuse the other control
  characters and the bidirectional embedding, override and isolate controls (U+202A-U+202E,
  U+2066-U+2069): in a name they only ever serve to make it read differently from what it is
  ("Trojan Source", CVE-2021-42574).
"""

from __future__ import annotations

import re

from core.errors import ApplicationError

NUL = "Must not contain NUL characters."
SURROGATE = "Must not contain unpaired surrogate characters (invalid Unicode)."
NAME_CONTROL = "Must not contain control characters."
NAME_BIDI = "Must not contain bidirectional override or isolate characters (U+202A-U+202E, U+2066-U+2069)."

SURROGATE_RE = re.compile("[\ud800-\udfff]")
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")
# C0 and C1 controls and DEL. A name is one line: no tab or newline either.
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f]")


def text_problem(value: str) -> str | None:
    """Why this text cannot be stored as it is, or None: NUL or an unpaired surrogate."""
    if "\x00" in value:
        return NUL
    if SURROGATE_RE.search(value):
        return SURROGATE
    return None


def name_problem(value: str) -> str | None:
    """Why this cannot be a name, or None: `text_problem`, other control characters, bidi controls."""
    problem = text_problem(value)
    if problem is not None:
        return problem
    if _CONTROLS.search(value):
        return NAME_CONTROL
    if _BIDI.search(value):
        return NAME_BIDI
    return None


def name_check(value: str, *, field: str = "name") -> None:
    """Raise 400 naming `field` unless `value` can be a name (`name_problem`)."""
    problem = name_problem(value)
    if problem is not None:
        raise ApplicationError(problem, fields={field: problem})


# Cells starting with these are formulas to Excel, LibreOffice and Google Sheets (OWASP "CSV Injection").
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> str:
    """A value as a cell of a CSV we hand out (results.csv, the audit export): a formula is shown as text,
    never evaluated."""
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_PREFIXES):
        return "'" + text
    return text
