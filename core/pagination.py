from rest_framework import pagination


class CursorPagination(pagination.CursorPagination):
    """Lists answer `{"results": [...], "next": url|null, "previous": url|null}`, newest first, stable under inserts."""

    ordering = "-created_at"
    page_size_query_param = "page_size"
    # Bounded so one call cannot ask for a whole campaign's renders at once.
    max_page_size = 200
