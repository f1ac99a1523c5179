"""Cursor pagination whose cursors are checked before they reach SQL."""

from django.core.exceptions import ValidationError
from rest_framework.exceptions import NotFound
from rest_framework.pagination import CursorPagination


class CheckedCursorPagination(CursorPagination):
    """A cursor whose position is not a value of the ordering field is a 404.

    A cursor is client input: its position goes into a ``WHERE`` clause, so a
    position that is not a date for a date ordering (or that holds a NUL,
    which PostgreSQL refuses in text) would otherwise end in a 500.
    """

    def paginate_queryset(self, queryset, request, view=None):
        self.model = queryset.model
        return super().paginate_queryset(queryset, request, view)

    def decode_cursor(self, request):
        cursor = super().decode_cursor(request)
        if cursor is None or cursor.position is None:
            return cursor
        name = self.ordering[0].lstrip("-")
        field = self.model._meta.get_field(name)
        try:
            if "\x00" in cursor.position:
                raise ValidationError("NUL in a cursor position")
            field.to_python(cursor.position)
        except ValidationError:
            raise NotFound(self.invalid_cursor_message)
        return cursor


class JobCursorPagination(CheckedCursorPagination):
    """Newest first, without counting the whole table."""

    ordering = "-created_at"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
