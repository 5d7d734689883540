from __future__ import annotations

from rest_framework.exceptions import NotFound
from rest_framework.pagination import Cursor, CursorPagination, PageNumberPagination
from rest_framework.request import Request

from governance.exceptions import InvalidInput


class Pagination(PageNumberPagination):
    """``?page=N&page_size=M`` (at most 1,000), with ``count``, ``next`` and ``previous``."""

    page_size_query_param = "page_size"
    max_page_size = 1000


class ItemCursorPagination(CursorPagination):
    """A request's items in item order, ``?cursor=`` (opaque, from ``next``) and
    ``?page_size=`` (at most 1,000, the default). A cursor this API did not give is a 400
    naming ``cursor``."""

    ordering = "position"
    page_size = 1000
    page_size_query_param = "page_size"
    max_page_size = 1000

    def decode_cursor(self, request: Request) -> Cursor | None:
        try:
            return super().decode_cursor(request)
        except NotFound:
            raise InvalidInput.field("cursor", "not a cursor this API gave") from None
