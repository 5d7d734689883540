"""The language a response is written in: English or French, as the API's explanations and
error bodies are (DESIGN.md, Web: English and French).

Chosen per request, in this order: the ``lang`` query parameter when it names a supported
language (``?lang=fr``); else the language cookie the pages' language switch sets (Django's
``set_language``, ``LANGUAGE_COOKIE_NAME``); else the first supported language of
``Accept-Language`` by quality (``fr-CA, en;q=0.5`` is French); else English. The pages (web/)
are translated by this middleware too, rather than by Django's ``LocaleMiddleware``, so one
rule chooses the language of the API and of the pages. :class:`LanguageMiddleware` activates
it for the whole request, so Django's and DRF's own messages (validation errors) come in it
too, and says which it was in ``Content-Language``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import translation
from django.utils.translation.trans_real import parse_accept_lang_header

SUPPORTED: Final = ("en", "fr")
DEFAULT: Final = "en"


def request_language(request: HttpRequest) -> str:
    """``en`` or ``fr`` for ``request`` (see the module docstring)."""
    asked = request.GET.get("lang", "").strip().lower()
    if asked in SUPPORTED:
        return asked
    cookie = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME, "").strip().lower()
    if cookie in SUPPORTED:
        return cookie
    for code, _quality in parse_accept_lang_header(request.META.get("HTTP_ACCEPT_LANGUAGE", "")):
        base = code.split("-")[0].lower()
        if base in SUPPORTED:
            return base
    return DEFAULT


class LanguageMiddleware:
    """Activates the request's language around the view and the error handlers."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        language = request_language(request)
        with translation.override(language):
            response = self.get_response(request)
        response.headers.setdefault("Content-Language", language)
        return response
