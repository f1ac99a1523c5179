from rest_framework.pagination import CursorPagination


class JobCursorPagination(CursorPagination):
    """Newest first, without counting the whole table."""

    ordering = "-created_at"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
