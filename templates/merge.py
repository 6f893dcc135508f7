"""A recipient's values for a template version: checked against its declarations, then merged in.

Values are substituted as plain text in one pass: a value is never re-expanded, so `{{company}}` typed by a
recipient stays those eleven characters.
"""

from __future__ import annotations

from typing import Any

from adspec.vocabulary import MERGE_FIELD
from core.errors import ApplicationError
from templates.spec import REQUIRED, FieldErrors

VARIABLES_INVALID = "The variables are invalid."


def _valid_text_value(value: str) -> bool:
    # Newlines and tabs are text; other control characters are not something a name or company contains.
    return not any(ord(ch) < 32 and ch not in "\n\t" for ch in value) and "\x7f" not in value


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
            errors.add(f"{path}.{name}", "Must not contain control characters.")
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
