"""Request bodies read at the edge, so nothing behind the API sees input it cannot store or answer
(docs/reliability.md R17).

JSON bodies: at most `DATA_UPLOAD_MAX_MEMORY_SIZE` bytes (413 beyond), UTF-8, nested at most
`MAX_JSON_DEPTH` deep (measured on the text before it is parsed, so a body nested 100,000 deep costs one
linear scan, never the parser's recursion), integers within 64 bits (what every integer column holds),
finite numbers (`NaN` and `1e999` have no JSON answer), and no string or key holding NUL or an unpaired
surrogate (`core.text`). A problem is a 400 naming the path it was found at (`variables.first_name`,
`spec.scenes[0].layers[1].text`), in the one error shape; a syntax error names its line and column.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from itertools import accumulate
from typing import IO, Any

from django.conf import settings
from django.http.multipartparser import MultiPartParserError
from rest_framework import exceptions, parsers

from core.errors import ApplicationError, PayloadTooLargeError
from core.text import text_problem

# Deeper than any document Reelsmith reads (a spec is about 7 levels: spec.scenes[0].layers[0].box[0]),
# and far below the interpreter's recursion limit (1,000), which the parser and json.dumps both use.
MAX_JSON_DEPTH = 64
# 64-bit signed: what PostgreSQL's bigint and SQLite's INTEGER hold.
MAX_INT = 2**63 - 1
MIN_INT = -(2**63)
# At most this many problems are listed in one answer (a body full of NULs needs only a few to be fixed).
MAX_REPORTED = 20

BODY = "body"
TOO_LARGE = "The request body is larger than {limit} bytes."
NOT_UTF8 = "The body must be UTF-8 encoded JSON."
MALFORMED = "Malformed JSON: {reason} at line {line}, column {column}."
TOO_DEEP = f"JSON nested deeper than {MAX_JSON_DEPTH} levels is not accepted."
BAD_INPUT = "The request body contains values that cannot be accepted."
INT_RANGE = "Integers must be between -2^63 and 2^63-1."
NOT_FINITE = "Numbers must be finite (no NaN or Infinity)."
BAD_KEY = "A key here {problem}"
BAD_MULTIPART = "The multipart body is malformed."

_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
# +1 for an opening bracket, -1 for a closing one, indexed by byte value.
_DEPTH_STEP = tuple(1 if b in b"[{" else -1 if b in b"]}" else 0 for b in range(256))


class _Refused:
    """Stands in for a number the parser must not hand on; the walk reports it at its path."""

    def __init__(self, reason: str) -> None:
        self.reason = reason


def _parse_int(text: str) -> int | _Refused:
    # Python refuses to convert more than 4,300 digits at all; anything over 19 is out of range anyway.
    if len(text.lstrip("-")) > 19:
        return _Refused(INT_RANGE)
    value = int(text)
    return value if MIN_INT <= value <= MAX_INT else _Refused(INT_RANGE)


def _parse_float(text: str) -> float | _Refused:
    value = float(text)
    return value if math.isfinite(value) else _Refused(NOT_FINITE)


def _parse_constant(_text: str) -> _Refused:
    return _Refused(NOT_FINITE)


def json_depth(text: str) -> int:
    """How deep the brackets of `text` nest, strings skipped; one pass, no recursion."""
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    if len(brackets) <= MAX_JSON_DEPTH:
        return len(brackets)  # an upper bound, and already small enough
    return max(accumulate(map(_DEPTH_STEP.__getitem__, brackets.encode("ascii"))), default=0)


def _child_path(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def json_problems(value: Any) -> dict[str, list[str]]:
    """Every path holding something `json_parse` refuses (at most MAX_REPORTED), walked without recursion."""
    problems: dict[str, list[str]] = {}
    stack: list[tuple[Any, str]] = [(value, "")]
    while stack and len(problems) < MAX_REPORTED:
        item, path = stack.pop()
        if isinstance(item, _Refused):
            problems.setdefault(path or BODY, []).append(item.reason)
        elif isinstance(item, str):
            problem = text_problem(item)
            if problem is not None:
                problems.setdefault(path or BODY, []).append(problem)
        elif isinstance(item, dict):
            for key, child in reversed(item.items()):
                problem = text_problem(key)
                if problem is not None:
                    # The key itself cannot be echoed back (it may not even encode): name its parent.
                    problems.setdefault(path or BODY, []).append(BAD_KEY.format(problem=problem.lower()))
                    continue
                stack.append((child, _child_path(path, key)))
        elif isinstance(item, list):
            stack.extend(
                (child, _child_path(path, index)) for index, child in reversed(list(enumerate(item)))
            )
    return problems


def json_parse(raw: bytes) -> Any:
    """Parse a JSON body under the rules above; ApplicationError (400) naming the path otherwise."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ApplicationError(NOT_UTF8, fields={BODY: NOT_UTF8}) from None
    if json_depth(text) > MAX_JSON_DEPTH:
        raise ApplicationError(TOO_DEEP, fields={BODY: TOO_DEEP})
    try:
        value = json.loads(
            text, parse_int=_parse_int, parse_float=_parse_float, parse_constant=_parse_constant
        )
    except json.JSONDecodeError as exc:
        message = MALFORMED.format(reason=exc.msg, line=exc.lineno, column=exc.colno)
        raise ApplicationError(message, fields={BODY: message}) from None
    problems = json_problems(value)
    if problems:
        raise ApplicationError(BAD_INPUT, fields=problems)
    return value


def body_read(stream: IO[bytes]) -> bytes:
    """At most the configured body size; 413 beyond it (read one byte past the limit to know)."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    raw = stream.read(limit + 1)
    if len(raw) > limit:
        raise PayloadTooLargeError(TOO_LARGE.format(limit=limit))
    return raw


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser with the limits above."""

    def parse(
        self, stream: Any, media_type: str | None = None, parser_context: Mapping[str, Any] | None = None
    ) -> Any:
        return json_parse(body_read(stream))


class MultiPartParser(parsers.MultiPartParser):
    """DRF's multipart parser, answering a malformed body in the one error shape (not Django's wording)."""

    def parse(
        self, stream: Any, media_type: str | None = None, parser_context: Mapping[str, Any] | None = None
    ) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except exceptions.ParseError as exc:
            if isinstance(exc.__cause__ or exc.__context__, MultiPartParserError):
                raise ApplicationError(BAD_MULTIPART, fields={BODY: BAD_MULTIPART}) from None
            raise
