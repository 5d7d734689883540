"""One error body for every error the service answers, Django's own included::

    {"code": "not_found", "message": "No party with that id.", "fields": {}}
    {"code": "invalid", "message": "Invalid input.", "fields": {"role": ["must be one of ..."]}}

``code`` is stable and machine-readable; ``message`` is for people; ``fields`` names each bad
input field with its reasons (nested objects use dotted paths, list items their index).

``message`` is in the request's language (:mod:`api.language`: ``?lang=fr`` or
``Accept-Language: fr``). In French it is a French sentence chosen by ``code`` (the services
word their own messages in English, so a French reader never gets a mixed sentence); for
``invalid`` it names the fields, whose reasons from DRF's validators come in French through
Django's translations::

    {"code": "not_found", "message": "Introuvable, ou vous n’y avez pas accès.", "fields": {}}
"""

# French is written with the typographic apostrophe (U+2019), which RUF001/2 take for a typo.
# ruff: noqa: RUF001, RUF002

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils import translation
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from governance.exceptions import GovernanceError
from ledger.exceptions import LedgerError

DRF_CODES = {
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "throttled",
    exceptions.ParseError: "parse_error",
    exceptions.ValidationError: "invalid",
}


_NB = "\u00a0"  # French puts a no-break space before : and ;
FRENCH_MESSAGES: dict[str, str] = {
    "not_found": "Introuvable, ou vous n’y avez pas accès.",
    "permission_denied": "Vous n’avez pas le droit de faire cela.",
    "not_authenticated": "Identifiez-vous pour accéder à cette ressource.",
    "authentication_failed": "Identification refusée.",
    "method_not_allowed": "Méthode non autorisée ici.",
    "not_acceptable": "Aucun format de réponse acceptable.",
    "unsupported_media_type": "Type de contenu non pris en charge.",
    "throttled": f"Trop de requêtes{_NB}; réessayez plus tard.",
    "parse_error": "Corps de requête illisible.",
    "invalid": "Données invalides.",
    "conflict": "Cette demande contredit l’état actuel.",
    "too_large": "Envoi trop volumineux.",
    "invalid_range": "Index ou plage hors du journal signé.",
    "ledger_tampered": "Le journal a été modifié hors de ses règles d’ajout seul"
    f"{_NB}: rien n’est signé avant l’examen d’un opérateur.",
    "bad_request": "Requête invalide.",
    "server_error": f"Le serveur a échoué{_NB}; l’erreur est journalisée.",
    "csrf_failed": "Le contrôle CSRF a échoué.",
}
"""``message`` in French, by ``code``; a code not listed gets :data:`FRENCH_FALLBACK`."""

FRENCH_FALLBACK = "La requête a échoué (voir le code)."


def _french(code: str, fields: dict[str, list[str]]) -> str:
    message = FRENCH_MESSAGES.get(code, FRENCH_FALLBACK)
    if fields and code == "invalid":
        names = ", ".join(sorted(fields))
        noun = "le champ" if len(fields) == 1 else "les champs"
        return f"Données invalides{_NB}: voir {noun} {names}."
    return message


def error_body(
    code: str, message: str, fields: dict[str, list[str]] | None = None
) -> dict[str, Any]:
    """The error body, its ``message`` in the active language (English unless French is)."""
    fields = fields or {}
    if (translation.get_language() or "en").startswith("fr"):
        message = _french(code, fields)
    return {"code": code, "message": message, "fields": fields}


def flatten_fields(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested validation detail as ``{"a.b.0.c": ["reason", ...]}``."""
    out: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            if key == "non_field_errors" and not prefix:
                name = "non_field_errors"
            out.update(flatten_fields(value, name))
    elif (
        isinstance(detail, list) and detail and all(not isinstance(d, dict | list) for d in detail)
    ):
        out[prefix or "non_field_errors"] = [str(d) for d in detail]
    elif isinstance(detail, list):
        for i, value in enumerate(detail):
            if value:
                out.update(flatten_fields(value, f"{prefix}.{i}" if prefix else str(i)))
    else:
        out[prefix or "non_field_errors"] = [str(detail)]
    return out


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, GovernanceError | LedgerError):
        return Response(error_body(exc.code, exc.message, exc.fields), status=exc.status)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # unexpected errors reach Django's handler500 below, and are logged
    assert isinstance(exc, exceptions.APIException)
    code = next((c for cls, c in DRF_CODES.items() if isinstance(exc, cls)), exc.default_code)
    if isinstance(exc, exceptions.ValidationError):
        fields = flatten_fields(exc.detail)
        message = "Invalid input: " + "; ".join(f"{k}: {' '.join(v)}" for k, v in fields.items())
        response.data = error_body(code, message, fields)
    else:
        detail = exc.detail
        message = str(detail) if not isinstance(detail, dict | list) else str(exc.default_detail)
        # An error that says where (api.parsers.BodyParseError) carries its own fields.
        response.data = error_body(code, message, getattr(exc, "fields", None))
    return response


def _json(code: str, message: str, status_code: int) -> JsonResponse:
    return JsonResponse(error_body(code, message), status=status_code)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _json("bad_request", "Bad request.", status.HTTP_400_BAD_REQUEST)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _json("permission_denied", "You may not do that.", status.HTTP_403_FORBIDDEN)


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _json("not_found", f"Nothing at {request.path}.", status.HTTP_404_NOT_FOUND)


def server_error(request: HttpRequest) -> HttpResponse:
    return _json(
        "server_error",
        "The server failed; the error is logged.",
        status.HTTP_500_INTERNAL_SERVER_ERROR,
    )


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    return _json("csrf_failed", f"CSRF check failed: {reason}", status.HTTP_403_FORBIDDEN)
