"""Which error answers a request Django itself fails (no view, a 404 or 403 raised outside
DRF, a CSRF failure): a browser on one of the pages (it asks for ``text/html``, outside
``/api/`` and ``/ledger/``) gets the pages' HTML (web/errors.py); everyone else the service's
one JSON error body (api/errors.py), as before the pages existed."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from api import errors as api_errors
from web import errors as web_errors

MACHINE_PREFIXES = ("/api/", "/ledger/", "/healthz", "/readyz")


def for_pages(request: HttpRequest) -> bool:
    accepts = request.headers.get("Accept", "")
    return "text/html" in accepts and not request.path.startswith(MACHINE_PREFIXES)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if for_pages(request):
        return web_errors.bad_request(request, exception)
    return api_errors.bad_request(request, exception)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if for_pages(request):
        return web_errors.permission_denied(request, exception)
    return api_errors.permission_denied(request, exception)


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if for_pages(request):
        return web_errors.page_not_found(request, exception)
    return api_errors.page_not_found(request, exception)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    if for_pages(request):
        return web_errors.csrf_failure(request, reason)
    return api_errors.csrf_failure(request, reason)
