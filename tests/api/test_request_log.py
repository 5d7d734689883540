"""The request log's client address (``api.middleware.RequestLogMiddleware``) is the one
django-ipware's ``get_client_ip`` finds, though its ``IpWare`` is made once per process."""

from __future__ import annotations

import pytest
import structlog
from django.test import RequestFactory
from ipware import get_client_ip

from api.middleware import RequestLogMiddleware

HEADERS = [
    {},
    {"REMOTE_ADDR": "10.1.2.3"},
    {"REMOTE_ADDR": "81.2.69.160"},
    {"HTTP_X_FORWARDED_FOR": "8.8.8.8, 10.0.0.1", "REMOTE_ADDR": "10.0.0.2"},
    {"HTTP_X_FORWARDED_FOR": "not an address", "REMOTE_ADDR": "127.0.0.1"},
    {"HTTP_X_REAL_IP": "1.2.3.4", "REMOTE_ADDR": "127.0.0.1"},
    {"HTTP_FORWARDED": "for=192.0.2.60;proto=http", "REMOTE_ADDR": "127.0.0.1"},
    {"HTTP_X_FORWARDED_FOR": "2001:db8::1", "REMOTE_ADDR": "::1"},
    {"REMOTE_ADDR": ""},
]


@pytest.mark.parametrize("meta", HEADERS)
def test_the_logged_address_is_ipwares(meta: dict[str, str]) -> None:
    request = RequestFactory().get("/api/v1/checks/", **meta)
    expected, _ = get_client_ip(request)
    structlog.contextvars.clear_contextvars()
    try:
        RequestLogMiddleware.bind_ip(request)
        assert structlog.contextvars.get_contextvars()["ip"] == expected
    finally:
        structlog.contextvars.clear_contextvars()


ODD_HEADERS = [
    {"x-forwarded-for": "8.8.4.4", "REMOTE_ADDR": "127.0.0.1"},
    {"HTTP_X_FORWARDED_FOR": "10.0.0.9", "HTTP-X-FORWARDED-FOR": "9.9.9.9", "REMOTE_ADDR": "::1"},
    {"HTTP_X_REAL_IP": b"1.2.3.4", "REMOTE_ADDR": "127.0.0.1"},
    {"HTTP_X_FORWARDED_FOR": "  ", "REMOTE_ADDR": "203.0.113.7"},
]


@pytest.mark.parametrize("meta", HEADERS + ODD_HEADERS)
def test_the_remembered_address_is_ipwares_for_any_meta(meta: dict[str, object]) -> None:
    """The address is remembered per set of the headers ipware reads; it is ipware's own for
    the whole META, lowercase and dashed spellings included, asked once or again."""
    request = RequestFactory().get("/api/v1/checks/")
    request.META.update(meta)
    expected, _ = get_client_ip(request)
    for _ in range(2):
        structlog.contextvars.clear_contextvars()
        try:
            RequestLogMiddleware.bind_ip(request)
            got = structlog.contextvars.get_contextvars()["ip"]
        finally:
            structlog.contextvars.clear_contextvars()
        assert got == (None if expected is None else str(expected))
