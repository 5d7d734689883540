"""Refuses a request whose path, query string or header values hold NUL, before any view.

PostgreSQL cannot store or compare NUL in ``text``: a filter (``/api/v1/reviews/?status=%00``) or
a path id (``/api/v1/tokens/%00/revoke/``) that reached a query raised a 500. Django decodes
broken UTF-8 in the path and query string to U+FFFD or percent escapes, so NUL is the one
character that can reach the database from there. Bodies are checked by ``api.parsers``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

import structlog
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django_structlog.middlewares import RequestMiddleware
from python_ipware import IpWare

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


class RequestLogMiddleware(RequestMiddleware):
    """django-structlog's request middleware (a ``request_id`` and the client's address bound to
    every log line of the request), with the client's address found by one ``IpWare`` made once
    per process: django-ipware's ``get_client_ip`` builds a new one on every call (validating its
    header list and proxy settings again), which was about 5 % of a check's CPU in gunicorn. The
    address is the same: the same settings, read when the first request comes."""

    @classmethod
    def bind_ip(cls, request: HttpRequest) -> None:
        if getattr(settings, "IPWARE_ALGORITHM", None) == "legacy":
            super().bind_ip(request)
            return
        structlog.contextvars.bind_contextvars(ip=_client_ip(request.META, _ipware_strict()))


def _client_ip(meta: Mapping[Any, Any], strict: bool) -> str | None:
    """``IpWare.get_client_ip``'s address as text, remembered per distinct set of the headers
    it reads. It reads only the keys that fold (upper case, ``-`` as ``_``) to one of its
    precedence names, so those keys, in ``meta``'s order, give the same address as all of
    ``meta``; building its case-insensitive view of every key of ``meta`` was most of its cost."""
    wanted = _folded_precedence()
    read = tuple(
        (k, v)
        for k, v in meta.items()
        if isinstance(k, str) and k.upper().replace("-", "_") in wanted
    )
    if all(isinstance(v, str) for _, v in read):
        return _address_of(read, strict)
    ip, _trusted = _ipware().get_client_ip(meta, strict)
    return None if ip is None else str(ip)


@functools.lru_cache(maxsize=1024)
def _address_of(read: tuple[tuple[str, str], ...], strict: bool) -> str | None:
    ip, _trusted = _ipware().get_client_ip(dict(read), strict)
    return None if ip is None else str(ip)


@functools.cache
def _folded_precedence() -> frozenset[str]:
    return frozenset(k.upper().replace("-", "_") for k in _ipware().engine.precedence)


def _ipware_strict() -> bool:
    strict = getattr(settings, "IPWARE_STRICT", None)
    return True if strict is None else bool(strict)


@functools.cache
def _ipware() -> IpWare:
    """The ``IpWare`` that django-ipware's ``get_client_ip`` (its default, "modern" algorithm)
    would build from the settings, once."""
    order = getattr(settings, "IPWARE_META_PRECEDENCE_ORDER", None)
    return IpWare(
        precedence=None if order is None or isinstance(order, str) else tuple(order),
        leftmost=True,
        proxy_count=getattr(settings, "IPWARE_META_PROXY_COUNT", None),
        proxy_list=None,
        algorithm="modern",
    )
