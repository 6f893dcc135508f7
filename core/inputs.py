"""The base of every API input serializer (docs/reliability.md R17): a JSON body is taken as written.

- A key the operation does not take is refused, naming it. A typo (`calback_url`) used to be dropped in
  silence, and the request did something other than what its author meant; the OpenAPI document says the
  same (`additionalProperties: false`, core.schema).
- A value of the wrong JSON type is refused, naming it: DRF would read `{"name": 0}` as the text "0" and
  `{"version": "2"}` as the number 2, which is not what the document (or the client) says.

Multipart forms carry only text, so their values are left to the fields to read.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.http import QueryDict
from rest_framework import serializers

UNKNOWN_FIELD = "Unknown field; this accepts: {fields}."
NOT_TEXT = "Not a valid string."
NOT_INTEGER = "A valid integer is required."
NOT_NUMBER = "A valid number is required."
NOT_BOOLEAN = "Must be a valid boolean."

_TEXT_FIELDS = (
    serializers.CharField,
    serializers.UUIDField,
    serializers.DateTimeField,
    serializers.DateField,
)


def _type_problem(field: serializers.Field, value: Any) -> str | None:
    """Why `value`, as JSON gave it, is not of the type `field` is documented as (None: it is, or the field
    judges for itself)."""
    if value is None:
        return None  # the field knows whether it allows null
    if isinstance(field, serializers.BooleanField):
        return None if isinstance(value, bool) else NOT_BOOLEAN
    if isinstance(field, serializers.IntegerField):
        return None if isinstance(value, int) and not isinstance(value, bool) else NOT_INTEGER
    if isinstance(field, serializers.FloatField | serializers.DecimalField):
        return None if isinstance(value, int | float) and not isinstance(value, bool) else NOT_NUMBER
    if isinstance(field, _TEXT_FIELDS):
        return None if isinstance(value, str) else NOT_TEXT
    if isinstance(field, serializers.ChoiceField) and all(isinstance(c, str) for c in field.choices):
        return None if isinstance(value, str) else NOT_TEXT
    return None


def _problems(name: str, field: serializers.Field, value: Any) -> dict[str, list[str]]:
    if isinstance(field, serializers.ListField) and isinstance(value, list):
        child = field.child
        return {
            f"{name}[{index}]": [problem]
            for index, item in enumerate(value)
            if (problem := _type_problem(child, item)) is not None
        }
    if isinstance(field, serializers.DictField) and isinstance(value, dict):
        child = field.child
        return {
            f"{name}.{key}": [problem]
            for key, item in value.items()
            if (problem := _type_problem(child, item)) is not None
        }
    problem = _type_problem(field, value)
    return {name: [problem]} if problem is not None else {}


class InputSerializer(serializers.Serializer):
    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            writable = {name: field for name, field in self.fields.items() if not field.read_only}
            unknown = [key for key in data if key not in writable]
            if unknown:
                message = UNKNOWN_FIELD.format(fields=", ".join(sorted(writable)) or "nothing")
                raise serializers.ValidationError({str(key): [message] for key in unknown})
            if not isinstance(data, QueryDict):
                problems: dict[str, list[str]] = {}
                for name, field in writable.items():
                    if name in data:
                        problems.update(_problems(name, field, data[name]))
                if problems:
                    raise serializers.ValidationError(problems)
        return super().to_internal_value(data)
