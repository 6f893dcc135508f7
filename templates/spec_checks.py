"""The spec validator's building blocks: the error collector, the checks every part of a spec uses
(numbers, colours, boxes, texts, keys) and the messages they give. Used by `templates/spec.py` (formats,
variables, scenes, layers) and `templates/spec_media.py` (backgrounds, generated media, images, voice)."""

from __future__ import annotations

import math
from typing import Any, TypeGuard
from urllib.parse import urlsplit

from adspec.limits import (
    BOX_SLACK,
)
from adspec.vocabulary import (
    BRAND_COLORS,
    HEX_COLOR,
    MERGE_FIELD,
)

REQUIRED = "This field is required."
UNKNOWN_KEY = "Unknown key."
NO_SUCH_TRACK = "Must be the id of a music track uploaded to this template (POST templates/{id}/assets/)."
UNDECLARED = "Uses {{{{{name}}}}}, which is not declared in variables."
NOT_A_COLOR = f"Must be #RRGGBB or one of {', '.join(BRAND_COLORS)}."
SPEC_INVALID = "The template spec is invalid."
VIDEO_NEEDS_VIDEO_MODEL = "With video: true, the model must be a video model: {models}."
VIDEO_MODEL_NEEDS_VIDEO = '{model} makes clips: add "video": true, or name a picture model.'


class FieldErrors:
    """Messages per field path, as `ApplicationError(fields=...)` reports them."""

    def __init__(self) -> None:
        self.fields: dict[str, list[str]] = {}

    def add(self, path: str, message: str) -> None:
        self.fields.setdefault(path, []).append(message)


def is_number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def one_of(words: tuple[str, ...]) -> str:
    """`a, b, c or d`: the words of a vocabulary as an error message lists them."""
    return f"{', '.join(words[:-1])} or {words[-1]}"


def check_keys(obj: dict[str, Any], allowed: set[str], path: str, errors: FieldErrors) -> None:
    for key in obj:
        if key not in allowed:
            errors.add(f"{path}.{key}", UNKNOWN_KEY)


def check_dict(value: Any, path: str, errors: FieldErrors) -> dict[str, Any] | None:
    if not isinstance(value, dict):
        errors.add(path, "Must be an object.")
        return None
    return value


def check_number(
    obj: dict[str, Any], key: str, path: str, errors: FieldErrors, lo: float, hi: float
) -> float | None:
    value = obj.get(key)
    if not is_number(value) or not lo <= value <= hi:
        errors.add(f"{path}.{key}", f"Must be a number from {lo:g} to {hi:g}.")
        return None
    return float(value)


def check_color(value: Any, path: str, errors: FieldErrors) -> None:
    if not isinstance(value, str) or not (HEX_COLOR.fullmatch(value) or value in BRAND_COLORS):
        errors.add(path, NOT_A_COLOR)


def check_box(value: Any, path: str, errors: FieldErrors) -> None:
    if (
        not isinstance(value, list)
        or len(value) != 4
        or not all(is_number(v) and 0 <= v <= 1 for v in value)
        or value[2] <= 0
        or value[3] <= 0
        or value[0] + value[2] > 1 + BOX_SLACK
        or value[1] + value[3] > 1 + BOX_SLACK
    ):
        errors.add(
            path, "Must be [x, y, w, h], fractions of the frame, with w, h > 0 and the box inside the frame."
        )


def check_text(
    obj: dict[str, Any], key: str, path: str, errors: FieldErrors, limit: int, used: dict[str, str]
) -> None:
    value = obj.get(key)
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        errors.add(f"{path}.{key}", f"Must be a non-empty string of at most {limit} characters.")
        return
    for name in MERGE_FIELD.findall(value):
        used.setdefault(name, f"{path}.{key}")


HTTP_URL_TEMPLATE = (
    "Must be an http or https URL of at most {limit} characters, its host written out (merge fields may "
    "follow the host: https://cal.example.com/{{{{rep}}}})."
)


def check_http_url_template(
    value: Any, path: str, errors: FieldErrors, limit: int, used: dict[str, str]
) -> None:
    """An absolute http(s) URL that may hold `{{merge fields}}` after its host, never in the scheme or host: a
    recipient's value can change the path or the query, never where the link goes (merged values are
    percent-encoded by whoever fills them in, `render/watch/selectors.py`)."""
    if not isinstance(value, str) or not value or len(value) > limit or any(c.isspace() for c in value):
        errors.add(path, HTTP_URL_TEMPLATE.format(limit=limit))
        return
    try:
        parts = urlsplit(value)
    except ValueError:
        errors.add(path, HTTP_URL_TEMPLATE.format(limit=limit))
        return
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or "{" in parts.netloc
        or "}" in parts.netloc
    ):
        errors.add(path, HTTP_URL_TEMPLATE.format(limit=limit))
        return
    for name in MERGE_FIELD.findall(value):
        used.setdefault(name, path)
