"""Every list answers `{"results": [...], "next": url|null, "previous": url|null}`, newest first, in cursor pages
(docs/api.md "Lists")."""

from __future__ import annotations

from typing import Any

from django.utils.dateparse import parse_datetime
from rest_framework import exceptions, pagination
from rest_framework.request import Request

INVALID_CURSOR = "Invalid cursor; follow `next` or `previous` as they were given."
# Bounded so one call cannot ask for a whole campaign's renders at once.
MAX_PAGE_SIZE = 200
INVALID_PAGE_SIZE = f"A whole number from 1 to {MAX_PAGE_SIZE}."


def _position_valid(position: str) -> bool:
    """A cursor's position is the `created_at` of the page's edge row, as `str(datetime)` wrote it."""
    try:
        moment = parse_datetime(position)
    except ValueError:  # the shape of a datetime with impossible values (month 13)
        return False
    return moment is not None and moment.tzinfo is not None


class CursorPagination(pagination.CursorPagination):
    """Stable under inserts. A cursor that was not handed out (edited, truncated, made up) is a 400 naming
    `cursor`, never a 500, and so is a `page_size` outside 1-200 (it is not silently replaced by another
    size: docs/reliability.md R17)."""

    ordering = "-created_at"
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE

    def get_page_size(self, request: Request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return int(self.page_size or 50)
        if not (raw.isascii() and raw.isdigit() and len(raw) <= 3 and 1 <= int(raw) <= MAX_PAGE_SIZE):
            raise exceptions.ValidationError({self.page_size_query_param: [INVALID_PAGE_SIZE]})
        return int(raw)

    def decode_cursor(self, request: Request) -> pagination.Cursor | None:
        try:
            cursor = super().decode_cursor(request)
        except exceptions.NotFound:
            raise exceptions.ValidationError({self.cursor_query_param: [INVALID_CURSOR]}) from None
        if cursor is not None and cursor.position is not None and not _position_valid(str(cursor.position)):
            raise exceptions.ValidationError({self.cursor_query_param: [INVALID_CURSOR]})
        return cursor

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters: list[dict[str, Any]] = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"] = {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE}
        return parameters

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        """All three keys are always there; `next`/`previous` are null at either end."""
        described: dict[str, Any] = super().get_paginated_response_schema(schema)
        described["required"] = ["results", "next", "previous"]
        return described
