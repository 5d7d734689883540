"""Refuses a request whose path, query string or header values hold NUL, before any view.

PostgreSQL cannot store or compare NUL in ``text``: a filter (``/api/v1/reviews/?status=%00``) or
a path id (``/api/v1/tokens/%00/revoke/``) that reached a query raised a 500. Django decodes
broken UTF-8 in the path and query string to U+FFFD or percent escapes, so NUL is the one
character that can reach the database from there. Bodies are checked by ``api.parsers``.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse

from api.errors import error_body

_NUL = "\x00"
_REASON = "holds NUL (\\u0000), which cannot be stored"


class RefuseNulMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        field = self._bad_field(request)
        if field is not None:
            return JsonResponse(
                error_body("invalid", f"Invalid input: {field}: {_REASON}", {field: [_REASON]}),
                status=400,
            )
        return self.get_response(request)

    @staticmethod
    def _bad_field(request: HttpRequest) -> str | None:
        if _NUL in request.path_info:
            return "path"
        for key, values in request.GET.lists():
            if _NUL in key:
                return "query"
            if any(_NUL in v for v in values):
                return key
        for name, value in request.META.items():
            if name.startswith("HTTP_") and isinstance(value, str) and _NUL in value:
                return name[5:].replace("_", "-").title()
        return None
