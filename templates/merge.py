"""A recipient's values for a template version: checked against its declarations, then merged in.

Values are substituted as plain text in one pass: a value is never re-expanded, so `{{company}}` typed by a
recipient stays those eleven characters.
"""

from __future__ import annotations

from typing import Any

from adspec.vocabulary import IMAGE_UPLOAD, IMAGE_URL, MERGE_FIELD
from adspec.voices import VOICES, text_unsayable
from core.errors import ApplicationError
from core.text import SURROGATE_RE
from templates.spec_checks import REQUIRED, FieldErrors

VARIABLES_INVALID = "The variables are invalid."
IMAGE_VALUE = (
    "Must be an http or https URL of a PNG or JPEG picture, or an uploaded picture's reference "
    "(`upload:<sha256>.png`, from POST /api/v1/images/)."
)


def _valid_text_value(value: str) -> bool:
    # Newlines and tabs are text; other control characters are not something a name or company contains.
    # Nor is an unpaired surrogate: no encoder writes one (the request hash, the database, an answer).
    if SURROGATE_RE.search(value):
        return False
    return not any(ord(ch) < 32 and ch not in "\n\t" for ch in value) and "\x7f" not in value


def _unsayable(value: str, voices: Any) -> str | None:
    """Why a voice that says this variable (its declaration's `voices`) cannot say `value`, or None. Only
    foreign letters count here: the line around the value may still have words to say."""
    for voice in voices:
        # " 1": something sayable, so a value of punctuation alone is not refused here.
        reason = text_unsayable(f"{value} 1", voice=voice) if voice in VOICES else None
        if reason is not None:
            return reason[0].upper() + reason[1:] + "."
    return None


def variables_resolve(
    *, declared: dict[str, dict[str, Any]], values: Any, path: str = "variables"
) -> dict[str, str]:
    """Check request values against a version's declarations; return every variable's final value."""
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise ApplicationError(VARIABLES_INVALID, fields={path: "Must be an object."})
    errors = FieldErrors()
    for name in values:
        if name not in declared:
            errors.add(
                f"{path}.{name}", "Unknown variable; this template declares: " + ", ".join(sorted(declared))
            )
    resolved: dict[str, str] = {}
    for name, decl in declared.items():
        value = values.get(name)
        if value is None or value == "":
            if decl["required"]:
                errors.add(f"{path}.{name}", REQUIRED)
                continue
            resolved[name] = decl["default"]
            continue
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            errors.add(f"{path}.{name}", "Must be text.")
            continue
        if len(value) > decl["max_length"]:
            errors.add(f"{path}.{name}", f"At most {decl['max_length']} characters (got {len(value)}).")
            continue
        if not _valid_text_value(value):
            errors.add(f"{path}.{name}", "Must not contain control characters or invalid Unicode.")
            continue
        if decl.get("type") == "image" and not (IMAGE_URL.fullmatch(value) or IMAGE_UPLOAD.fullmatch(value)):
            errors.add(f"{path}.{name}", IMAGE_VALUE)
            continue
        unsayable = _unsayable(value, decl.get("voices", ()))
        if unsayable is not None:
            errors.add(f"{path}.{name}", unsayable)
            continue
        resolved[name] = value
    if errors.fields:
        raise ApplicationError(VARIABLES_INVALID, fields=errors.fields)
    return resolved


def merge(text: str, values: dict[str, str]) -> str:
    """Replace each `{{name}}` once with its value; values are never scanned again."""
    return MERGE_FIELD.sub(lambda match: values.get(match.group(1), ""), text)


def merge_fields(text: str) -> set[str]:
    return set(MERGE_FIELD.findall(text))
