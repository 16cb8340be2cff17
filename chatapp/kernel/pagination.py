"""Cursor pagination for growing collections: stable while rows are added, no COUNT on large tables."""

from django.conf import settings
from rest_framework import exceptions, pagination


class CursorPagination(pagination.CursorPagination):
    """Newest first by primary key (unique and monotonic, so pages never repeat or skip a row).

    A page size above the maximum and a cursor that does not decode are the client's mistakes: 400 with the
    reason, not a silently smaller page or a 404.
    """

    ordering = "-id"
    page_size = settings.API_PAGE_SIZE
    page_size_query_param = "page_size"
    max_page_size = settings.API_MAX_PAGE_SIZE
    invalid_cursor_message = "The cursor is invalid or expired; start again from the first page."

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        try:
            size = int(raw)
        except ValueError:
            raise exceptions.ValidationError({"page_size": ["Must be a whole number."]}) from None
        if not 1 <= size <= self.max_page_size:
            raise exceptions.ValidationError({"page_size": [f"Must be between 1 and {self.max_page_size}."]})
        return size

    def decode_cursor(self, request):
        try:
            return super().decode_cursor(request)
        except exceptions.NotFound:
            raise exceptions.ValidationError({"cursor": [self.invalid_cursor_message]}) from None
